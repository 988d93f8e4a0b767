import Foundation
import Logging
import PierBoardStore
import PierMail
import PierTesting
import Synchronization
import Testing

@testable import PierNotify

/// A clock the test moves by hand, shared by the repository, the store and the notifier.
final class TestClock: Sendable {
    private let value: Atomic<Int64>

    init(start: Int64 = 1_796_236_800_000) { value = Atomic(start) }

    var now: Int64 { value.load(ordering: .relaxed) }
    /// The clock as a function, for the repository and the store.
    var reading: @Sendable () -> Int64 { { self.now } }
    func advance(_ duration: Duration) { value.add(Notifier.milliseconds(duration), ordering: .relaxed) }
}

/// Takes every message, remembers its Message-ID and recipient.
final class RecordingSender: MailSender {
    private let sent = Mutex<[MailMessage]>([])
    var messages: [MailMessage] { sent.withLock { $0 } }

    func send(_ message: MailMessage) async -> SMTPDeliveryResult {
        sent.withLock { $0.append(message) }
        return .delivered(SMTPReply(code: 250, lines: ["ok"]))
    }
}

/// A board with a Supervisor who acts, a second Supervisor, and a PIC, all members.
struct Team {
    var actor: User
    var supervisor: User
    var pic: User
    var outsider: User
    var board: Board

    static func make(_ repository: SQLBoardRepository) async throws -> Team {
        let actor = try await repository.createUser(
            email: "lead@example.com", name: "Lead", role: .supervisor, passwordHash: "x", actorID: nil)
        let supervisor = try await repository.createUser(
            email: "second@example.com", name: "Second", role: .supervisor, passwordHash: "x", actorID: nil)
        let pic = try await repository.createUser(
            email: "minji@example.com", name: "김민지", role: .pic, passwordHash: "x", actorID: nil)
        let outsider = try await repository.createUser(
            email: "outsider@example.com", name: "Outsider", role: .supervisor, passwordHash: "x", actorID: nil)
        let board = try await repository.createBoard(name: "운영팀", actorID: actor.id)
        try await repository.addMember(boardID: board.id, userID: supervisor.id, actorID: actor.id)
        try await repository.addMember(boardID: board.id, userID: pic.id, actorID: actor.id)
        return Team(actor: actor, supervisor: supervisor, pic: pic, outsider: outsider, board: board)
    }
}

@Suite("Notifier: outbox events become email")
struct NotifierTests {
    static let logger = Logger(label: "pier.test.notify", factory: { _ in SwiftLogNoOpLogHandler() })
    static let mail = NotificationMail(
        from: MailAddress("board@pier.example", name: "Pier"), publicURL: "https://board.example.com/")

    static func notifier(
        _ repository: SQLBoardRepository, clock: TestClock, sender: (any MailSender)?,
        settings: NotifierSettings = NotifierSettings()
    ) -> Notifier {
        Notifier(
            store: SQLNotificationStore(database: repository.database, clock: { clock.now }), sender: sender,
            mail: mail, settings: settings, logger: logger, now: { clock.now }, random: { 0.5 })
    }

