import Foundation
import HTTPTypes
import HummingbirdTesting
import PierBoard
import PierBoardStore
import PierTesting
import Testing

/// The webhook endpoints' answers: what is accepted, what is refused and why, and that a secret is shown once.
@Suite("Webhook API")
struct WebhookAPITests {
    @Test("a webhook is created with its secret shown once; bad URLs, private addresses and unknown kinds are refused")
    func createAndRefuse() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let path = "/api/v1/boards/\(world.board.id)/webhooks"
            let created = try await client.call(
                .post, path, token: token,
                json: #"{"url":"https://hooks.example.com/pier","events":["task.assigned","task.status_changed"]}"#)
            #expect(created.status == .created, "\(created.text)")
            let secret = try #require(created.object["secret"] as? String)
            #expect(secret.hasPrefix("whsec_"))
            #expect(Data(base64Encoded: String(secret.dropFirst(6)))?.count == 24)
            #expect(created.object["events"] as? [String] == ["task.assigned", "task.status_changed"])
            #expect(created.headers[.location] == "\(path)/\(created.object["id"] as? String ?? "")")
            let listed = try await client.call(.get, path, token: token)
            #expect(listed.array.count == 1)
            #expect(listed.array.first?["secret"] == nil)
            #expect(!listed.text.contains(secret))

            for (body, detail) in [
                (#"{"url":"ftp://hooks.example.com/x"}"#, "http or https"),
                (#"{"url":"https://user:pw@hooks.example.com/x"}"#, "user name or password"),
                (#"{"url":"http://127.0.0.1:9000/x"}"#, "--webhooks-allow-private"),
                (#"{"url":"http://localhost/x"}"#, "--webhooks-allow-private"),
                (#"{"url":"http://[::1]:8080/x"}"#, "--webhooks-allow-private"),
                (#"{"url":"http://169.254.169.254/latest"}"#, "--webhooks-allow-private"),
                (#"{"url":"http://10.1.2.3/x"}"#, "--webhooks-allow-private"),
                (#"{"url":"https://hooks.example.com/x","events":["task.exploded"]}"#, "is not one of"),
                (#"{"events":[]}"#, "url"),
            ] {
                let refused = try await client.call(.post, path, token: token, json: body)
                #expect(refused.status == .badRequest, "\(body): \(refused.text)")
                #expect(refused.text.contains(detail), "\(body): \(refused.text)")
            }
            for index in 2...10 {
                let more = try await client.call(
                    .post, path, token: token, json: #"{"url":"https://hooks.example.com/\#(index)"}"#)
                #expect(more.status == .created)
            }
            let eleventh = try await client.call(
                .post, path, token: token, json: #"{"url":"https://hooks.example.com/11"}"#)
            #expect(eleventh.status == .conflict)
            #expect(eleventh.problemCode == "too_many_webhooks")

            // A webhook of another board is not found through this one.
            let other = try await world.repository.createBoard(name: "Other", actorID: world.supervisor.id)
            let foreign = try await world.repository.createWebhook(
                boardID: other.id, url: "https://hooks.example.com/o", events: [], actorID: world.supervisor.id)
            let crossed = try await client.call(.delete, "\(path)/\(foreign.webhook.id)", token: token)
            #expect(crossed.status == .notFound)
        }
    }

    @Test("--webhooks-allow-private lets a webhook call a loopback address")
    func allowPrivate() async throws {
        try await APIWorld.with(settings: BoardAPISettings(allowPrivateWebhookTargets: true)) { world, client in
            let created = try await client.call(
                .post, "/api/v1/boards/\(world.board.id)/webhooks", token: try world.token(world.supervisor),
                json: #"{"url":"http://127.0.0.1:9000/hook"}"#)
            #expect(created.status == .created, "\(created.text)")
        }
    }
}
