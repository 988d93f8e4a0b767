import Foundation
import PierCore

extension SQLBoardRepository {
    static let taskColumnsOfT = prefixed(taskColumns, "t")

    /// `a, b` → `t.a, t.b`, for joins.
    static func prefixed(_ columns: String, _ alias: String) -> String {
        columns.split(separator: ",").map { alias + "." + $0.trimmingCharacters(in: .whitespaces) }.joined(
            separator: ", ")
    }

    static let taskColumns =
        "id, board_id, column_id, title, content, assignee_id, due_at, due_tz, position, version, created_by, created_at, updated_at"

    static func decodeTask(_ row: SQLRow, labels: [String]) throws -> BoardTask {
        BoardTask(
            id: try row.text("id"),
            boardID: try row.text("board_id"),
            columnID: try row.text("column_id"),
            title: try row.text("title"),
            content: try row.text("content"),
            assigneeID: try row.optionalText("assignee_id"),
            dueAt: try row.optionalInt("due_at"),
            dueTimeZone: try row.optionalText("due_tz"),
            labels: labels,
            position: try row.double("position"),
            version: try row.int("version"),
            createdBy: try row.text("created_by"),
            createdAt: try row.int("created_at"),
            updatedAt: try row.int("updated_at")
        )
    }

    static func loadTask(_ db: any SQLDatabase, id: String, lock: Bool = false) async throws -> BoardTask? {
        let suffix = lock && db.dialect == .postgres ? " FOR UPDATE" : ""
        guard let row = try await db.query("SELECT \(taskColumns) FROM tasks WHERE id = $1\(suffix)", [.text(id)]).first
        else { return nil }
        // Sorted in Swift: database collations order labels differently from Swift's comparison.
        let labels = try await db.query("SELECT label FROM task_labels WHERE task_id = $1", [.text(id)])
            .map { try $0.text("label") }.sorted()
        return try decodeTask(row, labels: labels)
    }

    public func task(id: String) async throws -> BoardTask? {
        try await Self.loadTask(database, id: id)
    }

    public func createTask(boardID: String, _ new: NewTask, actorID: String) async throws -> BoardTask {
        let now = clock()
        let ids = self.ids
        let taskID = ids.next(now: now)
        return try await write(now: now) { db, recorder in
            let columns = try await db.query(
                "SELECT id FROM board_columns WHERE board_id = $1 ORDER BY position", [.text(boardID)]
            )
            .map { try $0.text("id") }
            guard let firstColumn = columns.first else { throw StoreError.notFound("board") }
            let columnID = new.columnID ?? firstColumn
            guard columns.contains(columnID) else { throw StoreError.invalid("the column is not on this board") }
            try await Self.lockColumns(db, [columnID])
            if let assigneeID = new.assigneeID {
                try await Self.requireMember(db, boardID: boardID, userID: assigneeID)
            }
            let last = try await db.query(
                "SELECT MAX(position) AS p FROM tasks WHERE column_id = $1", [.text(columnID)]
            ).first
            let position = (try? last?.double("p")).map { $0 + 1024 } ?? 1024
            try await db.query(
                """
                INSERT INTO tasks (id, board_id, column_id, title, content, assignee_id, due_at, due_tz, position, version, created_by, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $11)
                """,
                [
                    .text(taskID), .text(boardID), .text(columnID), .text(new.title), .text(new.content),
                    new.assigneeID.sql, new.dueAt.sql,
                    new.dueTimeZone.sql, .double(position), .text(actorID), .integer(now),
                ]
            )
            let labels = Array(Set(new.labels)).sorted()
            for label in labels {
                try await db.query(
                    "INSERT INTO task_labels (task_id, label) VALUES ($1, $2)", [.text(taskID), .text(label)])
            }
            var change = Change(boardID: boardID, taskID: taskID, actorID: actorID)
            change.audit("task.created", field: "title", new: new.title)
            change.transition = (from: nil, to: columnID)
            if let assigneeID = new.assigneeID {
                change.notify(
                    "task.assigned", key: "task.assigned:\(taskID):1",
                    payload: [
                        "task_id": taskID, "board_id": boardID, "assignee_id": assigneeID, "actor_id": actorID,
                        "title": new.title,
                    ])
            }
            change.live(.taskCreated, .task(id: taskID, version: 1))
            try await recorder.record(db, change)
            return BoardTask(
                id: taskID, boardID: boardID, columnID: columnID, title: new.title, content: new.content,
                assigneeID: new.assigneeID,
                dueAt: new.dueAt, dueTimeZone: new.dueTimeZone, labels: labels, position: position, version: 1,
                createdBy: actorID,
                createdAt: now, updatedAt: now
            )
        }
    }

