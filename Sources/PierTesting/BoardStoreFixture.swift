import Foundation
import Logging
import PierBoardStore
import PostgresNIO

/// The databases the board store runs on; conformance tests run once per backend.
public enum StoreBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    /// SQLite always; PostgreSQL when `scripts/test` provides a cluster (and always under CI, where its absence fails).
    public static var available: [StoreBackend] {
        PostgresFixture.isConfigured ? [.sqlite, .postgres] : [.sqlite]
    }

    public var description: String { rawValue }
}

/// Fresh, migrated repositories for tests: a new SQLite file, or a new PostgreSQL schema on the test cluster.
public enum BoardStoreFixture {
    /// Runs `body` with an empty, migrated repository on `backend`, and removes it afterwards.
    public static func withRepository<Value: Sendable>(
        _ backend: StoreBackend,
        clock: (@Sendable () -> Int64)? = nil,
        _ body: @Sendable (SQLBoardRepository) async throws -> Value
    ) async throws -> Value {
        let logger = Logger(label: "pier.test.store", factory: { _ in SwiftLogNoOpLogHandler() })
        switch backend {
        case .sqlite:
            return try await TemporaryDirectory.with { directory in
                let database = try await SQLiteSQLDatabase.open(path: directory + "/pier.sqlite", logger: logger)
                let repository = makeRepository(database, clock: clock)
                do {
                    try await repository.migrate()
                    let result = try await body(repository)
                    try await database.close()
                    return result
                } catch {
                    try? await database.close()
                    throw error
                }
            }
        case .postgres:
            let schema = PostgresFixture.uniqueName("store")
            _ = try await PostgresFixture.withClient { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
            }
            var configuration = try PostgresFixture.clientConfiguration()
            configuration.options.additionalStartupParameters = [("search_path", schema)]
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            let outcome: Result<Value, any Error> = await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                do {
                    let repository = makeRepository(PostgresSQLDatabase(client: client, logger: logger), clock: clock)
                    try await repository.migrate()
                    return .success(try await body(repository))
                } catch {
                    return .failure(error)
                }
            }
            _ = try await PostgresFixture.withClient { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
            }
            return try outcome.get()
        }
    }

    static func makeRepository(_ database: any SQLDatabase, clock: (@Sendable () -> Int64)?) -> SQLBoardRepository {
        if let clock { return SQLBoardRepository(database: database, clock: clock) }
        return SQLBoardRepository(database: database)
    }
}

extension BoardStoreFixture {
    /// Runs `body` with a repository on a PostgreSQL that is down: every connection attempt is refused.
    public static func withUnreachablePostgres<Value: Sendable>(
        _ body: @Sendable (SQLBoardRepository) async throws -> Value
    ) async throws -> Value {
        let logger = Logger(label: "pier.test.store", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = PostgresClient(
            configuration: try await PostgresFixture.unreachableConfiguration(), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(SQLBoardRepository(database: PostgresSQLDatabase(client: client, logger: logger)))
        }
    }
}

extension BoardStoreFixture {
    /// Runs `body` with `count` repositories on one fresh, migrated PostgreSQL schema, each with its own pool and its
    /// own change listener, as that many board instances would have.
    public static func withPostgresInstances<Value: Sendable>(
        _ count: Int,
        _ body: @Sendable ([SQLBoardRepository]) async throws -> Value
    ) async throws -> Value {
        let logger = Logger(label: "pier.test.store", factory: { _ in SwiftLogNoOpLogHandler() })
        let schema = PostgresFixture.uniqueName("live")
        _ = try await PostgresFixture.withClient { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
        }
        var configuration = try PostgresFixture.clientConfiguration()
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let clients = (0..<count).map { _ in PostgresClient(configuration: configuration, backgroundLogger: logger) }
        let repositories = clients.map { SQLBoardRepository(database: PostgresSQLDatabase(client: $0, logger: logger)) }
        let outcome: Result<Value, any Error> = await withTaskGroup(of: Void.self) { group in
            for (client, repository) in zip(clients, repositories) {
                group.addTask { await client.run() }
                group.addTask {
                    try? await PostgresChangeListener(client: client, feed: repository.feed, logger: logger).run()
                }
            }
            defer { group.cancelAll() }
            do {
                try await repositories[0].migrate()
                return .success(try await body(repositories))
            } catch {
                return .failure(error)
            }
        }
        _ = try await PostgresFixture.withClient { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
        }
        return try outcome.get()
    }
}
