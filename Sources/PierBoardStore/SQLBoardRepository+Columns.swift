import Foundation
import PierCore

extension SQLBoardRepository {
    /// The most columns a board may have.
    public static let maxColumns = 20

    public func column(id: String) async throws -> (boardID: String, column: BoardColumn)? {
        guard
            let row = try await database.query(
                "SELECT id, board_id, name, position, is_done FROM board_columns WHERE id = $1", [.text(id)]
            ).first
        else { return nil }
        return (try row.text("board_id"), try Self.decodeColumn(row))
    }

    static func decodeColumn(_ row: SQLRow) throws -> BoardColumn {
        BoardColumn(
            id: try row.text("id"), name: try row.text("name"), position: Int(try row.int("position")),
            isDone: try row.bool("is_done"))
    }

    /// Locks the board row for a change of its columns or members (PostgreSQL; SQLite runs one writer at a time).
    /// `FOR NO KEY UPDATE`: such changes wait for each other, while tasks, whose foreign key takes only `KEY SHARE`
    /// on the board, are still created meanwhile.
    static func lockBoard(_ db: any SQLDatabase, _ boardID: String) async throws {
        let lock = db.dialect == .postgres ? " FOR NO KEY UPDATE" : ""
        guard !(try await db.query("SELECT id FROM boards WHERE id = $1" + lock, [.text(boardID)]).isEmpty) else {
            throw StoreError.notFound("board")
        }
    }

    /// The board's columns in order, with the board row locked (``lockBoard(_:_:)``), so column changes of one
    /// board happen one after another.
    static func lockedColumns(_ db: any SQLDatabase, boardID: String) async throws -> [BoardColumn] {
        try await lockBoard(db, boardID)
        return try await db.query(
            "SELECT id, name, position, is_done FROM board_columns WHERE board_id = $1 ORDER BY position, id",
            [.text(boardID)]
        ).map(decodeColumn)
    }

    /// The board of column `id` and all its columns (locked as ``lockedColumns(_:boardID:)``), with the index of
    /// that column among them.
    static func lockedColumns(_ db: any SQLDatabase, ofColumn id: String) async throws -> (
        boardID: String, columns: [BoardColumn], index: Int
    ) {
        guard
            let boardID = try await db.query("SELECT board_id FROM board_columns WHERE id = $1", [.text(id)])
                .first?.text("board_id")
        else { throw StoreError.notFound("column") }
        let columns = try await lockedColumns(db, boardID: boardID)
        guard let index = columns.firstIndex(where: { $0.id == id }) else { throw StoreError.notFound("column") }
        return (boardID, columns, index)
    }

    /// Writes positions 0, 1, 2 … in the given order, where they differ.
    static func renumber(_ db: any SQLDatabase, _ columns: [BoardColumn]) async throws {
        for (index, column) in columns.enumerated() where column.position != index {
            try await db.query(
                "UPDATE board_columns SET position = $1 WHERE id = $2", [.integer(Int64(index)), .text(column.id)])
        }
    }

    static func requireUniqueName(_ name: String, among columns: [BoardColumn], except id: String? = nil) throws {
        if columns.contains(where: { $0.id != id && $0.name.lowercased() == name.lowercased() }) {
            throw StoreError.duplicate("this board already has a column named \"\(name)\"")
        }
    }

    public func addColumn(boardID: String, name: String, isDone: Bool, actorID: String) async throws -> BoardColumn {
        let now = clock()
        let ids = self.ids
        return try await write(now: now) { db, recorder in
            let columns = try await Self.lockedColumns(db, boardID: boardID)
            guard columns.count < Self.maxColumns else {
                throw StoreError.refused("too_many_columns", "a board has at most \(Self.maxColumns) columns")
            }
            try Self.requireUniqueName(name, among: columns)
            try await Self.renumber(db, columns)
            let column = BoardColumn(id: ids.next(now: now), name: name, position: columns.count, isDone: isDone)
            try await db.query(
                "INSERT INTO board_columns (id, board_id, name, position, is_done) VALUES ($1, $2, $3, $4, $5)",
                [.text(column.id), .text(boardID), .text(name), .integer(Int64(column.position)), .bool(isDone)])
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("column.added", field: "column", new: name)
            change.live(.columnCreated, .column(id: column.id))
            try await recorder.record(db, change)
            return column
        }
    }

    public func updateColumn(id: String, changes: ColumnChanges, actorID: String) async throws -> BoardColumn {
        let now = clock()
        return try await write(now: now) { db, recorder in
            let (boardID, found, index) = try await Self.lockedColumns(db, ofColumn: id)
            var columns = found
            var column = columns[index]
            var change = Change(boardID: boardID, actorID: actorID)
            func audit(_ field: String, _ old: String, _ new: String) {
                change.audit("column.changed", field: field, old: old, new: new)
            }
            if let name = changes.name, name != column.name {
                try Self.requireUniqueName(name, among: columns, except: id)
                try await db.query("UPDATE board_columns SET name = $1 WHERE id = $2", [.text(name), .text(id)])
                audit("name", column.name, name)
                column.name = name
            }
            if let isDone = changes.isDone, isDone != column.isDone {
                try await db.query("UPDATE board_columns SET is_done = $1 WHERE id = $2", [.bool(isDone), .text(id)])
                audit("is_done", String(column.isDone), String(isDone))
                column.isDone = isDone
            }
            columns.remove(at: index)
            let target = min(max(changes.position ?? index, 0), columns.count)
            columns.insert(column, at: target)
            try await Self.renumber(db, columns)
            if target != index { audit("position", String(index), String(target)) }
            column.position = target
            if !change.audit.isEmpty {
                change.live(.columnUpdated, .column(id: id))
                try await recorder.record(db, change)
            }
            return column
        }
    }

    public func deleteColumn(id: String, actorID: String) async throws {
        let now = clock()
        try await write(now: now) { db, recorder in
            let (boardID, found, index) = try await Self.lockedColumns(db, ofColumn: id)
            var columns = found
            guard columns.count > 1 else {
                throw StoreError.refused("last_column", "a board needs at least one column")
            }
            // A task created or moved into this column locks its row first (lockColumns): wait for it, then count.
            try await Self.lockColumns(db, [id])
            let tasks = try await Self.count(db, "SELECT COUNT(*) AS n FROM tasks WHERE column_id = $1", [.text(id)])
            if tasks > 0 {
                throw StoreError.refused(
                    "column_not_empty", "\(tasks) task(s) are in this column: move or delete them first")
            }
            let removed = columns.remove(at: index)
            try await db.query("DELETE FROM board_columns WHERE id = $1", [.text(id)])
            try await Self.renumber(db, columns)
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("column.removed", field: "column", old: removed.name)
            change.live(.columnDeleted, .column(id: id))
            try await recorder.record(db, change)
        }
    }
}
