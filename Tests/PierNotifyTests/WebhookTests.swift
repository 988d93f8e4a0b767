import Foundation
import Logging
import PierBoardStore
import PierMail
import PierTesting
import Testing

@testable import PierNotify

/// Webhooks against a real receiver that checks every signature with the `standardwebhooks` package.
@Suite("Notifier: webhooks")
struct WebhookTests {
    static func notifier(_ repository: SQLBoardRepository, clock: TestClock, sender: HTTPWebhookSender) -> Notifier {
        var settings = NotifierSettings()
        settings.firstRetry = .seconds(10)
        return Notifier(
            store: SQLNotificationStore(database: repository.database, clock: { clock.now }), sender: nil,
            mail: NotifierTests.mail, webhookSender: sender, settings: settings, logger: NotifierTests.logger,
            now: { clock.now }, random: { 0.5 })
    }

    @Test(
        "a move reaches the board's webhook signed, retried with the same webhook-id after two failures",
        arguments: StoreBackend.available)
    func signedAndRetried(backend: StoreBackend) async throws {
        // Near the real time: receivers refuse calls whose webhook-timestamp is more than 5 minutes off.
        let clock = TestClock(start: Int64(Date().timeIntervalSince1970 * 1000))
        let sender = HTTPWebhookSender()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            try await WebhookTestReceiver.with(["--fail-first", "2"]) { receiver in
                let (hook, secret) = try await repository.createWebhook(
                    boardID: team.board.id, url: receiver.url("ops"), events: ["task.status_changed"],
                    actorID: team.actor.id)
                #expect(secret.hasPrefix("whsec_"))
                try receiver.setSecret(secret, for: "ops")
                let task = try await repository.createTask(
                    boardID: team.board.id, NewTask(title: "배포 준비", assigneeID: team.pic.id), actorID: team.actor.id)
                _ = try await repository.moveTask(
                    id: task.id, toColumnID: team.board.columns[1].id, afterID: nil, beforeID: nil,
                    expectedVersion: task.version, actorID: team.pic.id)
                let notifier = Self.notifier(repository, clock: clock, sender: sender)
                // First attempt: 500. The retry waits its back-off (10 s, doubled), on the test's clock.
                #expect(try await notifier.turn() == 1)
                #expect(try await notifier.turn() == 0)
                clock.advance(.seconds(11))
                #expect(try await notifier.turn() == 1)
                clock.advance(.seconds(21))
                #expect(try await notifier.turn() == 1)
                clock.advance(.seconds(60))
                #expect(try await notifier.turn() == 0)

                let calls = try receiver.received()
                #expect(calls.map(\.status) == [500, 500, 204])
                let failures = calls.map { $0.error ?? "ok" }
                #expect(calls.allSatisfy { $0.verified }, "\(failures)")
                #expect(Set(calls.compactMap { $0.headers["webhook-id"] }).count == 1)
                // Only the kind it asked for: the task's creation and assignment were not sent.
                #expect(calls.map(\.type) == Array(repeating: "task.status_changed", count: 3))
                let data = try #require(calls.last?.data)
                #expect(data["task_id"] as? String == task.id)
                #expect(data["title"] as? String == "배포 준비")
                #expect(data["actor_name"] as? String == "김민지")
                #expect(data["board_name"] as? String == "운영팀")
                #expect(data["to_column"] as? String == team.board.columns[1].name)

                let deliveries = try await repository.webhookDeliveries(webhookID: hook.id, limit: 10)
                #expect(deliveries.count == 1)
                #expect(deliveries.first?.state == "delivered")
                #expect(deliveries.first?.attempts == 3)
                #expect(deliveries.first?.lastStatus == 204)
                #expect(deliveries.first?.id == calls.first?.headers["webhook-id"])
            }
        }
        await sender.shutdown()
    }

    @Test("the test button sends webhook.test; a 4xx answer is a dead letter that can be sent again")
    func testAndDeadLetter() async throws {
        // Near the real time: receivers refuse calls whose webhook-timestamp is more than 5 minutes off.
        let clock = TestClock(start: Int64(Date().timeIntervalSince1970 * 1000))
        let sender = HTTPWebhookSender()
        try await BoardStoreFixture.withRepository(.sqlite, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            try await WebhookTestReceiver.with(["--status", "403"]) { receiver in
                let (hook, secret) = try await repository.createWebhook(
                    boardID: team.board.id, url: receiver.url("all"), events: [], actorID: team.actor.id)
                try receiver.setSecret(secret, for: "all")
                let testID = try #require(
                    try await repository.queueWebhookTest(boardID: team.board.id, id: hook.id, actorID: team.actor.id))
                let notifier = Self.notifier(repository, clock: clock, sender: sender)
                #expect(try await notifier.turn() == 1)
                let calls = try receiver.received()
                #expect(calls.map(\.type) == ["webhook.test"])
                #expect(calls.first?.verified == true)
                var deliveries = try await repository.webhookDeliveries(webhookID: hook.id, limit: 10)
                #expect(deliveries.map(\.state) == ["dead"])
                #expect(deliveries.first?.lastStatus == 403)
                #expect(deliveries.first?.lastError?.contains("HTTP 403") == true)

                #expect(try await repository.retryWebhookDelivery(webhookID: hook.id, id: testID))
                #expect(try await !repository.retryWebhookDelivery(webhookID: hook.id, id: testID))
                #expect(try await notifier.turn() == 1)
                #expect(try receiver.received().count == 2)
                deliveries = try await repository.webhookDeliveries(webhookID: hook.id, limit: 10)
                #expect(deliveries.first?.attempts == 2)

                // A webhook with no events named gets every kind.
                _ = try await repository.createTask(
                    boardID: team.board.id, NewTask(title: "모든 이벤트", assigneeID: team.pic.id), actorID: team.actor.id)
                #expect(try await notifier.turn() == 1)
                #expect(try receiver.received().last?.type == "task.assigned")

                #expect(try await repository.deleteWebhook(boardID: team.board.id, id: hook.id, actorID: team.actor.id))
                #expect(try await repository.webhooks(boardID: team.board.id).isEmpty)
            }
        }
        await sender.shutdown()
    }

    @Test("the signature is the Standard Webhooks one")
    func signature() {
        // The example of the Standard Webhooks specification's reference libraries.
        let signature = WebhookSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: #"{"test": 2432232314}"#,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }
}
