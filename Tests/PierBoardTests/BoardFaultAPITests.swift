import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PierBoard
import PierBoardStore
import PierTesting
import Testing

/// What the API answers when its database fails: problem documents with their own codes, never a hang or a 500.
@Suite("Board API: database faults")
struct BoardFaultAPITests {
    @Test("SQLite disk full: 507 storage_full; reads keep working; writes work again once there is room")
    func diskFull() async throws {
        try await APIWorld.with(.sqlite) { world, client in
            let token = try world.token(world.supervisor)
            let database = world.repository.database
            let pages = try await database.query("PRAGMA page_count")[0].int("page_count")
            try await database.query("PRAGMA max_page_count = \(pages + 40)")
            let tasks = "/api/v1/boards/\(world.board.id)/tasks"
            let body = #"{"title":"fill","content":"\#(String(repeating: "d", count: 40_000))"}"#
            var refused: TestResponse?
            for _ in 0..<100 {
                let response = try await client.call(.post, tasks, token: token, json: body)
                if response.status != .created {
                    refused = response
                    break
                }
            }
            let full = try #require(refused)
            #expect(full.status.code == 507, "\(full.text)")
            #expect(full.problemCode == "storage_full", "\(full.text)")
            // The failure does not stick to the connection.
            let read = try await client.call(.get, tasks, token: token)
            #expect(read.status == .ok, "\(read.text)")
            let again = try await client.call(.post, tasks, token: token, json: body)
            #expect(again.problemCode == "storage_full", "\(again.text)")
            #expect(try await client.call(.get, "/readyz").status == .ok)

            try await database.query("PRAGMA max_page_count = 1073741823")
            let after = try await client.call(.post, tasks, token: token, json: body)
            #expect(after.status == .created, "\(after.text)")
        }
    }

    @Test("PostgreSQL down: /readyz and API requests answer 503 problems within seconds", .timeLimit(.minutes(2)))
    func postgresDown() async throws {
        try await BoardStoreFixture.withUnreachablePostgres { repository in
            let issuer = AccessTokenIssuer(signingKey: Curve25519.Signing.PrivateKey())
            let api = BoardAPI(
                repository: repository, tokens: issuer, passwords: PasswordHasher(cost: 10), logger: quietLogger)
            let token = try issuer.issue(userID: "u-1", role: .supervisor).token
            let app = Application(router: api.router(), logger: quietLogger)
            try await app.test(.router) { client in
                // `.router` requests run in this task; a hang shows as the test's time limit.
                let started = ContinuousClock.now
                let ready = try await client.call(.get, "/readyz")
                #expect(ready.status == .serviceUnavailable)
                #expect(ready.problemCode == "not_ready")
                let tasks = try await client.call(.get, "/api/v1/boards/b-1/tasks", token: token)
                #expect(tasks.status == .serviceUnavailable, "\(tasks.text)")
                #expect(tasks.problemCode == "database_unavailable", "\(tasks.text)")
                #expect(tasks.headers[.retryAfter] != nil)
                // Generous: an answer, not the 20 s+ hang of a pool queue without a bound.
                #expect(ContinuousClock.now - started < .seconds(15))
            }
        }
    }

    @Test("draining: /readyz answers 503 draining while the API keeps serving")
    func draining() async throws {
        try await APIWorld.with(.sqlite) { world, client in
            #expect(try await client.call(.get, "/readyz").status == .ok)
            world.api.startDraining()
            let ready = try await client.call(.get, "/readyz")
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.problemCode == "draining")
            #expect(try await client.call(.get, "/healthz").status == .ok)
            let token = try world.token(world.supervisor)
            let tasks = try await client.call(.get, "/api/v1/boards/\(world.board.id)/tasks", token: token)
            #expect(tasks.status == .ok)
        }
    }
}
