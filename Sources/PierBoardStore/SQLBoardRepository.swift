import Foundation
import PierCore

/// ``BoardRepository`` over any ``SQLDatabase``: the single implementation behind both PostgreSQL and SQLite.
public struct SQLBoardRepository: BoardRepository {
    public let database: any SQLDatabase
    let ids: IDGenerator
    let clock: @Sendable () -> Int64

    /// The columns every new board starts with.
    public static let defaultColumns: [(name: String, isDone: Bool)] = [
        ("To do", false), ("In progress", false), ("Review", false), ("Done", true),
    ]

    public init(
        database: any SQLDatabase,
        ids: IDGenerator = IDGenerator(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.database = database
        self.ids = ids
        self.clock = clock
    }

    // MARK: - Schema

    public func migrate() async throws {
        try await Migrations.migrate(database, now: clock())
    }

    public func isReady() async -> Bool {
        (try? await Migrations.currentVersion(database)) == Migrations.latestVersion
    }

    // MARK: - Users

    static let userColumns = "id, email, name, role, disabled, created_at, password_hash, session_version, language"
    static let userColumnsOfU = prefixed(userColumns, "u")

    static func decodeUser(_ row: SQLRow) throws -> User {
        guard let role = UserRole(rawValue: try row.text("role")) else { throw StoreError.corrupt("unknown role") }
        return User(
            id: try row.text("id"),
            email: try row.text("email"),
            name: try row.text("name"),
            role: role,
            disabled: try row.bool("disabled"),
            createdAt: try row.int("created_at"),
            passwordHash: try row.text("password_hash"),
            sessionVersion: try row.int("session_version"),
            language: try row.optionalText("language")
        )
    }

    public func countUsers() async throws -> Int {
        Int(try await Self.count(database, "SELECT COUNT(*) AS n FROM users"))
    }

    public func createUser(email: String, name: String, role: UserRole, passwordHash: String, actorID: String?)
        async throws -> User
    {
        let now = clock()
        let user = User(
            id: ids.next(now: now), email: email, name: name, role: role, disabled: false, createdAt: now,
            passwordHash: passwordHash)
        let ids = self.ids
        return try await database.transaction { db in
            // ON CONFLICT makes a concurrent duplicate a clean "duplicate" on both databases, not a constraint error.
            let inserted = try await db.query(
                "INSERT INTO users (id, email, email_key, name, role, disabled, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email_key) DO NOTHING RETURNING id",
                [
                    .text(user.id), .text(email), .text(email.lowercased()), .text(name), .text(role.rawValue),
                    .bool(false), .text(passwordHash), .integer(now),
                ]
            )
            guard !inserted.isEmpty else { throw StoreError.duplicate("a user with this email already exists") }
            try await Self.audit(
                db, ids: ids, now: now, boardID: nil, taskID: nil, actorID: actorID ?? user.id, action: "user.created",
                field: "role", old: nil, new: role.rawValue)
            return user
        }
    }

    public func user(id: String) async throws -> User? {
        try await database.query("SELECT \(Self.userColumns) FROM users WHERE id = $1", [.text(id)]).first.map(
            Self.decodeUser)
    }

    public func user(email: String) async throws -> User? {
        try await database.query(
            "SELECT \(Self.userColumns) FROM users WHERE email_key = $1", [.text(email.lowercased())]
        ).first.map(Self.decodeUser)
    }

    public func users() async throws -> [User] {
        try await database.query("SELECT \(Self.userColumns) FROM users ORDER BY name, id").map(Self.decodeUser)
    }

    public func setUserDisabled(id: String, disabled: Bool, actorID: String) async throws -> User {
        let now = clock()
        let ids = self.ids
        return try await database.transaction { db in
            guard let row = try await db.query("SELECT \(Self.userColumns) FROM users WHERE id = $1", [.text(id)]).first
            else {
                throw StoreError.notFound("user")
            }
            var user = try Self.decodeUser(row)
            if user.disabled != disabled {
                try await db.query("UPDATE users SET disabled = $1 WHERE id = $2", [.bool(disabled), .text(id)])
                try await Self.audit(
                    db, ids: ids, now: now, boardID: nil, taskID: nil, actorID: actorID, action: "user.updated",
                    field: "disabled", old: String(user.disabled), new: String(disabled))
                if disabled {
                    try await Self.revokeSessions(db, userID: id, now: now)
                    user.sessionVersion += 1
                }
                user.disabled = disabled
            }
            return user
        }
    }

    public func setLanguage(id: String, language: String?) async throws -> User {
        try await database.transaction { db in
            let rows = try await db.query(
                "UPDATE users SET language = $1 WHERE id = $2 RETURNING \(Self.userColumns)", [language.sql, .text(id)])
            guard let row = rows.first else { throw StoreError.notFound("user") }
            return try Self.decodeUser(row)
        }
    }

    public func setPasswordHash(id: String, passwordHash: String, actorID: String) async throws {
        let now = clock()
        let ids = self.ids
        try await database.transaction { db in
            let updated = try await db.query(
                "UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING id", [.text(passwordHash), .text(id)])
            guard !updated.isEmpty else { throw StoreError.notFound("user") }
            // A new password ends every session of the account.
            try await Self.revokeSessions(db, userID: id, now: now)
            try await Self.audit(
                db, ids: ids, now: now, boardID: nil, taskID: nil, actorID: actorID, action: "user.password_reset",
                field: nil, old: nil, new: nil)
        }
    }

    public func replacePasswordHash(id: String, from oldHash: String, to newHash: String) async throws -> Bool {
        !(try await database.query(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3 RETURNING id",
            [.text(newHash), .text(id), .text(oldHash)]
        ).isEmpty)
    }

    // MARK: - Boards

    public func createBoard(name: String, actorID: String) async throws -> Board {
        let now = clock()
        let ids = self.ids
        let boardID = ids.next(now: now)
        let columns = Self.defaultColumns.enumerated().map { index, column in
            BoardColumn(id: ids.next(now: now), name: column.name, position: index, isDone: column.isDone)
        }
        return try await database.transaction { db in
            try await db.query(
                "INSERT INTO boards (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
                [.text(boardID), .text(name), .text(actorID), .integer(now)]
            )
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
            try await Self.audit(
                db, ids: ids, now: now, boardID: boardID, taskID: nil, actorID: actorID, action: "board.created",
                field: "name", old: nil, new: name)
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
        let ids = self.ids
        try await database.transaction { db in
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
            try await Self.audit(
                db, ids: ids, now: now, boardID: boardID, taskID: nil, actorID: actorID, action: "board.member_added",
                field: "member", old: nil, new: userID)
        }
    }

    public func removeMember(boardID: String, userID: String, actorID: String) async throws {
        let now = clock()
        let ids = self.ids
        try await database.transaction { db in
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
            try await Self.audit(
                db, ids: ids, now: now, boardID: boardID, taskID: nil, actorID: actorID, action: "board.member_removed",
                field: "member", old: userID, new: nil)
        }
    }

    // MARK: - Columns

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
        return try await database.transaction { db in
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
            try await Self.audit(
                db, ids: ids, now: now, boardID: boardID, taskID: nil, actorID: actorID, action: "column.added",
                field: "column", old: nil, new: name)
            return column
        }
    }

    public func updateColumn(id: String, changes: ColumnChanges, actorID: String) async throws -> BoardColumn {
        let now = clock()
        let ids = self.ids
        return try await database.transaction { db in
            let (boardID, found, index) = try await Self.lockedColumns(db, ofColumn: id)
            var columns = found
            var column = columns[index]
            func audit(_ field: String, _ old: String, _ new: String) async throws {
                try await Self.audit(
                    db, ids: ids, now: now, boardID: boardID, taskID: nil, actorID: actorID, action: "column.changed",
                    field: field, old: old, new: new)
            }
            if let name = changes.name, name != column.name {
                try Self.requireUniqueName(name, among: columns, except: id)
                try await db.query("UPDATE board_columns SET name = $1 WHERE id = $2", [.text(name), .text(id)])
                try await audit("name", column.name, name)
                column.name = name
            }
            if let isDone = changes.isDone, isDone != column.isDone {
                try await db.query("UPDATE board_columns SET is_done = $1 WHERE id = $2", [.bool(isDone), .text(id)])
                try await audit("is_done", String(column.isDone), String(isDone))
                column.isDone = isDone
            }
            columns.remove(at: index)
            let target = min(max(changes.position ?? index, 0), columns.count)
            columns.insert(column, at: target)
            try await Self.renumber(db, columns)
            if target != index { try await audit("position", String(index), String(target)) }
            column.position = target
            return column
        }
    }

    public func deleteColumn(id: String, actorID: String) async throws {
        let now = clock()
        let ids = self.ids
        try await database.transaction { db in
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
            try await Self.audit(
                db, ids: ids, now: now, boardID: boardID, taskID: nil, actorID: actorID, action: "column.removed",
                field: "column", old: removed.name, new: nil)
        }
    }

    // MARK: - Tasks

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
        return try await database.transaction { db in
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
            try await Self.audit(
                db, ids: ids, now: now, boardID: boardID, taskID: taskID, actorID: actorID, action: "task.created",
                field: "title", old: nil, new: new.title)
            try await Self.transition(db, ids: ids, now: now, taskID: taskID, from: nil, to: columnID, actorID: actorID)
            if let assigneeID = new.assigneeID {
                try await Self.enqueue(
                    db, ids: ids, now: now, kind: "task.assigned", key: "task.assigned:\(taskID):1",
                    payload: [
                        "task_id": taskID, "board_id": boardID, "assignee_id": assigneeID, "actor_id": actorID,
                        "title": new.title,
                    ]
                )
            }
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
        let ids = self.ids
        return try await database.transaction { db in
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
            for event in events {
                try await Self.audit(
                    db, ids: ids, now: now, boardID: current.boardID, taskID: id, actorID: actorID,
                    action: "task.updated", field: event.field, old: event.old, new: event.new)
            }
            if updated.columnID != current.columnID {
                try await Self.transition(
                    db, ids: ids, now: now, taskID: id, from: current.columnID, to: updated.columnID, actorID: actorID)
            }
            try await Self.notifyChanges(db, ids: ids, now: now, before: current, after: updated, actorID: actorID)
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
        let ids = self.ids
        return try await database.transaction { db in
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
            if toColumnID != current.columnID {
                try await Self.audit(
                    db, ids: ids, now: now, boardID: current.boardID, taskID: id, actorID: actorID,
                    action: "task.moved", field: "column", old: current.columnID, new: toColumnID)
                try await Self.transition(
                    db, ids: ids, now: now, taskID: id, from: current.columnID, to: toColumnID, actorID: actorID)
                try await Self.notifyChanges(db, ids: ids, now: now, before: current, after: moved, actorID: actorID)
            } else {
                try await Self.audit(
                    db, ids: ids, now: now, boardID: current.boardID, taskID: id, actorID: actorID,
                    action: "task.reordered", field: "position", old: String(current.position), new: String(position))
            }
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
        let ids = self.ids
        try await database.transaction { db in
            guard let current = try await Self.loadTask(db, id: id, lock: true) else {
                throw StoreError.notFound("task")
            }
            try await db.query("DELETE FROM tasks WHERE id = $1", [.text(id)])
            try await Self.audit(
                db, ids: ids, now: now, boardID: current.boardID, taskID: id, actorID: actorID, action: "task.deleted",
                field: "title", old: current.title, new: nil)
        }
    }

    // MARK: - Comments and history

    public func addComment(taskID: String, body: String, actorID: String) async throws -> TaskComment {
        let now = clock()
        let ids = self.ids
        return try await database.transaction { db in
            guard let task = try await Self.loadTask(db, id: taskID, lock: true) else {
                throw StoreError.notFound("task")
            }
            let comment = TaskComment(
                id: ids.next(now: now), taskID: taskID, authorID: actorID, body: body, createdAt: now)
            try await db.query(
                "INSERT INTO comments (id, task_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                [.text(comment.id), .text(taskID), .text(actorID), .text(body), .integer(now)]
            )
            try await Self.audit(
                db, ids: ids, now: now, boardID: task.boardID, taskID: taskID, actorID: actorID,
                action: "comment.added", field: nil, old: nil, new: comment.id)
            var payload = [
                "task_id": taskID, "board_id": task.boardID, "actor_id": actorID, "title": task.title,
                "comment_id": comment.id, "excerpt": String(body.prefix(280)),
            ]
            if let assignee = task.assigneeID { payload["assignee_id"] = assignee }
            try await Self.enqueue(
                db, ids: ids, now: now, kind: "task.commented", key: "task.commented:\(comment.id)", payload: payload)
            return comment
        }
    }

    public func comments(taskID: String) async throws -> [TaskComment] {
        try await database.query(
            "SELECT id, task_id, author_id, body, created_at FROM comments WHERE task_id = $1 ORDER BY id",
            [.text(taskID)]
        ).map {
            TaskComment(
                id: try $0.text("id"), taskID: try $0.text("task_id"), authorID: try $0.text("author_id"),
                body: try $0.text("body"), createdAt: try $0.int("created_at"))
        }
    }

    public func history(taskID: String) async throws -> [AuditEvent] {
        try await database.query(
            "SELECT id, board_id, task_id, actor_id, action, field, old_value, new_value, at FROM audit_events WHERE task_id = $1 ORDER BY id",
            [.text(taskID)]
        ).map(Self.decodeAudit)
    }

    static func decodeAudit(_ row: SQLRow) throws -> AuditEvent {
        AuditEvent(
            id: try row.text("id"), boardID: try row.optionalText("board_id"), taskID: try row.optionalText("task_id"),
            actorID: try row.text("actor_id"),
            action: try row.text("action"), field: try row.optionalText("field"),
            oldValue: try row.optionalText("old_value"),
            newValue: try row.optionalText("new_value"), at: try row.int("at")
        )
    }

    // MARK: - Outbox

    public func pendingOutbox(limit: Int, now: Int64) async throws -> [OutboxMessage] {
        try await database.query(
            "SELECT id, kind, payload, idempotency_key, created_at, delivered_at, attempts FROM outbox WHERE delivered_at IS NULL AND available_at <= $1 ORDER BY id LIMIT \(max(1, limit))",
            [.integer(now)]
        ).map {
            OutboxMessage(
                id: try $0.text("id"), kind: try $0.text("kind"), payload: try $0.text("payload"),
                idempotencyKey: try $0.text("idempotency_key"),
                createdAt: try $0.int("created_at"), deliveredAt: try $0.optionalInt("delivered_at"),
                attempts: try $0.int("attempts")
            )
        }
    }

    // MARK: - Sessions

    public func createSession(userID: String, tokenHash: String, expiresAt: Int64) async throws {
        let now = clock()
        let id = ids.next(now: now)
        try await database.query(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) VALUES ($1, $1, $2, $3, $4, $5)",
            [.text(id), .text(userID), .text(tokenHash), .integer(now), .integer(expiresAt)]
        )
    }

    public func rotateSession(presentedHash: String, newHash: String, expiresAt: Int64) async throws -> SessionRotation
    {
        let now = clock()
        let ids = self.ids
        return try await database.transaction { db in
            let lock = db.dialect == .postgres ? " FOR UPDATE" : ""
            guard
                let row = try await db.query(
                    "SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1\(lock)",
                    [.text(presentedHash)]
                ).first
            else { return .invalid }
            let familyID = try row.text("family_id")
            guard try row.optionalInt("revoked_at") == nil else { return .invalid }
            if try row.optionalInt("used_at") != nil {
                try await db.query(
                    "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
                    [.integer(now), .text(familyID)]
                )
                // Someone holds a copy of the token: the access tokens either of them got stop working too.
                try await db.query(
                    "UPDATE users SET session_version = session_version + 1 WHERE id = $1",
                    [.text(try row.text("user_id"))])
                return .reused
            }
            guard try row.int("expires_at") > now else { return .invalid }
            guard
                let userRow = try await db.query(
                    "SELECT \(Self.userColumns) FROM users WHERE id = $1", [.text(try row.text("user_id"))]
                ).first
            else { return .invalid }
            let user = try Self.decodeUser(userRow)
            guard !user.disabled else { return .invalid }
            try await db.query(
                "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2", [.integer(now), .text(try row.text("id"))])
            try await db.query(
                "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    .text(ids.next(now: now)), .text(familyID), .text(user.id), .text(newHash), .integer(now),
                    .integer(expiresAt),
                ]
            )
            return .rotated(user)
        }
    }

    public func endSession(tokenHash: String) async throws {
        let now = clock()
        try await database.transaction { db in
            guard
                let family = try await db.query(
                    "SELECT family_id FROM refresh_tokens WHERE token_hash = $1", [.text(tokenHash)]
                ).first
            else { return }
            let familyID = try family.text("family_id")
            if db.dialect == .postgres {
                // Wait for a refresh of this family in flight; the UPDATE's fresh snapshot then sees its new token.
                try await db.query(
                    "SELECT id FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL FOR UPDATE",
                    [.text(familyID)])
            }
            try await db.query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
                [.integer(now), .text(familyID)]
            )
            // Access tokens name the account, not the session, so every access token of the account ends; the
            // account's other sessions get new ones at their next refresh.
            try await db.query(
                "UPDATE users SET session_version = session_version + 1 WHERE id = (SELECT user_id FROM refresh_tokens WHERE id = $1)",
                [.text(familyID)])
        }
    }