    public func tasks(boardID: String, query: TaskQuery) async throws -> TaskPage {
        var conditions = ["t.board_id = $1"]
        var binds: [SQLValue] = [.text(boardID)]
        func bind(_ value: SQLValue) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let assignee = query.assigneeID { conditions.append("t.assignee_id = \(bind(.text(assignee)))") }
        if let column = query.columnID { conditions.append("t.column_id = \(bind(.text(column)))") }
        if let label = query.label {
            conditions.append(
                "EXISTS (SELECT 1 FROM task_labels l WHERE l.task_id = t.id AND l.label = \(bind(.text(label))))")
        }
        if let text = query.text, !text.isEmpty {
            let pattern =
                "%"
                + text.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                    of: "%", with: "\\%"
                )
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            let marker = bind(.text(pattern))
            conditions.append(
                "(LOWER(t.title) LIKE \(marker) ESCAPE '\\' OR LOWER(t.content) LIKE \(marker) ESCAPE '\\')")
        }
        if let dueBefore = query.dueBefore {
            conditions.append("t.due_at IS NOT NULL AND t.due_at < \(bind(.integer(dueBefore)))")
        }
        if query.overdue {
            conditions.append(
                "t.due_at IS NOT NULL AND t.due_at < \(bind(.integer(query.now))) AND c.is_done = \(bind(.bool(false)))"
            )
        }
        if let cursor = query.cursor {
            guard let decoded = TaskCursor(cursor) else { throw StoreError.invalid("the cursor is not valid") }
            let columnPosition = bind(.integer(decoded.columnPosition))
            let position = bind(.double(decoded.position))
            let id = bind(.text(decoded.id))
            conditions.append(
                "(c.position > \(columnPosition) OR (c.position = \(columnPosition) AND (t.position > \(position) OR (t.position = \(position) AND t.id > \(id)))))"
            )
        }
        let limit = max(1, min(query.limit, 500))
        let sql = """
            SELECT \(Self.taskColumnsOfT), c.position AS column_position
            FROM tasks t JOIN board_columns c ON c.id = t.column_id
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY c.position, t.position, t.id
            LIMIT \(limit + 1)
            """
        let rows = try await database.query(sql, binds)
        let pageRows = rows.prefix(limit)
        var labelsByTask: [String: [String]] = [:]
        let taskIDs = try pageRows.map { try $0.text("id") }
        if !taskIDs.isEmpty {
            let markers = taskIDs.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            let labelRows = try await database.query(
                "SELECT task_id, label FROM task_labels WHERE task_id IN (\(markers))",
                taskIDs.map(SQLValue.text)
            )
            for row in labelRows { labelsByTask[try row.text("task_id"), default: []].append(try row.text("label")) }
        }
        let tasks = try pageRows.map {
            try Self.decodeTask($0, labels: (labelsByTask[try $0.text("id")] ?? []).sorted())
        }
        var next: String?
        if rows.count > limit, let last = pageRows.last {
            next =
                TaskCursor(
                    columnPosition: try last.int("column_position"), position: try last.double("position"),
                    id: try last.text("id")
                ).encoded
        }
        return TaskPage(tasks: tasks, nextCursor: next)
    }

    public func updateTask(
        id: String, expectedVersion: Int64, changes: TaskChanges, actorID: String, onlyIfAssignedTo: String?
    ) async throws -> BoardTask {
        let now = clock()
        return try await write(now: now) { db, recorder in
            if let columnID = changes.columnID {
                guard let before = try await Self.loadTask(db, id: id) else { throw StoreError.notFound("task") }
                try await Self.lockColumns(db, [before.columnID, columnID])
            }
            guard let current = try await Self.loadTask(db, id: id, lock: true) else {
                throw StoreError.notFound("task")
            }
            if let assignee = onlyIfAssignedTo, current.assigneeID != assignee {
                throw StoreError.forbidden("the task is not assigned to you")
            }
            guard current.version == expectedVersion else { throw StoreError.conflict(currentVersion: current.version) }
            var updated = current
            var events: [(field: String, old: String?, new: String?)] = []
            if let title = changes.title, title != current.title {
                updated.title = title
                events.append(("title", current.title, title))
            }
            if let content = changes.content, content != current.content {
                updated.content = content
                events.append(("content", current.content, content))
            }
            if let assignee = changes.assigneeID, assignee != current.assigneeID {
                if let assignee { try await Self.requireMember(db, boardID: current.boardID, userID: assignee) }
                updated.assigneeID = assignee
                events.append(("assignee", current.assigneeID, assignee))
            }
            if let dueAt = changes.dueAt, dueAt != current.dueAt {
                updated.dueAt = dueAt
                events.append(("due_at", current.dueAt.map(String.init), dueAt.map(String.init)))
            }
            if let zone = changes.dueTimeZone, zone != current.dueTimeZone {
                updated.dueTimeZone = zone
                events.append(("due_tz", current.dueTimeZone, zone))
            }
            if let labels = changes.labels {
                let normalized = Array(Set(labels)).sorted()
                if normalized != current.labels {
                    updated.labels = normalized
                    events.append(("labels", current.labels.joined(separator: ","), normalized.joined(separator: ",")))
                }
            }
            if let columnID = changes.columnID, columnID != current.columnID {
                let column = try await db.query(
                    "SELECT id FROM board_columns WHERE id = $1 AND board_id = $2",
                    [.text(columnID), .text(current.boardID)])
                guard !column.isEmpty else { throw StoreError.invalid("the column is not on this board") }
                let last = try await db.query(
                    "SELECT MAX(position) AS p FROM tasks WHERE column_id = $1", [.text(columnID)]
                ).first
                updated.columnID = columnID
                updated.position = (try? last?.double("p")).map { $0 + 1024 } ?? 1024
                events.append(("column", current.columnID, columnID))
            }
            guard !events.isEmpty else { return current }
            updated.version = current.version + 1
            updated.updatedAt = now
            let rows = try await db.query(
                """
                UPDATE tasks SET title = $1, content = $2, assignee_id = $3, due_at = $4, due_tz = $5, column_id = $6, position = $7,
                version = $8, updated_at = $9 WHERE id = $10 AND version = $11 RETURNING id
                """,
                [
                    .text(updated.title), .text(updated.content), updated.assigneeID.sql, updated.dueAt.sql,
                    updated.dueTimeZone.sql,
                    .text(updated.columnID), .double(updated.position), .integer(updated.version), .integer(now),
                    .text(id),
                    .integer(expectedVersion),
                ]
            )
            guard !rows.isEmpty else {
                let version = try await db.query("SELECT version FROM tasks WHERE id = $1", [.text(id)]).first?.int(
                    "version")
                throw StoreError.conflict(currentVersion: version ?? expectedVersion)
            }
            if updated.labels != current.labels {
                try await db.query("DELETE FROM task_labels WHERE task_id = $1", [.text(id)])
                for label in updated.labels {
                    try await db.query(
                        "INSERT INTO task_labels (task_id, label) VALUES ($1, $2)", [.text(id), .text(label)])
                }
            }
            var change = Change(boardID: current.boardID, taskID: id, actorID: actorID)
            for event in events {
                change.audit("task.updated", field: event.field, old: event.old, new: event.new)
            }
            if updated.columnID != current.columnID {
                change.transition = (from: current.columnID, to: updated.columnID)
            }
            Self.notifyChanges(&change, before: current, after: updated, actorID: actorID)
            change.live(
                updated.columnID != current.columnID ? .taskMoved : .taskUpdated,
                .task(id: id, version: updated.version))
            try await recorder.record(db, change)
            return updated
        }
    }

    public func moveTask(
        id: String,
        toColumnID: String,
        afterID: String?,
        beforeID: String?,
        expectedVersion: Int64?,
        actorID: String,
        onlyIfAssignedTo: String?
    ) async throws -> BoardTask {
        let now = clock()
        return try await write(now: now) { db, recorder in
            guard let before = try await Self.loadTask(db, id: id) else { throw StoreError.notFound("task") }
            let column = try await db.query(
                "SELECT id FROM board_columns WHERE id = $1 AND board_id = $2",
                [.text(toColumnID), .text(before.boardID)])
            guard !column.isEmpty else { throw StoreError.invalid("the column is not on this board") }
            // Lock order everywhere: columns (by id), then tasks. Moves and renumbering in a column are serialised
            // by its lock, so neighbours cannot shift under us and no two transactions wait on each other.
            try await Self.lockColumns(db, [before.columnID, toColumnID])
            guard let current = try await Self.loadTask(db, id: id, lock: true) else {
                throw StoreError.notFound("task")
            }
            if let assignee = onlyIfAssignedTo, current.assigneeID != assignee {
                throw StoreError.forbidden("the task is not assigned to you")
            }
            guard current.columnID == before.columnID else {
                throw StoreError.conflict(currentVersion: current.version)
            }
            if let expectedVersion, current.version != expectedVersion {
                throw StoreError.conflict(currentVersion: current.version)
            }
            // "Put it next to itself" leaves it where it is.
            if toColumnID == current.columnID, afterID == id || beforeID == id { return current }
            var position = try await Self.position(
                db, columnID: toColumnID, movingID: id, afterID: afterID, beforeID: beforeID)
            if position == nil {
                try await Self.renumber(db, columnID: toColumnID)
                position = try await Self.position(
                    db, columnID: toColumnID, movingID: id, afterID: afterID, beforeID: beforeID)
            }
            guard let position else { throw StoreError.invalid("cannot place the task between those neighbours") }
            var moved = current
            moved.columnID = toColumnID
            moved.position = position
            moved.version = current.version + 1
            moved.updatedAt = now
            try await db.query(
                "UPDATE tasks SET column_id = $1, position = $2, version = $3, updated_at = $4 WHERE id = $5",
                [.text(toColumnID), .double(position), .integer(moved.version), .integer(now), .text(id)]
            )
            var change = Change(boardID: current.boardID, taskID: id, actorID: actorID)
            if toColumnID != current.columnID {
                change.audit("task.moved", field: "column", old: current.columnID, new: toColumnID)
                change.transition = (from: current.columnID, to: toColumnID)
                Self.notifyChanges(&change, before: current, after: moved, actorID: actorID)
            } else {
                change.audit(
                    "task.reordered", field: "position", old: String(current.position), new: String(position))
            }
            change.live(.taskMoved, .task(id: id, version: moved.version))
            try await recorder.record(db, change)
            return moved
        }
    }

    /// Takes the row locks of these columns in id order (PostgreSQL; SQLite already has a single writer). A column
    /// deleted while this waited for its lock is gone once the lock is granted: that is the same answer as a column
    /// that was never on the board, not a foreign-key failure later.
    static func lockColumns(_ db: any SQLDatabase, _ columnIDs: Set<String>) async throws {
        guard db.dialect == .postgres else { return }
        for columnID in columnIDs.sorted() {
            let locked = try await db.query(
                "SELECT id FROM board_columns WHERE id = $1 FOR UPDATE", [.text(columnID)])
            guard !locked.isEmpty else { throw StoreError.invalid("the column is not on this board") }
        }
    }

    /// A position strictly between the neighbours, or `nil` when they are too close and the column needs renumbering.
    static func position(_ db: any SQLDatabase, columnID: String, movingID: String, afterID: String?, beforeID: String?)
        async throws -> Double?
    {
        func positionOf(_ id: String) async throws -> Double {
            guard
                let row = try await db.query(
                    "SELECT position FROM tasks WHERE id = $1 AND column_id = $2", [.text(id), .text(columnID)]
                ).first
            else {
                throw StoreError.invalid("the neighbour task is not in that column")
            }
            return try row.double("position")
        }
        var lower: Double?
        var upper: Double?
        if let afterID, afterID != movingID {
            lower = try await positionOf(afterID)
            upper = try await db.query(
                "SELECT MIN(position) AS p FROM tasks WHERE column_id = $1 AND position > $2 AND id <> $3",
                [.text(columnID), .double(lower!), .text(movingID)]
            ).first.flatMap { try? $0.double("p") }
        } else if let beforeID, beforeID != movingID {
            upper = try await positionOf(beforeID)
            lower = try await db.query(
                "SELECT MAX(position) AS p FROM tasks WHERE column_id = $1 AND position < $2 AND id <> $3",
                [.text(columnID), .double(upper!), .text(movingID)]
            ).first.flatMap { try? $0.double("p") }
        } else {
            // No neighbour named: to the end of the column.
            let last = try await db.query(
                "SELECT MAX(position) AS p FROM tasks WHERE column_id = $1 AND id <> $2",
                [.text(columnID), .text(movingID)]
            )
            .first.flatMap { try? $0.double("p") }
            return (last ?? 0) + 1024
        }
        switch (lower, upper) {
        case (let low?, let high?):
            let middle = (low + high) / 2
            return middle > low && middle < high && high - low > 1e-6 ? middle : nil
        case (let low?, nil): return low + 1024
        case (nil, let high?): return high - 1024
        case (nil, nil): return 1024
        }
    }

    /// Spreads a column's positions evenly again, keeping their order.
    static func renumber(_ db: any SQLDatabase, columnID: String) async throws {
        let rows = try await db.query(
            "SELECT id FROM tasks WHERE column_id = $1 ORDER BY position, id", [.text(columnID)])
        for (index, row) in rows.enumerated() {
            try await db.query(
                "UPDATE tasks SET position = $1 WHERE id = $2",
                [.double(Double(index + 1) * 1024), .text(try row.text("id"))])
        }
    }

    public func deleteTask(id: String, actorID: String) async throws {
        let now = clock()
        try await write(now: now) { db, recorder in
            guard let current = try await Self.loadTask(db, id: id, lock: true) else {
                throw StoreError.notFound("task")
            }
            try await db.query("DELETE FROM tasks WHERE id = $1", [.text(id)])
            var change = Change(boardID: current.boardID, taskID: id, actorID: actorID)
            change.audit("task.deleted", field: "title", old: current.title)
            change.live(.taskDeleted, .task(id: id, version: current.version + 1))
            try await recorder.record(db, change)
        }
    }

    /// The outbox events of the changes that notify people: assignment (and unassignment), status (column) and
    /// due date.
    static func notifyChanges(_ change: inout Change, before: BoardTask, after: BoardTask, actorID: String) {
        let base = [
            "task_id": after.id, "board_id": after.boardID, "actor_id": actorID, "title": after.title,
            "version": String(after.version),
        ]
        if after.assigneeID != before.assigneeID, let assignee = after.assigneeID {
            change.notify(
                "task.assigned", key: "task.assigned:\(after.id):\(after.version)",
                payload: base.merging(["assignee_id": assignee]) { $1 })
        }
        if let previous = before.assigneeID, previous != after.assigneeID {
            // For the person taken off the task alone (the new assignee hears of the assignment).
            change.notify(
                "task.unassigned", key: "task.unassigned:\(after.id):\(after.version)",
                payload: base.merging(["assignee_id": previous]) { $1 })
        }
        if after.columnID != before.columnID {
            var payload = base.merging(["from_column_id": before.columnID, "to_column_id": after.columnID]) { $1 }
            if let assignee = after.assigneeID { payload["assignee_id"] = assignee }
            change.notify(
                "task.status_changed", key: "task.status_changed:\(after.id):\(after.version)", payload: payload)
        }
        if after.dueAt != before.dueAt {
            var payload = base
            if let due = after.dueAt { payload["due_at"] = String(due) }
            if let assignee = after.assigneeID { payload["assignee_id"] = assignee }
            change.notify(
                "task.due_changed", key: "task.due_changed:\(after.id):\(after.version)", payload: payload)
        }
    }
}

/// The keyset position of the last task on a page.
struct TaskCursor: Hashable {
    var columnPosition: Int64
    var position: Double
    var id: String

    init(columnPosition: Int64, position: Double, id: String) {
        self.columnPosition = columnPosition
        self.position = position
        self.id = id
    }

    init?(_ text: String) {
        guard let bytes = Base64URL.decode(text) else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, let columnPosition = Int64(parts[0]), let position = Double(parts[1]),
            position.isFinite,
            IDGenerator.isValid(String(parts[2]))
        else { return nil }
        self.init(columnPosition: columnPosition, position: position, id: String(parts[2]))
    }

    var encoded: String {
        Base64URL.encode(Array("\(columnPosition)|\(position)|\(id)".utf8))
    }
}
