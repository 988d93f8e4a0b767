import Foundation
import Logging
import PierBoardStore
import PierTesting
import PostgresNIO
import Testing

/// The store when its database fails under it: a full disk (SQLite), an unreachable or dropped PostgreSQL.
@Suite("Board store faults")
struct StoreFaultTests {
    static let logger = Logger(label: "pier.test.faults", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `operation`, giving up after `seconds`: nil means it was still waiting. The bound only tells "answers"
    /// from "hangs"; it is far above the few seconds an answer may take.
    static func answer<Value: Sendable>(
        within seconds: Int = 10, _ operation: @escaping @Sendable () async throws -> Value
    ) async -> Result<Value, any Error>? {
        await withTaskGroup(of: Result<Value, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await operation()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    static func isUnavailable(_ outcome: Result<some Sendable, any Error>?) -> Bool {
        guard case .failure(let error) = outcome else { return false }
        return (error as? StoreError)?.isUnavailable == true
    }

    // MARK: SQLite

    /// A migrated repository on a SQLite file with one Supervisor and a board.
    static func withSQLite(
        _ body: @Sendable (SQLiteSQLDatabase, SQLBoardRepository, _ actor: String, _ board: String) async throws -> Void
    ) async throws {
        try await TemporaryDirectory.with { directory in
            let database = try await SQLiteSQLDatabase.open(path: directory + "/pier.sqlite", logger: logger)
            do {
                let repository = SQLBoardRepository(database: database)
                try await repository.migrate()
                let user = try await repository.createUser(
                    email: "sup@example.com", name: "Sup", role: .supervisor, passwordHash: "h", actorID: nil)
                let board = try await repository.createBoard(name: "Full", actorID: user.id)
                try await body(database, repository, user.id, board.id)
                try await database.close()
            } catch {
                try? await database.close()
                throw error
            }
        }
    }

    @Test("SQLite disk full: the write is storageFull, reads go on, writes work again once there is room")
    func sqliteFull() async throws {
        try await Self.withSQLite { database, repository, actor, board in
            // A database limit a few pages above its size: SQLITE_FULL, as from a full disk, without a tmpfs.
            let pages = try await database.query("PRAGMA page_count")[0].int("page_count")
            try await database.query("PRAGMA max_page_count = \(pages + 40)")
            let content = String(repeating: "d", count: 40_000)
            var written = 0
            var failure: (any Error)?
            for index in 0..<100 {
                do {
                    _ = try await repository.createTask(
                        boardID: board, NewTask(title: "fill-\(index)", content: content), actorID: actor)
                    written += 1
                } catch {
                    failure = error
                    break
                }
            }
            let error = try #require(
                failure as? StoreError, "expected a StoreError, got \(String(describing: failure))")
            #expect(error.isStorageFull)
            // The connection is not left unusable: reads work, and so does a second failing write.
            #expect(try await repository.board(id: board) != nil)
            #expect(
                try await repository.tasks(boardID: board, query: TaskQuery(now: 0, limit: 200)).tasks.count == written)
            await #expect(throws: StoreError.self) {
                _ = try await repository.createTask(
                    boardID: board, NewTask(title: "again", content: content), actorID: actor)
            }
            #expect(try await repository.board(id: board) != nil)

            try await database.query("PRAGMA max_page_count = 1073741823")
            let after = try await repository.createTask(
                boardID: board, NewTask(title: "after", content: content), actorID: actor)
            #expect(try await repository.task(id: after.id)?.title == "after")
            #expect(try await database.query("PRAGMA integrity_check")[0].text("integrity_check") == "ok")
        }
    }

    @Test("SQLite: a transaction SQLite ended by itself does not leave the connection unusable")
    func sqliteTransactionEndedBySQLite() async throws {
        try await Self.withSQLite { database, repository, actor, board in
            // After SQLITE_FULL or an I/O error SQLite may roll the whole transaction back itself; the body then
            // fails and the explicit ROLLBACK finds no transaction. This body ends it the same way, then fails.
            struct Failed: Error {}
            await #expect(throws: Failed.self) {
                try await database.transaction { db in
                    try await db.query(
                        "INSERT INTO boards (id, name, created_by, created_at) VALUES ('b-x', 'X', $1, 0)",
                        [.text(actor)])
                    try await db.query("ROLLBACK")
                    throw Failed()
                }
            }
            #expect(try await repository.board(id: board) != nil)
            let task = try await repository.createTask(boardID: board, NewTask(title: "still works"), actorID: actor)
            #expect(try await repository.task(id: task.id) != nil)
            #expect(try await repository.board(id: "b-x") == nil)
        }
    }

    // MARK: PostgreSQL

    @Test("PostgreSQL down: statements and readiness fail as unavailable within seconds instead of hanging")
    func postgresDown() async throws {
        try await BoardStoreFixture.withUnreachablePostgres { repository in
            let ready = await Self.answer { await repository.isReady() }
            #expect(ready.map { (try? $0.get()) == false } == true, "isReady still waiting after 10 s")
            let read = await Self.answer { try await repository.board(id: "b1") }
            #expect(Self.isUnavailable(read), "expected StoreError.unavailable, got \(String(describing: read))")
            let write = await Self.answer {
                try await repository.createBoard(name: "Down", actorID: "u1")
            }
            #expect(Self.isUnavailable(write), "expected StoreError.unavailable, got \(String(describing: write))")
        }
    }

    @Test(
        "PostgreSQL: a statement whose connection dies is unavailable, and the pool recovers",
        .enabled(if: PostgresFixture.isConfigured))
    func postgresConnectionDies() async throws {
        try await PostgresFixture.withClient(logger: Self.logger) { client in
            let database = PostgresSQLDatabase(client: client, logger: Self.logger)
            let marker = PostgresFixture.uniqueName("victim")
            let victim = Task {
                try await database.query("SELECT pg_sleep(30) AS \(marker)")
            }
            try await PostgresFixture.withClient(logger: Self.logger) { admin in
                // Wait for the statement to run, then end its backend as a server restart would.
                for _ in 0..<200 {
                    let rows = try await admin.query(
                        PostgresQuery(
                            unsafeSQL:
                                "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE query LIKE '%AS \(marker)%' AND pid <> pg_backend_pid()"
                        )
                    ).collect()
                    if !rows.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let outcome = await Self.answer { try await victim.value }
            #expect(Self.isUnavailable(outcome), "expected StoreError.unavailable, got \(String(describing: outcome))")
            // The pool notices the dead connection and makes another; on a loaded machine the first statement after
            // may still meet the old one.
            var one: Int64?
            for _ in 0..<20 where one == nil {
                do {
                    one = try await database.query("SELECT 1 AS one").first?.int("one")
                } catch {
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            #expect(one == 1, "the pool did not recover within 5 s")
        }
    }
}
