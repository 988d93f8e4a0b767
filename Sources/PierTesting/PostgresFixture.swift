import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The throwaway PostgreSQL cluster that `scripts/test` starts, found through `PIER_TEST_POSTGRES_URL`.
///
/// Tests that need PostgreSQL use ``isConfigured`` as their enabling condition and ``url()`` to get the URL.
/// Under CI (`CI=true`) a missing URL is an error, never a silent skip.
public enum PostgresFixture {
    /// The environment variable `scripts/test` exports.
    public static let environmentKey = "PIER_TEST_POSTGRES_URL"

    /// Whether a PostgreSQL test should run: always under CI (where it then fails without a URL), otherwise only
    /// when a URL is given.
    public static var isConfigured: Bool {
        url == nil ? isCI : true
    }

    /// Whether this is a CI run.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true"
    }

    static var url: String? {
        ProcessInfo.processInfo.environment[environmentKey].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Thrown when a PostgreSQL test runs without a cluster.
    public struct MissingClusterError: Error, CustomStringConvertible {
        public var description: String {
            "\(PostgresFixture.environmentKey) is not set: run the tests through scripts/test, which starts a throwaway PostgreSQL cluster"
        }
    }

    /// The URL of the test cluster.
    public static func requireURL() throws -> String {
        guard let url else { throw MissingClusterError() }
        return url
    }

    /// A `PostgresClient` configuration for the test cluster.
    public static func clientConfiguration() throws -> PostgresClient.Configuration {
        let text = try requireURL()
        guard let components = URLComponents(string: text), let host = components.host, let user = components.user
        else { throw MissingClusterError() }
        return PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user,
            password: components.password,
            database: String(components.path.dropFirst()),
            tls: .disable
        )
    }

    /// Runs `body` with a connected client whose run loop is cancelled afterwards.
    @discardableResult
    public static func withClient<Result: Sendable>(
        logger: Logger = Logger(label: "pier.test.postgres"),
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: try clientConfiguration(), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A schema name unique to one test, so tests sharing the cluster never see each other's tables.
    public static func uniqueName(_ prefix: String = "t") -> String {
        "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
    }
}

extension PostgresFixture {
    /// Runs `body` with the URL of a new, empty database on the test cluster, dropped afterwards (even while
    /// processes are still connected).
    public static func withDatabase<Value: Sendable>(
        _ body: @Sendable (String) async throws -> Value
    ) async throws -> Value {
        let name = uniqueName("db")
        guard var components = URLComponents(string: try requireURL()) else { throw MissingClusterError() }
        components.path = "/" + name
        guard let url = components.string else { throw MissingClusterError() }
        try await withClient { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
        let outcome: Swift.Result<Value, any Error>
        do {
            outcome = .success(try await body(url))
        } catch {
            outcome = .failure(error)
        }
        try await withClient { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)")) }
        return try outcome.get()
    }
}

extension PostgresFixture {
    /// A client configuration for a PostgreSQL that is down: a loopback port nothing listens on, so every
    /// connection attempt is refused.
    public static func unreachableConfiguration() async throws -> PostgresClient.Configuration {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 1
        try await channel.close()
        return PostgresClient.Configuration(
            host: "127.0.0.1", port: port, username: "pier", password: nil, database: "pier", tls: .disable)
    }
}
