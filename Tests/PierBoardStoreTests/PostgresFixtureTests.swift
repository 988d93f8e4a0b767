import Logging
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
