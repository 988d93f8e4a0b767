import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle

/// Opens the board's database from a ``DatabaseURL``.
public enum BoardDatabase {
    /// Runs `body` with a repository on the database, then closes it; for one-shot commands such as migrations.
    public static func withRepository<Value: Sendable>(
        _ url: DatabaseURL,
        logger: Logger,
        _ body: @Sendable (SQLBoardRepository) async throws -> Value
    ) async throws -> Value {
        switch url {
        case .sqlite(let path):
            let database = try await SQLiteSQLDatabase.open(path: path, logger: logger)
            do {
                let value = try await body(SQLBoardRepository(database: database))
                try await database.close()
                return value
            } catch {
                try? await database.close()
                throw error
            }
        case .postgres(let location):
            let client = PostgresClient(configuration: configuration(location), backgroundLogger: logger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(SQLBoardRepository(database: PostgresSQLDatabase(client: client, logger: logger)))
            }
        }
    }

    /// An open database for a long-running server: the repository, the services that must run alongside it (the
    /// PostgreSQL connection pool) and how to close it after they have stopped.
    public struct Opened: Sendable {
        public let repository: SQLBoardRepository
        public let services: [any Service]
        public let close: @Sendable () async -> Void
    }

    /// Opens the database for a server; run `services` in the server's `ServiceGroup` and call `close` at the end.
    public static func open(_ url: DatabaseURL, logger: Logger) async throws -> Opened {
        switch url {
        case .sqlite(let path):
            let database = try await SQLiteSQLDatabase.open(path: path, logger: logger)
            return Opened(repository: SQLBoardRepository(database: database), services: []) {
                do {
                    try await database.close()
                } catch {
                    logger.error("closing the database failed", metadata: ["error": "\(error)"])
                }
            }
        case .postgres(let location):
            let client = PostgresClient(configuration: configuration(location), backgroundLogger: logger)
            let repository = SQLBoardRepository(database: PostgresSQLDatabase(client: client, logger: logger))
            return Opened(
                repository: repository,
                services: [client, PostgresChangeListener(client: client, feed: repository.feed, logger: logger)]
            ) {}
        }
    }

    /// The `PostgresClient` configuration for a location: TLS when `sslmode=require` or `verify-full` (both verify
    /// the server's certificate and name, against `sslrootcert` when given, else the system's trust store); a 5 s
    /// connect timeout.
    public static func configuration(_ location: DatabaseURL.PostgresLocation) -> PostgresClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let path = location.rootCertificatePath { tls.trustRoots = .file(path) }
        var configuration = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.username,
            password: location.password,
            database: location.database,
            tls: location.requireTLS ? .require(tls) : location.preferTLS ? .prefer(tls) : .disable
        )
        // A host that does not answer at all is given up on sooner than postgres-nio's 10 s, so the pool's retries
        // notice sooner when it is back. Statements wait for a connection at most PostgresSQLDatabase's timeout.
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
