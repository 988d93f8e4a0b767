import Foundation
import PierCore

extension SQLBoardRepository {
    static let userColumns =
        "id, email, name, role, disabled, created_at, password_hash, session_version, language, password_change_required"
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
            language: try row.optionalText("language"),
            passwordChangeRequired: try row.bool("password_change_required")
        )
    }

    public func countUsers() async throws -> Int {
        Int(try await Self.count(database, "SELECT COUNT(*) AS n FROM users"))
    }

    public func createUser(
        email: String, name: String, role: UserRole, passwordHash: String, actorID: String?,
        passwordChangeRequired: Bool
    ) async throws -> User {
        let now = clock()
        let user = User(
            id: ids.next(now: now), email: email, name: name, role: role, disabled: false, createdAt: now,
            passwordHash: passwordHash, passwordChangeRequired: passwordChangeRequired)
        return try await write(now: now) { db, recorder in
            // ON CONFLICT makes a concurrent duplicate a clean "duplicate" on both databases, not a constraint error.
            let inserted = try await db.query(
                "INSERT INTO users (id, email, email_key, name, role, disabled, password_hash, created_at, password_change_required) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (email_key) DO NOTHING RETURNING id",
                [
                    .text(user.id), .text(email), .text(email.lowercased()), .text(name), .text(role.rawValue),
                    .bool(false), .text(passwordHash), .integer(now), .bool(passwordChangeRequired),
                ]
            )
            guard !inserted.isEmpty else { throw StoreError.duplicate("a user with this email already exists") }
            var change = Change(boardID: nil, actorID: actorID ?? user.id)
            change.audit("user.created", field: "role", new: role.rawValue)
            try await recorder.record(db, change)
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
        return try await write(now: now) { db, recorder in
            guard let row = try await db.query("SELECT \(Self.userColumns) FROM users WHERE id = $1", [.text(id)]).first
            else {
                throw StoreError.notFound("user")
            }
            var user = try Self.decodeUser(row)
            if user.disabled != disabled {
                try await db.query("UPDATE users SET disabled = $1 WHERE id = $2", [.bool(disabled), .text(id)])
                var change = Change(boardID: nil, actorID: actorID)
                change.audit("user.updated", field: "disabled", old: String(user.disabled), new: String(disabled))
                change.accessChangedFor = id
                try await recorder.record(db, change)
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

    public func setName(id: String, name: String) async throws -> User {
        let now = clock()
        return try await write(now: now) { db, recorder in
            guard let row = try await db.query("SELECT \(Self.userColumns) FROM users WHERE id = $1", [.text(id)]).first
            else { throw StoreError.notFound("user") }
            var user = try Self.decodeUser(row)
            guard user.name != name else { return user }
            try await db.query("UPDATE users SET name = $1 WHERE id = $2", [.text(name), .text(id)])
            var change = Change(boardID: nil, actorID: id)
            change.audit("user.updated", field: "name", old: user.name, new: name)
            try await recorder.record(db, change)
            user.name = name
            return user
        }
    }

    public func setPasswordHash(id: String, passwordHash: String, actorID: String, passwordChangeRequired: Bool)
        async throws
    {
        let now = clock()
        try await write(now: now) { db, recorder in
            let updated = try await db.query(
                "UPDATE users SET password_hash = $1, password_change_required = $2 WHERE id = $3 RETURNING id",
                [.text(passwordHash), .bool(passwordChangeRequired), .text(id)])
            guard !updated.isEmpty else { throw StoreError.notFound("user") }
            // A new password ends every session of the account.
            try await Self.revokeSessions(db, userID: id, now: now)
            var change = Change(boardID: nil, actorID: actorID)
            change.audit("user.password_reset")
            change.accessChangedFor = id
            try await recorder.record(db, change)
        }
    }

    public func replacePasswordHash(id: String, from oldHash: String, to newHash: String) async throws -> Bool {
        !(try await database.query(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3 RETURNING id",
            [.text(newHash), .text(id), .text(oldHash)]
        ).isEmpty)
    }
}
