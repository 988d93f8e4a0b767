import Foundation
import PierCore

extension SQLBoardRepository {
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
        return try await write(now: now) { db, recorder in
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
                let userID = try row.text("user_id")
                try await db.query(
                    "UPDATE users SET session_version = session_version + 1 WHERE id = $1", [.text(userID)])
                var change = Change(boardID: nil, actorID: userID)
                change.accessChangedFor = userID
                try await recorder.record(db, change)
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
        try await write(now: now) { db, recorder in
            guard
                let family = try await db.query(
                    "SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1", [.text(tokenHash)]
                ).first
            else { return }
            let familyID = try family.text("family_id")
            let userID = try family.text("user_id")
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
                "UPDATE users SET session_version = session_version + 1 WHERE id = $1", [.text(userID)])
            var change = Change(boardID: nil, actorID: userID)
            change.accessChangedFor = userID
            try await recorder.record(db, change)
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
}
