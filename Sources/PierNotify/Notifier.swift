import Foundation
import Logging
import Metrics
import PierBoardStore
import PierCore
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
    let webhooks: SQLWebhookStore
    let webhookSender: (any WebhookSender)?
    let mail: NotificationMail
    let settings: NotifierSettings
    let logger: Logger
    let now: @Sendable () -> Int64
    let random: @Sendable () -> Double

    public init(
        store: SQLNotificationStore, sender: (any MailSender)?, mail: NotificationMail,
        webhookSender: (any WebhookSender)? = nil,
        settings: NotifierSettings = NotifierSettings(), logger: Logger,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.sender = sender
        self.webhooks = store.webhooks
        self.webhookSender = webhookSender
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
        await webhookSender?.shutdown()
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
        let lease = Self.milliseconds(settings.lease)
        let due = sender == nil ? [] : try await store.claimDue(limit: settings.batchSize, lease: lease)
        let calls = webhookSender == nil ? [] : try await webhooks.claimDue(limit: settings.batchSize, lease: lease)
        await withTaskGroup(of: Void.self) { group in
            if let sender {
                for delivery in due {
                    group.addTask { await attempt(delivery, with: sender) }
                }
            }
            if let webhookSender {
                for call in calls {
                    group.addTask { await attempt(call, with: webhookSender) }
                }
            }
        }
        return due.count + calls.count
    }

    func attempt(_ call: PendingWebhookDelivery, with sender: any WebhookSender) async {
        let sentAt = now()
        let headers = WebhookSignature.headers(
            id: call.id, timestamp: sentAt / 1000, body: call.body, secret: call.secret)
        let result = await sender.post(url: call.url, headers: headers, body: call.body)
        let (settlement, status) = settlement(of: result, for: call, at: now())
        let metadata: Logger.Metadata = [
            "pier.delivery": "\(call.id)", "pier.event": "\(call.kind)", "pier.webhook": "\(call.webhookID)",
            "pier.attempt": "\(call.attempts)", "pier.answer": "\(settlement.detail.prefix(200))",
        ]
        report(settlement, of: "webhook", metadata: metadata)
        do {
            try await webhooks.settle(call.id, settlement, status: status)
        } catch {
            logger.warning(
                "could not record a webhook attempt", metadata: ["pier.delivery": "\(call.id)", "error": "\(error)"])
        }
    }

    /// 2xx is delivered; a 4xx other than 408, 425 and 429 says the receiver will never take it (dead letter);
    /// anything else, and no answer at all, is tried again with back-off until `maximumAge`.
    func settlement(of result: WebhookResult, for call: PendingWebhookDelivery, at time: Int64)
        -> (SQLNotificationStore.Settlement, Int?)
    {
        let detail: String
        var status: Int?
        switch result {
        case .answered(let code, let excerpt):
            status = code
            let answer = excerpt.isEmpty ? "HTTP \(code)" : "HTTP \(code): \(excerpt)"
            if (200..<300).contains(code) { return (.delivered(detail: answer), code) }
            if (400..<500).contains(code), ![408, 425, 429].contains(code) { return (.dead(detail: answer), code) }
            detail = answer
        case .failed(let reason):
            detail = reason
        }
        let delay = backoff(afterAttempt: call.attempts)
        if time + delay - call.createdAt > Self.milliseconds(settings.maximumAge) {
            return (.dead(detail: "gave up after \(call.attempts) attempts: \(detail)"), status)
        }
        return (.retry(detail: detail, at: time + delay), status)
    }

    func attempt(_ delivery: PendingDelivery, with sender: any MailSender) async {
        let result = await sender.send(mail.message(for: delivery))
        let settlement = settlement(of: result, for: delivery, at: now())
        let metadata: Logger.Metadata = [
            "pier.delivery": "\(delivery.id)", "pier.event": "\(delivery.kind)",
            "pier.recipient": "\(delivery.recipient.id)", "pier.attempt": "\(delivery.attempts)",
            "pier.answer": "\(settlement.detail)",
        ]
        report(settlement, of: "email", metadata: metadata)
        do {
            try await store.settle(delivery.id, settlement)
        } catch {
            // The lease runs out and the delivery is attempted again: a possible duplicate, with the same Message-ID.
            logger.warning(
                "could not record a delivery attempt",
                metadata: ["pier.delivery": "\(delivery.id)", "error": "\(error)"])
        }
    }

    /// Logs and counts how an attempt at an email or webhook call ended.
    func report(_ settlement: SQLNotificationStore.Settlement, of what: String, metadata: Logger.Metadata) {
        var metadata = metadata
        let outcome: String
        switch settlement {
        case .delivered:
            outcome = "sent"
            logger.info("\(what) delivered", metadata: metadata)
        case .retry(_, let at):
            outcome = "failed"
            metadata["pier.retry_in_ms"] = "\(at - now())"
            logger.notice("\(what) not delivered; will retry", metadata: metadata)
        case .dead:
            outcome = "dead"
            logger.warning("\(what) not delivered; kept as a dead letter", metadata: metadata)
        }
        Counter(label: PierMetric.deliveries.name, dimensions: [("channel", what), ("outcome", outcome)]).increment()
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