    @Test(
        "an assignment and a move reach the assignee and the board's Supervisors, in each one's language, never the one who acted",
        arguments: StoreBackend.available)
    func recipientsAndLanguages(backend: StoreBackend) async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            try await repository.database.query(
                "UPDATE users SET language = 'ko' WHERE id = $1", [.text(team.pic.id)])
            try await SMTPTestServer.with { server in
                let client = SMTPClient(
                    endpoint: SMTPEndpoint(security: .none, host: "127.0.0.1", port: server.port),
                    helloName: "pier.test")
                let notifier = Self.notifier(repository, clock: clock, sender: client)
                let task = try await repository.createTask(
                    boardID: team.board.id, NewTask(title: "분기 보고서 <초안>", assigneeID: team.pic.id),
                    actorID: team.actor.id)
                #expect(try await notifier.turn() == 2)
                var received = try server.received()
                #expect(Set(received.flatMap(\.rcptTos)) == ["minji@example.com", "second@example.com"])
                let toPIC = try #require(received.first { $0.rcptTos == ["minji@example.com"] })
                #expect(toPIC.headers["Subject"] == "[운영팀] ‘분기 보고서 <초안>’ 작업이 배정되었습니다")
                #expect(toPIC.headers["Content-Language"] == "ko")
                #expect(toPIC.headers["X-Pier-Task"] == task.id)
                #expect(toPIC.parts.first?.content.contains("Lead 님이 ‘분기 보고서 <초안>’ 작업을 회원님에게 배정했습니다.") == true)
                let link = "https://board.example.com/boards/\(team.board.id)/tasks/\(task.id)"
                #expect(toPIC.parts.first?.content.contains(link) == true)
                #expect(toPIC.parts.last?.content.contains("분기 보고서 &lt;초안&gt;") == true)
                #expect(toPIC.parts.last?.content.contains("<초안>") == false)
                let toSupervisor = try #require(received.first { $0.rcptTos == ["second@example.com"] })
                #expect(toSupervisor.headers["Subject"] == "[운영팀] “분기 보고서 <초안>” was assigned to 김민지")
                #expect(toSupervisor.headers["Content-Language"] == "en")
                #expect(received.allSatisfy { $0.defects.isEmpty && $0.headers["From"] == "Pier <board@pier.example>" })

                // Nothing is sent twice.
                #expect(try await notifier.turn() == 0)

                // The second Supervisor moves it: the PIC and the first Supervisor hear of it, the mover does not.
                let columns = team.board.columns
                _ = try await repository.moveTask(
                    id: task.id, toColumnID: columns[1].id, afterID: nil, beforeID: nil, expectedVersion: nil,
                    actorID: team.supervisor.id)
                #expect(try await notifier.turn() == 2)
                received = try server.received()
                #expect(received.count == 4)
                let moved = received.suffix(2)
                #expect(Set(moved.flatMap(\.rcptTos)) == ["minji@example.com", "lead@example.com"])
                #expect(
                    moved.first { $0.rcptTos == ["minji@example.com"] }?.headers["Subject"]
                        == "[운영팀] ‘분기 보고서 <초안>’: To do → In progress")
                #expect(
                    moved.first { $0.rcptTos == ["lead@example.com"] }?.parts.first?.content.contains(
                        "Second moved “분기 보고서 <초안>” from To do to In progress.") == true)
                #expect(Set(received.compactMap { $0.headers["Message-ID"] }).count == 4)
            }
        }
    }

    @Test(
        "a 4xx is retried after the back-off with the same Message-ID; a 5xx is a dead letter a Supervisor can retry; every attempt is kept",
        arguments: StoreBackend.available)
    func retriesAndDeadLetters(backend: StoreBackend) async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            try await SMTPTestServer.with(["--fail-first", "1", "--refuse", "second@example.com"]) { server in
                let client = SMTPClient(
                    endpoint: SMTPEndpoint(security: .none, host: "127.0.0.1", port: server.port),
                    helloName: "pier.test")
                let notifier = Self.notifier(repository, clock: clock, sender: client)
                let store = SQLNotificationStore(database: repository.database, clock: { clock.now })
                // Only the PIC hears of this one (the second Supervisor is refused by the server).
                _ = try await repository.createTask(
                    boardID: team.board.id, NewTask(title: "Retry me", assigneeID: team.pic.id), actorID: team.actor.id)
                // Both are attempted in one turn; which one meets the single 451 depends on their order, so
                // send them one at a time: the refused one first.
                var settings = NotifierSettings()
                settings.batchSize = 1
                let oneAtATime = Self.notifier(repository, clock: clock, sender: client, settings: settings)
                _ = try await store.expandOutbox(limit: 10, email: true)
                let all = try await store.deliveries()
                #expect(all.count == 2)
                let toPIC = try #require(all.first { $0.recipientID == team.pic.id })
                let toSupervisor = try #require(all.first { $0.recipientID == team.supervisor.id })

                #expect(try await oneAtATime.turn() == 1)
                #expect(try await oneAtATime.turn() == 1)
                var states = Dictionary(uniqueKeysWithValues: try await store.deliveries().map { ($0.id, $0) })
                // The first attempt (whichever recipient it was) met the 451; the 550 is for the Supervisor.
                #expect(states[toSupervisor.id]?.state == "dead")
                #expect(states[toSupervisor.id]?.lastError?.contains("550") == true)
                let pending = states[toPIC.id]
                #expect(pending?.state == "pending" || pending?.state == "delivered")

                // Not due before the back-off (10 s ± 20 %, here exactly 10 s) has passed.
                clock.advance(.seconds(5))
                #expect(try await notifier.turn() == 0)
                clock.advance(.seconds(6))
                _ = try await notifier.turn()
                states = Dictionary(uniqueKeysWithValues: try await store.deliveries().map { ($0.id, $0) })
                #expect(states[toPIC.id]?.state == "delivered")
                let received = try server.received()
                #expect(received.map(\.rcptTos) == [["minji@example.com"]])
                #expect(received.first?.headers["Message-ID"] == "<delivery-\(toPIC.id)@pier.example>")

                let attempts = try await store.attempts(of: toPIC.id)
                #expect(attempts.last?.outcome == "delivered")
                #expect(attempts.last?.detail.contains("queued as") == true)
                if attempts.count == 2 {
                    #expect(attempts.first?.outcome == "retry")
                    #expect(attempts.first?.detail.contains("451") == true)
                }
                #expect(try await store.deliveries(state: "dead").map(\.id) == [toSupervisor.id])

                // A Supervisor retries the dead letter: it is attempted again (and refused again).
                #expect(try await store.retryDead(toSupervisor.id))
                #expect(try await store.retryDead(toPIC.id) == false)
                #expect(try await notifier.turn() == 1)
                let again = try await store.attempts(of: toSupervisor.id)
                #expect(again.map(\.outcome) == ["dead", "dead"])
            }
        }
    }

    @Test(
        "a delivery that keeps failing for longer than the maximum age becomes a dead letter",
        arguments: StoreBackend.available)
    func maximumAge(backend: StoreBackend) async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            var settings = NotifierSettings()
            settings.maximumAge = .seconds(60)
            let unreachable = SMTPClient(
                endpoint: SMTPEndpoint(security: .none, host: "127.0.0.1", port: 1), helloName: "pier.test")
            let notifier = Self.notifier(repository, clock: clock, sender: unreachable, settings: settings)
            let store = SQLNotificationStore(database: repository.database, clock: { clock.now })
            _ = try await repository.createTask(
                boardID: team.board.id, NewTask(title: "Nobody listens", assigneeID: team.pic.id),
                actorID: team.supervisor.id)
            var turns = 0
            repeat {
                _ = try await notifier.turn()
                clock.advance(.seconds(30))
                turns += 1
            } while try await !store.deliveries(state: "pending").isEmpty && turns < 20
            let dead = try await store.deliveries(state: "dead")
            #expect(dead.count == 2)
            #expect(dead.allSatisfy { $0.lastError?.contains("gave up after") == true })
            #expect(dead.allSatisfy { $0.lastError?.contains("connect") == true })
        }
    }

    @Test(
        "reminders: one due-soon to the PIC and one overdue to the PIC and Supervisors per due date, also across a restart; a done task gets none",
        arguments: StoreBackend.available)
    func reminders(backend: StoreBackend) async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            let hour: Int64 = 3_600_000
            let task = try await repository.createTask(
                boardID: team.board.id,
                NewTask(
                    title: "Report", assigneeID: team.pic.id, dueAt: clock.now + 30 * hour, dueTimeZone: "Asia/Seoul"),
                actorID: team.actor.id)
            _ = try await repository.createTask(
                boardID: team.board.id,
                NewTask(
                    title: "Finished", columnID: team.board.columns[3].id, assigneeID: team.pic.id,
                    dueAt: clock.now + 2 * hour),
                actorID: team.actor.id)

            let sender = RecordingSender()
            let notifier = Self.notifier(repository, clock: clock, sender: sender)
            _ = try await notifier.turn()  // the assignments
            let assigned = sender.messages.count

            // 30 h before: nothing yet. 20 h before: due soon, for the PIC only.
            #expect(try await notifier.remind() == 0)
            clock.advance(.seconds(10 * 3600))
            #expect(try await notifier.remind() == 1)
            _ = try await notifier.turn()
            var reminders = sender.messages.dropFirst(assigned)
            #expect(reminders.map { $0.to.map(\.address) } == [["minji@example.com"]])
            #expect(reminders.first?.headers.contains(.init("X-Pier-Event", "task.due_soon")) == true)
            #expect(reminders.first?.subject.hasPrefix("[운영팀] “Report” is due soon:") == true)
            #expect(reminders.first?.text.contains("(Asia/Seoul)") == true)

            // A restarted notifier (a new one on the same database) finds nothing new.
            let restarted = Self.notifier(repository, clock: clock, sender: sender)
            #expect(try await restarted.remind() == 0)

            // Past the due date: overdue, to the PIC and both Supervisors (nobody acted).
            clock.advance(.seconds(21 * 3600))
            #expect(try await restarted.remind() == 1)
            #expect(try await restarted.remind() == 0)
            _ = try await restarted.turn()
            reminders = sender.messages.dropFirst(assigned + 1)
            #expect(
                Set(reminders.flatMap { $0.to.map(\.address) })
                    == ["minji@example.com", "lead@example.com", "second@example.com"])
            #expect(reminders.allSatisfy { $0.headers.contains(.init("X-Pier-Event", "task.overdue")) })

            // A new due date gets its own reminders.
            _ = try await repository.updateTask(
                id: task.id, expectedVersion: task.version, changes: TaskChanges(dueAt: .some(clock.now + hour)),
                actorID: team.actor.id)
            #expect(try await restarted.remind() == 1)
        }
    }

    @Test(
        "a delivery claimed by an instance that dies is claimed again when its lease ends, with the same Message-ID",
        arguments: StoreBackend.available)
    func leaseExpiry(backend: StoreBackend) async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            _ = try await repository.createTask(
                boardID: team.board.id, NewTask(title: "Crash", assigneeID: team.pic.id), actorID: team.actor.id)
            let store = SQLNotificationStore(database: repository.database, clock: clock.reading)
            _ = try await store.expandOutbox(limit: 10, email: true)
            // The instance that claims them dies before sending: nothing is settled.
            let claimed = try await store.claimDue(limit: 10, lease: 120_000)
            #expect(claimed.count == 2)
            #expect(try await store.claimDue(limit: 10, lease: 120_000).isEmpty)
            clock.advance(.seconds(119))
            #expect(try await store.claimDue(limit: 10, lease: 120_000).isEmpty)
            clock.advance(.seconds(2))
            let sender = RecordingSender()
            #expect(try await Self.notifier(repository, clock: clock, sender: sender).turn() == 2)
            #expect(
                Set(sender.messages.map(\.messageID)) == Set(claimed.map { "delivery-\($0.id)@pier.example" }))
            #expect(try await store.deliveries(state: "delivered").map(\.attempts) == [2, 2])
        }
    }

    @Test(
        "a comment reaches the assignee and the Supervisors but not its author; taking someone off a task tells them alone",
        arguments: StoreBackend.available)
    func commentsAndUnassignment(backend: StoreBackend) async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(backend, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            let task = try await repository.createTask(
                boardID: team.board.id, NewTask(title: "Budget", assigneeID: team.pic.id), actorID: team.actor.id)
            let sender = RecordingSender()
            let notifier = Self.notifier(repository, clock: clock, sender: sender)
            _ = try await notifier.turn()
            var seen = sender.messages.count

            _ = try await repository.addComment(
                taskID: task.id, body: "Numbers are in the sheet.", actorID: team.pic.id)
            _ = try await notifier.turn()
            let commented = sender.messages.dropFirst(seen)
            #expect(Set(commented.flatMap { $0.to.map(\.address) }) == ["lead@example.com", "second@example.com"])
            #expect(commented.allSatisfy { $0.subject == "[운영팀] New comment on “Budget”" })
            #expect(commented.allSatisfy { $0.text.contains("“Numbers are in the sheet.”") })
            seen = sender.messages.count

            _ = try await repository.addComment(taskID: task.id, body: "Thanks", actorID: team.actor.id)
            _ = try await notifier.turn()
            #expect(
                Set(sender.messages.dropFirst(seen).flatMap { $0.to.map(\.address) }) == [
                    "minji@example.com", "second@example.com",
                ])
            seen = sender.messages.count

            // Reassigned to the second Supervisor by the lead: the PIC is told they are off it, the second
            // Supervisor that it is theirs.
            let current = try #require(try await repository.task(id: task.id))
            _ = try await repository.updateTask(
                id: task.id, expectedVersion: current.version,
                changes: TaskChanges(assigneeID: .some(team.supervisor.id)),
                actorID: team.actor.id)
            _ = try await notifier.turn()
            let reassigned = sender.messages.dropFirst(seen)
            let off = reassigned.filter { $0.headers.contains(.init("X-Pier-Event", "task.unassigned")) }
            #expect(off.map { $0.to.map(\.address) } == [["minji@example.com"]])
            #expect(off.first?.subject == "[운영팀] You are no longer assigned “Budget”")
            let on = reassigned.filter { $0.headers.contains(.init("X-Pier-Event", "task.assigned")) }
            #expect(on.map { $0.to.map(\.address) } == [["second@example.com"]])
        }
    }

    @Test("without SMTP, events are marked handled and no email is queued")
    func withoutSMTP() async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(.sqlite, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            _ = try await repository.createTask(
                boardID: team.board.id, NewTask(title: "Quiet", assigneeID: team.pic.id), actorID: team.actor.id)
            let notifier = Self.notifier(repository, clock: clock, sender: nil)
            #expect(try await notifier.turn() == 0)
            let store = SQLNotificationStore(database: repository.database, clock: { clock.now })
            #expect(try await store.deliveries().isEmpty)
            #expect(try await repository.pendingOutbox(limit: 10, now: clock.now).isEmpty)
        }
    }

    @Test(
        "two instances on one PostgreSQL share the work: every message sent once",
        .enabled(if: PostgresFixture.isConfigured))
    func twoInstances() async throws {
        let clock = TestClock()
        try await BoardStoreFixture.withRepository(.postgres, clock: clock.reading) { repository in
            let team = try await Team.make(repository)
            for index in 0..<30 {
                _ = try await repository.createTask(
                    boardID: team.board.id, NewTask(title: "Task \(index)", assigneeID: team.pic.id),
                    actorID: team.actor.id)
            }
            let sender = RecordingSender()
            var settings = NotifierSettings()
            settings.batchSize = 3
            let a = Self.notifier(repository, clock: clock, sender: sender, settings: settings)
            let b = Self.notifier(repository, clock: clock, sender: sender, settings: settings)
            let store = SQLNotificationStore(database: repository.database, clock: { clock.now })
            try await withThrowingTaskGroup(of: Void.self) { group in
                for notifier in [a, b, a, b] {
                    group.addTask {
                        for _ in 0..<60 { _ = try await notifier.turn() }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.deliveries(state: "pending").isEmpty)
            let ids = sender.messages.map(\.messageID)
            #expect(ids.count == 60)
            #expect(Set(ids).count == 60)
        }
    }
}
