import Foundation
import PierCore

extension SQLBoardRepository {
    public func createBoard(name: String, actorID: String) async throws -> Board {
        let now = clock()
        let ids = self.ids
        let boardID = ids.next(now: now)
        let columns = Self.defaultColumns.enumerated().map { index, column in
            BoardColumn(id: ids.next(now: now), name: column.name, position: index, isDone: column.isDone)
        }
        return try await write(now: now) { db, recorder in
            try await db.query(
                "INSERT INTO boards (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
                [.text(boardID), .text(name), .text(actorID), .integer(now)]
            )
            try await db.query(
                "INSERT INTO board_event_heads (board_id, last_seq) VALUES ($1, 0)", [.text(boardID)])
            for column in columns {
                try await db.query(
                    "INSERT INTO board_columns (id, board_id, name, position, is_done) VALUES ($1, $2, $3, $4, $5)",
                    [
                        .text(column.id), .text(boardID), .text(column.name), .integer(Int64(column.position)),
                        .bool(column.isDone),
                    ]
                )
            }
            try await db.query(
                "INSERT INTO board_members (board_id, user_id, added_at) VALUES ($1, $2, $3)",
                [.text(boardID), .text(actorID), .integer(now)])
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("board.created", field: "name", new: name)
            try await recorder.record(db, change)
            return Board(id: boardID, name: name, createdBy: actorID, createdAt: now, columns: columns)
        }
    }

    public func boards(memberID: String) async throws -> [Board] {
        let rows = try await database.query(
            """
            SELECT b.id, b.name, b.created_by, b.created_at FROM boards b
            JOIN board_members m ON m.board_id = b.id AND m.user_id = $1 ORDER BY b.name, b.id
            """,
            [.text(memberID)]
        )
        var boards: [Board] = []
        for row in rows {
            boards.append(try await Self.decodeBoard(row, db: database))
        }
        return boards
    }

    public func board(id: String) async throws -> Board? {
        guard
            let row = try await database.query(
                "SELECT id, name, created_by, created_at FROM boards WHERE id = $1", [.text(id)]
            ).first
        else {
            return nil
        }
        return try await Self.decodeBoard(row, db: database)
    }

    static func decodeBoard(_ row: SQLRow, db: any SQLDatabase) async throws -> Board {
        let id = try row.text("id")
        let columns = try await db.query(
            "SELECT id, name, position, is_done FROM board_columns WHERE board_id = $1 ORDER BY position",
            [.text(id)]
        ).map(decodeColumn)
        return Board(
            id: id, name: try row.text("name"), createdBy: try row.text("created_by"),
            createdAt: try row.int("created_at"), columns: columns)
    }

    public func isMember(boardID: String, userID: String) async throws -> Bool {
        !(try await database.query(
            "SELECT 1 AS found FROM board_members WHERE board_id = $1 AND user_id = $2",
            [.text(boardID), .text(userID)]
        ).isEmpty)
    }

    public func members(boardID: String) async throws -> [User] {
        try await database.query(
            "SELECT \(Self.userColumnsOfU) FROM users u JOIN board_members m ON m.user_id = u.id WHERE m.board_id = $1 ORDER BY u.name, u.id",
            [.text(boardID)]
        ).map(Self.decodeUser)
    }

    public func addMember(boardID: String, userID: String, actorID: String) async throws {
        let now = clock()
        try await write(now: now) { db, recorder in
            guard !(try await db.query("SELECT id FROM boards WHERE id = $1", [.text(boardID)]).isEmpty) else {
                throw StoreError.notFound("board")
            }
            guard !(try await db.query("SELECT id FROM users WHERE id = $1", [.text(userID)]).isEmpty) else {
                throw StoreError.notFound("user")
            }
            let inserted = try await db.query(
                "INSERT INTO board_members (board_id, user_id, added_at) VALUES ($1, $2, $3) ON CONFLICT (board_id, user_id) DO NOTHING RETURNING user_id",
                [.text(boardID), .text(userID), .integer(now)])
            guard !inserted.isEmpty else { return }  // already a member
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("board.member_added", field: "member", new: userID)
            change.live(.memberAdded, .member(userID: userID))
            try await recorder.record(db, change)
        }
    }

    public func removeMember(boardID: String, userID: String, actorID: String) async throws {
        let now = clock()
        try await write(now: now) { db, recorder in
            // The board row is the lock for its membership: two Supervisors removing each other at once must not
            // both see the other one left. (SQLite runs one writing transaction at a time.) NO KEY UPDATE, so tasks
            // can still be inserted meanwhile (their foreign key takes only KEY SHARE on the board).
            try await Self.lockBoard(db, boardID)
            // The membership row too: an assignment checks it with FOR SHARE (requireMember), so it either commits
            // first (and its task is counted below) or finds the member gone.
            let lock = db.dialect == .postgres ? " FOR UPDATE OF m" : ""
            let member = try await db.query(
                "SELECT u.role, u.disabled FROM users u JOIN board_members m ON m.user_id = u.id AND m.board_id = $1 WHERE u.id = $2"
                    + lock,
                [.text(boardID), .text(userID)])
            guard let row = member.first else { throw StoreError.notFound("member") }
            let assigned = try await Self.count(
                db, "SELECT COUNT(*) AS n FROM tasks WHERE board_id = $1 AND assignee_id = $2",
                [.text(boardID), .text(userID)])
            if assigned > 0 {
                throw StoreError.refused(
                    "member_has_tasks",
                    "\(assigned) task(s) of this board are assigned to this member: reassign them first")
            }
            if try row.text("role") == UserRole.supervisor.rawValue, try !row.bool("disabled") {
                let others = try await Self.count(
                    db,
                    "SELECT COUNT(*) AS n FROM users u JOIN board_members m ON m.user_id = u.id AND m.board_id = $1 WHERE u.role = $2 AND NOT u.disabled AND u.id <> $3",
                    [.text(boardID), .text(UserRole.supervisor.rawValue), .text(userID)])
                if others == 0 {
                    throw StoreError.refused(
                        "last_supervisor", "the board's last active Supervisor cannot be removed: add another first")
                }
            }
            try await db.query(
                "DELETE FROM board_members WHERE board_id = $1 AND user_id = $2", [.text(boardID), .text(userID)])
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("board.member_removed", field: "member", old: userID)
            change.live(.memberRemoved, .member(userID: userID))
            try await recorder.record(db, change)
        }
    }
}