    /// Revokes every session of a user. On PostgreSQL the rows are locked first, so a refresh in flight finishes
    /// and its new token is seen (and revoked) by the UPDATE's fresh snapshot.
    static func revokeSessions(_ db: any SQLDatabase, userID: String, now: Int64) async throws {
        if db.dialect == .postgres {
            try await db.query(
                "SELECT id FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL FOR UPDATE", [.text(userID)])
        }
        try await db.query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            [.integer(now), .text(userID)]
        )
        try await db.query(
            "UPDATE users SET session_version = session_version + 1 WHERE id = $1", [.text(userID)])
    }

    // MARK: - Shared writes

    /// The `n` of a `SELECT COUNT(*) AS n …`.
    static func count(_ db: any SQLDatabase, _ sql: String, _ binds: [SQLValue] = []) async throws -> Int64 {
        try await db.query(sql, binds).first?.int("n") ?? 0
    }

    /// Checks that an assignee is an active member, holding their membership (PostgreSQL: `FOR SHARE`) until the
    /// transaction ends so ``removeMember(boardID:userID:actorID:)`` cannot slip in between.
    static func requireMember(_ db: any SQLDatabase, boardID: String, userID: String) async throws {
        let lock = db.dialect == .postgres ? " FOR SHARE OF m" : ""
        let rows = try await db.query(
            "SELECT u.disabled FROM users u JOIN board_members m ON m.user_id = u.id AND m.board_id = $1 WHERE u.id = $2"
                + lock,
            [.text(boardID), .text(userID)]
        )
        guard let row = rows.first, try !row.bool("disabled") else {
            throw StoreError.invalid("the assignee is not an active member of this board")
        }
    }

    static func audit(
        _ db: any SQLDatabase, ids: IDGenerator, now: Int64, boardID: String?, taskID: String?, actorID: String,
        action: String,
        field: String?, old: String?, new: String?
    ) async throws {
        try await db.query(
            "INSERT INTO audit_events (id, board_id, task_id, actor_id, action, field, old_value, new_value, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                .text(ids.next(now: now)), boardID.sql, taskID.sql, .text(actorID), .text(action), field.sql, old.sql,
                new.sql, .integer(now),
            ]
        )
    }

    static func transition(
        _ db: any SQLDatabase, ids: IDGenerator, now: Int64, taskID: String, from: String?, to: String, actorID: String
    ) async throws {
        try await db.query(
            "INSERT INTO task_transitions (id, task_id, from_column_id, to_column_id, actor_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
            [.text(ids.next(now: now)), .text(taskID), from.sql, .text(to), .text(actorID), .integer(now)]
        )
    }

    /// Writes an outbox event unless one with the same idempotency `key` exists; true when it was new.
    @discardableResult
    static func enqueue(
        _ db: any SQLDatabase, ids: IDGenerator, now: Int64, kind: String, key: String, payload: [String: String]
    ) async throws -> Bool {
        let data = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        return try await !db.query(
            "INSERT INTO outbox (id, kind, payload, idempotency_key, created_at, available_at, attempts) VALUES ($1, $2, $3, $4, $5, $5, 0) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [
                .text(ids.next(now: now)), .text(kind), .text(String(decoding: data, as: UTF8.self)), .text(key),
                .integer(now),
            ]
        ).isEmpty
    }

    /// Outbox messages for the changes that notify people: assignment (and unassignment), status (column) and due
    /// date.
    static func notifyChanges(
        _ db: any SQLDatabase, ids: IDGenerator, now: Int64, before: BoardTask, after: BoardTask, actorID: String
    ) async throws {
        let base = [
            "task_id": after.id, "board_id": after.boardID, "actor_id": actorID, "title": after.title,
            "version": String(after.version),
        ]
        if after.assigneeID != before.assigneeID, let assignee = after.assigneeID {
            try await enqueue(
                db, ids: ids, now: now, kind: "task.assigned", key: "task.assigned:\(after.id):\(after.version)",
                payload: base.merging(["assignee_id": assignee]) { $1 })
        }
        if let previous = before.assigneeID, previous != after.assigneeID {
            // For the person taken off the task alone (the new assignee hears of the assignment).
            try await enqueue(
                db, ids: ids, now: now, kind: "task.unassigned", key: "task.unassigned:\(after.id):\(after.version)",
                payload: base.merging(["assignee_id": previous]) { $1 })
        }
        if after.columnID != before.columnID {
            var payload = base.merging(["from_column_id": before.columnID, "to_column_id": after.columnID]) { $1 }
            if let assignee = after.assigneeID { payload["assignee_id"] = assignee }
            try await enqueue(
                db, ids: ids, now: now, kind: "task.status_changed",
                key: "task.status_changed:\(after.id):\(after.version)", payload: payload)
        }
        if after.dueAt != before.dueAt {
            var payload = base
            if let due = after.dueAt { payload["due_at"] = String(due) }
            if let assignee = after.assigneeID { payload["assignee_id"] = assignee }
            try await enqueue(
                db, ids: ids, now: now, kind: "task.due_changed", key: "task.due_changed:\(after.id):\(after.version)",
                payload: payload)
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
