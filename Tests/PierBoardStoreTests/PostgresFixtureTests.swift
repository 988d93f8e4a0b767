import Foundation
import Logging
import PierBoardStore
import PierTesting
import PostgresNIO
import Testing

@Suite("PostgreSQL test fixture", .enabled(if: PostgresFixture.isConfigured))
struct PostgresFixtureTests {
    @Test("the cluster from scripts/test is real: create a table, write, read back")
    func roundTrip() async throws {
        let table = PostgresFixture.uniqueName("fixture")
        let rows = try await PostgresFixture.withClient { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "CREATE TABLE \(table) (id integer PRIMARY KEY, name text NOT NULL)"))
            try await client.query("INSERT INTO \(unescaped: table) (id, name) VALUES (\(1), \("부두 pier"))")
            var names: [String] = []
            for try await (id, name) in try await client.query("SELECT id, name FROM \(unescaped: table)").decode(
                (Int, String).self)
            {
                names.append("\(id):\(name)")
            }
            let version = try await client.query("SHOW server_version").collect().first?.decode(String.self)
            try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE \(table)"))
            return (names, version)
        }
        #expect(rows.0 == ["1:부두 pier"])
        #expect(rows.1?.isEmpty == false)
    }
}

@Suite("PostgreSQL over TLS", .enabled(if: PostgresFixture.isConfigured))
struct PostgresTLSTests {
    struct TimedOut: Error {}

    /// Whether one query over a connection made from `url` works within 10 s, and then whether it used TLS.
    static func connects(_ url: DatabaseURL) async -> Result<Bool, any Error> {
        guard case .postgres(let location) = url else { return .failure(TimedOut()) }
        let client = PostgresClient(
            configuration: BoardDatabase.configuration(location),
            backgroundLogger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return await withTaskGroup(of: Result<Bool, any Error>?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            group.addTask {
                do {
                    let rows = try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                        .collect()
                    return .success(try rows.first?.decode(Bool.self) ?? false)
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return .failure(TimedOut())
            }
            var outcome: Result<Bool, any Error> = .failure(TimedOut())
            for await result in group {
                if let result {
                    outcome = result
                    break
                }
            }
            group.cancelAll()
            return outcome
        }
    }

    @Test("a private CA: sslrootcert verifies the server (TLS in use); the system's trust store alone refuses it")
    func privateCA() async throws {
        let base = try PostgresFixture.requireURL()
        let ca = try #require(ProcessInfo.processInfo.environment["PIER_TEST_POSTGRES_CA"], "scripts/test sets it")
        let verified = try DatabaseURL(parsing: "\(base)?sslmode=verify-full&sslrootcert=\(ca)")
        let outcome = await Self.connects(verified)
        #expect((try? outcome.get()) == true, "\(outcome)")
        // The same server without its CA: the certificate is not trusted, nothing is sent.
        let untrusted = try DatabaseURL(parsing: "\(base)?sslmode=require")
        await #expect(throws: (any Error).self) { try await Self.connects(untrusted).get() }
        // Plain connections stay plain.
        #expect(try await Self.connects(try DatabaseURL(parsing: base)).get() == false)
    }
}
