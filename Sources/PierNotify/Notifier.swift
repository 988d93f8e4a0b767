import Foundation
import Logging
import PierBoardStore
import PierMail
import ServiceLifecycle

/// Sends one message; `SMTPClient` in production, anything that answers like it in tests.
public protocol MailSender: Sendable {
    func send(_ message: MailMessage) async -> SMTPDeliveryResult
}

extension SMTPClient: MailSender {}

/// How often the notifier looks for work, how much it takes, and how long it keeps trying.
public struct NotifierSettings: Sendable {
    /// The pause between two turns when there is nothing to do.
    public var pollInterval: Duration = .milliseconds(250)
    /// Outbox events expanded, and deliveries claimed, per turn.
    public var batchSize = 20
    /// How long a claimed delivery belongs to this instance; if it dies mid-send, another takes it after this.
    public var lease: Duration = .seconds(120)
    /// After this age a delivery that still fails is a dead letter.
    public var maximumAge: Duration = .seconds(24 * 3600)
    /// The pause before the first retry; each later one doubles it, up to `longestRetry`, with ±20 % jitter.
    public var firstRetry: Duration = .seconds(10)
    public var longestRetry: Duration = .seconds(3600)
    /// How long before its due date an assigned task's PIC is reminded of it.
    public var reminderLead: Duration = .seconds(24 * 3600)
    /// How often due dates are looked at.
    public var reminderInterval: Duration = .seconds(30)
    /// Overdue reminders are sent for due dates up to this long ago (not for a board's whole past).
    public var overdueWindow: Duration = .seconds(7 * 24 * 3600)

    public init() {}
}

/// Turns outbox events into email and sends them: a `Service` in every board instance. Instances share the work
/// through the database (see `SQLNotificationStore`): at least once, each message with a Message-ID that is the same
/// on every attempt, failures retried with exponential back-off and jitter, permanent refusals and messages older
/// than `maximumAge` kept as dead letters that a Supervisor can retry. Every attempt is recorded with the server's
/// answer.
public struct Notifier: Service {
    let store: SQLNotificationStore
    let sender: (any MailSender)?
    let mail: NotificationMail
    let settings: NotifierSettings
    let logger: Logger
    let now: @Sendable () -> Int64
    let random: @Sendable () -> Double

    public init(
        store: SQLNotificationStore, sender: (any MailSender)?, mail: NotificationMail,
        settings: NotifierSettings = NotifierSettings(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.sender = sender
        self.mail = mail
        self.settings = settings
        self.logger = logger
        self.now = now
        self.random = random
    }

    public func run() async throws {
        if sender == nil {
            logger.notice("email notifications are off: start with --smtp-url (or PIER_SMTP_URL) to send them")
        }
        await cancelWhenGracefulShutdown {
            // The board's start-up migrates the schema; until then there is nothing to read.
            while !Task.isCancelled, await !store.isReady() {
                try? await Task.sleep(for: settings.pollInterval)
            }
            var failing = false
            var remindedAt: Int64?
            while !Task.isCancelled {
                do {
                    if remindedAt.map({ now() - $0 >= Self.milliseconds(settings.reminderInterval) }) ?? true {
                        try await remind()
                        remindedAt = now()
                    }
                    let worked = try await turn()
                    if failing { logger.notice("notifications resumed") }
                    failing = false
                    if worked > 0 { continue }
                } catch {
                    // A database that is down, or a schema not migrated yet: said once, tried again each turn.
                    if !failing { logger.warning("notifications paused", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                try? await Task.sleep(for: failing ? .seconds(1) : settings.pollInterval)
            }
        }
    }

    /// Writes the reminders that are due into the outbox (due soon, overdue; each once per task and due date).
    @discardableResult
    public func remind() async throws -> Int {
        try await store.scheduleReminders(
            lead: Self.milliseconds(settings.reminderLead), overdueWindow: Self.milliseconds(settings.overdueWindow))
    }

    /// One turn: expands what the outbox holds, then sends what is due, all at once. Returns how many deliveries it
    /// attempted.
    @discardableResult
    public func turn() async throws -> Int {
        while try await store.expandOutbox(limit: settings.batchSize, email: sender != nil) == settings.batchSize {}
        guard let sender else { return 0 }
        let due = try await store.claimDue(limit: settings.batchSize, lease: Self.milliseconds(settings.lease))
        await withTaskGroup(of: Void.self) { group in
            for delivery in due {
                group.addTask { await attempt(delivery, with: sender) }
            }
        }
        return due.count
    }

    func attempt(_ delivery: PendingDelivery, with sender: any MailSender) async {
        let result = await sender.send(mail.message(for: delivery))
        let settlement = settlement(of: result, for: delivery, at: now())
        var metadata: Logger.Metadata = [
            "pier.delivery": "\(delivery.id)", "pier.event": "\(delivery.kind)",
            "pier.recipient": "\(delivery.recipient.id)", "pier.attempt": "\(delivery.attempts)",
            "pier.answer": "\(settlement.detail)",
        ]
        switch settlement {
        case .delivered:
            logger.info("email delivered", metadata: metadata)
        case .retry(_, let at):
            metadata["pier.retry_in_ms"] = "\(at - now())"
            logger.notice("email not delivered; will retry", metadata: metadata)
        case .dead:
            logger.warning("email not delivered; kept as a dead letter", metadata: metadata)
        }
        do {
            try await store.settle(delivery.id, settlement)
        } catch {
            // The lease runs out and the delivery is attempted again: a possible duplicate, with the same Message-ID.
            logger.warning(
                "could not record a delivery attempt",
                metadata: ["pier.delivery": "\(delivery.id)", "error": "\(error)"])
        }
    }

    func settlement(of result: SMTPDeliveryResult, for delivery: PendingDelivery, at time: Int64)
        -> SQLNotificationStore.Settlement
    {
        switch result {
        case .delivered(let reply):
            return .delivered(detail: reply.description)
        case .failed(let failure):
            let detail = "\(failure.stage.rawValue): \(failure)"
            if failure.isPermanent { return .dead(detail: detail) }
            let delay = backoff(afterAttempt: delivery.attempts)
            if time + delay - delivery.createdAt > Self.milliseconds(settings.maximumAge) {
                return .dead(detail: "gave up after \(delivery.attempts) attempts: \(detail)")
            }
            return .retry(detail: detail, at: time + delay)
        }
    }

    /// The pause after the `attempt`-th failure, in milliseconds: `firstRetry` doubled per attempt, at most
    /// `longestRetry`, then ±20 %.
    func backoff(afterAttempt attempt: Int64) -> Int64 {
        let first = Double(Self.milliseconds(settings.firstRetry))
        let longest = Double(Self.milliseconds(settings.longestRetry))
        let base = min(longest, first * pow(2, Double(max(0, min(attempt - 1, 40)))))
        return Int64(base * (0.8 + 0.4 * random()))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
