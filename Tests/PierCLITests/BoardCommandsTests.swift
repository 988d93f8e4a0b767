import Foundation
import PierTesting
import Testing

@Suite("pier board migrate and pier user create")
struct BoardCommandsTests {
    @Test("migrate creates the schema once; user create stores an account, refuses duplicates and bad input")
    func sqlite() async throws {
        try await TemporaryDirectory.with { directory in
            let url = "sqlite://\(directory)/data/pier.sqlite"
            let first = try await PierBinary.run(["board", "migrate", "--database-url", url])
            #expect(first.status == 0, "\(first.error)")
            #expect(first.output.contains("applied migrations 1, 2"))
            let second = try await PierBinary.run(["board", "migrate", "--database-url", url])
            #expect(second.output.contains("schema is current"))

            let create = [
                "user", "create", "--database-url", url, "--email", "lead@example.com", "--name", "팀장 Kim", "--role",
                "supervisor", "--bcrypt-cost", "10",
            ]
            let withPassword = try await PierBinary.run(create + ["--password-stdin"], stdin: "correct horse battery\n")
            #expect(withPassword.status == 0, "\(withPassword.error)")
            #expect(withPassword.output.contains("created supervisor lead@example.com"))
            #expect(!withPassword.output.contains("password:"))

            let duplicate = try await PierBinary.run(create + ["--password-stdin"], stdin: "another password\n")
            #expect(duplicate.status == 1)
            #expect(duplicate.error.contains("already exists"))

            let generated = try await PierBinary.run([
                "user", "create", "--database-url", url, "--email", "pic@example.com", "--name", "Pic", "--role", "pic",
                "--bcrypt-cost", "10",
            ])
            #expect(generated.status == 0)
            let passwordLine = try #require(
                generated.output.split(separator: "\n").first { $0.hasPrefix("password: ") })
            #expect(passwordLine.dropFirst("password: ".count).count == 20)

            let short = try await PierBinary.run(
                [
                    "user", "create", "--database-url", url, "--email", "x@example.com", "--name", "X", "--role", "pic",
                    "--password-stdin",
                ], stdin: "short\n")
            #expect(short.status != 0)
            #expect(short.error.contains("at least 10 characters"))
            let badEmail = try await PierBinary.run([
                "user", "create", "--database-url", url, "--email", "nope", "--name", "X", "--role", "pic",
            ])
            #expect(badEmail.status != 0)
            #expect(badEmail.error.contains("is not an email address"))
            let badRole = try await PierBinary.run([
                "user", "create", "--database-url", url, "--email", "r@example.com", "--name", "X", "--role", "admin",
            ])
            #expect(badRole.status != 0)
            let badURL = try await PierBinary.run(["board", "migrate", "--database-url", "mysql://x"])
            #expect(badURL.status != 0)
            #expect(badURL.error.contains("unsupported database URL"))
        }
    }

    @Test("migrate and user create work against PostgreSQL", .enabled(if: PostgresFixture.isConfigured))
    func postgres() async throws {
        let url = try PostgresFixture.requireURL()
        let migrate = try await PierBinary.run(["board", "migrate", "--database-url", url])
        #expect(migrate.status == 0, "\(migrate.error)")
        let again = try await PierBinary.run(["board", "migrate", "--database-url", url])
        #expect(again.output.contains("schema is current"))
        let email = "pg-\(UUID().uuidString.prefix(8))@example.com"
        let create = try await PierBinary.run([
            "user", "create", "--database-url", url, "--email", email, "--name", "PG", "--role", "pic", "--bcrypt-cost",
            "10",
        ])
        #expect(create.status == 0, "\(create.error)")
        #expect(create.output.contains("created pic \(email)"))
    }
}
