import Foundation
import PierCore

/// ``BoardRepository`` over any ``SQLDatabase``: the single implementation behind both PostgreSQL and SQLite.
public struct SQLBoardRepository: BoardRepository {
    public let database: any SQLDatabase
    let ids: IDGenerator
    let clock: @Sendable () -> Int64
    /// Where this process hears of committed changes (see ``ChangeSignal``).
    public let feed: ChangeFeed

    /// The columns every new board starts with.
    public static let defaultColumns: [(name: String, isDone: Bool)] = [
        ("To do", false), ("In progress", false), ("Review", false), ("Done", true),
    ]

    public init(
        database: any SQLDatabase,
        ids: IDGenerator = IDGenerator(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        feed: ChangeFeed = ChangeFeed()
    ) {
        self.database = database
        self.ids = ids
        self.clock = clock
        self.feed = feed
    }

    // MARK: - Schema

    public func migrate() async throws {
        try await Migrations.migrate(database, now: clock())
    }

    public func isReady() async -> Bool {
        (try? await Migrations.currentVersion(database)) == Migrations.latestVersion
    }

    // MARK: - Shared

    /// Runs a writing transaction whose changes `body` records with the ``ChangeRecorder`` it is given; once it has
    /// committed, this process's live streams are woken (other instances hear of it through PostgreSQL).
    func write<Result: Sendable>(
        now: Int64, _ body: @Sendable (any SQLDatabase, ChangeRecorder) async throws -> Result
    ) async throws -> Result {
        let recorder = ChangeRecorder(ids: ids, now: now)
        let result = try await database.transaction { db in
            recorder.begin()
            return try await body(db, recorder)
        }
        feed.publish(recorder.signals)
        return result
    }

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
}
