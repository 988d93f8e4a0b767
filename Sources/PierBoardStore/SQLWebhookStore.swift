import Foundation

/// A board's webhook as Supervisors see it (never its secret, which is shown once, when it is made).
public struct Webhook: Sendable, Equatable {
    public var id: String
    public var boardID: String
    public var url: String
    /// The event kinds it receives (`task.assigned`, …); empty means all.
    public var events: [String]
    public var createdBy: String
    public var createdAt: Int64
}

/// One webhook call to make: the body is fixed when the delivery is written, so every attempt sends the same bytes.
public struct PendingWebhookDelivery: Sendable, Equatable {
    public var id: String
    public var webhookID: String
    public var url: String
    /// `whsec_` and base64: the Standard Webhooks signing secret.
    public var secret: String
    public var kind: String
    public var body: String
    /// Attempts so far, this one included.
    public var attempts: Int64
    public var createdAt: Int64
}

/// A webhook delivery as Supervisors see it, with its last answer.
public struct WebhookDeliveryRecord: Sendable, Equatable {
    public var id: String
    public var webhookID: String
    public var kind: String
    public var state: String
    public var attempts: Int64
    public var createdAt: Int64
    public var finishedAt: Int64?
    /// The HTTP status of the last attempt (`nil` when it got no answer).
    public var lastStatus: Int?
    public var lastError: String?
}

/// Webhooks per board and their deliveries: outbox events of a board become one delivery per webhook that wants
/// the kind (written when the notifier expands the outbox, in the same transaction), which instances claim for a
/// lease, send and settle, as email deliveries are.
public struct SQLWebhookStore: Sendable {
    public let database: any SQLDatabase
    let ids: IDGenerator
    let clock: @Sendable () -> Int64

    /// Event kinds a webhook can ask for (`webhook.test` comes only from the test button).
    public static let kinds = [
        "task.created", "task.assigned", "task.unassigned", "task.status_changed", "task.due_changed",
        "task.commented", "task.due_soon", "task.overdue",
    ]
    /// The most webhooks one board may have.
    public static let maximumPerBoard = 10

    public init(
        database: any SQLDatabase, ids: IDGenerator = IDGenerator(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.database = database
        self.ids = ids
        self.clock = clock
    }

    /// A new signing secret: `whsec_` and 24 random bytes in base64.
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }

    /// Adds a webhook to a board; returns it with its secret (shown this once). Refused past
    /// ``maximumPerBoard`` (`too_many_webhooks`).
    public func create(boardID: String, url: String, events: [String], actorID: String) async throws -> (
        webhook: Webhook, secret: String
    ) {
        let now = clock()
        let id = ids.next(now: now)
        let secret = Self.newSecret()
        let events = Array(Set(events)).sorted()
        try await database.transaction { db in
            let count =
                try await db.query(
                    "SELECT COUNT(*) AS n FROM webhooks WHERE board_id = $1", [.text(boardID)]
                ).first?.int("n") ?? 0
            guard count < Self.maximumPerBoard else {
                throw StoreError.refused(
                    "too_many_webhooks", "a board has at most \(Self.maximumPerBoard) webhooks: delete one first")
            }
            try await db.query(
                "INSERT INTO webhooks (id, board_id, url, secret, events, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    .text(id), .text(boardID), .text(url), .text(secret), .text(events.joined(separator: ",")),
                    .text(actorID), .integer(now),
                ])
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("webhook.created", field: "url", new: url)
            try await ChangeRecorder(ids: ids, now: now).record(db, change)
        }
        return (
            Webhook(id: id, boardID: boardID, url: url, events: events, createdBy: actorID, createdAt: now), secret
        )
    }

    static func decode(_ row: SQLRow) throws -> Webhook {
        let events = try row.text("events")
        return Webhook(
            id: try row.text("id"), boardID: try row.text("board_id"), url: try row.text("url"),
            events: events.isEmpty ? [] : events.split(separator: ",").map(String.init),
            createdBy: try row.text("created_by"), createdAt: try row.int("created_at"))
    }

    public func webhooks(boardID: String) async throws -> [Webhook] {
        try await database.query(
            "SELECT id, board_id, url, events, created_by, created_at FROM webhooks WHERE board_id = $1 ORDER BY id",
            [.text(boardID)]
        ).map(Self.decode)
    }

    public func webhook(boardID: String, id: String) async throws -> Webhook? {
        try await database.query(
            "SELECT id, board_id, url, events, created_by, created_at FROM webhooks WHERE board_id = $1 AND id = $2",
            [.text(boardID), .text(id)]
        ).first.map(Self.decode)
    }

    /// Deletes a webhook with its deliveries; `false` when the board has no such webhook.
    public func delete(boardID: String, id: String, actorID: String) async throws -> Bool {
        let now = clock()
        return try await database.transaction { db in
            guard
                let row = try await db.query(
                    "SELECT url FROM webhooks WHERE board_id = $1 AND id = $2", [.text(boardID), .text(id)]
                ).first
            else { return false }
            try await db.query(
                "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
                [.text(id)])
            try await db.query("DELETE FROM webhook_deliveries WHERE webhook_id = $1", [.text(id)])
            try await db.query("DELETE FROM webhooks WHERE id = $1", [.text(id)])
            var change = Change(boardID: boardID, actorID: actorID)
            change.audit("webhook.deleted", field: "url", old: try row.text("url"))
            try await ChangeRecorder(ids: ids, now: now).record(db, change)
            return true
        }
    }

    /// Queues a `webhook.test` delivery to one webhook, due now; returns its id.
    public func queueTest(boardID: String, id: String, actorID: String) async throws -> String? {
        let now = clock()
        let deliveryID = ids.next(now: now)
        guard let webhook = try await webhook(boardID: boardID, id: id) else { return nil }
        let body = Self.body(
            kind: "webhook.test", at: now,
            data: ["board_id": boardID, "webhook_id": webhook.id, "actor_id": actorID])
        try await database.query(
            "INSERT INTO webhook_deliveries (id, webhook_id, outbox_id, kind, payload, state, attempts, created_at, available_at) VALUES ($1, $2, NULL, 'webhook.test', $3, 'pending', 0, $4, $4)",
            [.text(deliveryID), .text(id), .text(body), .integer(now)])
        return deliveryID
    }

    static func boardHasWebhooks(_ db: any SQLDatabase, _ boardID: String?) async throws -> Bool {
        guard let boardID else { return false }
        return try await !db.query("SELECT id FROM webhooks WHERE board_id = $1 LIMIT 1", [.text(boardID)]).isEmpty
    }

    /// Writes the deliveries of one outbox event to the board's webhooks that want its kind; called by
    /// ``SQLNotificationStore/expandOutbox(limit:email:)`` inside its transaction.
    static func expand(
        _ db: any SQLDatabase, ids: IDGenerator, now: Int64, outboxID: String, kind: String,
        payload: [String: String], summary: [String: String]
    ) async throws {
        guard let boardID = payload["board_id"] else { return }
        let hooks = try await db.query(
            "SELECT id, events FROM webhooks WHERE board_id = $1 ORDER BY id", [.text(boardID)])
        guard !hooks.isEmpty else { return }
        var data = payload.merging(summary) { _, named in named }
        if let due = data["due_at"].flatMap({ Int64($0) }) { data["due_at"] = Self.timestamp(due) }
        let body = Self.body(kind: kind, at: now, data: data)
        for hook in hooks {
            let events = try hook.text("events")
            guard events.isEmpty || events.split(separator: ",").contains(Substring(kind)) else { continue }
            try await db.query(
                "INSERT INTO webhook_deliveries (id, webhook_id, outbox_id, kind, payload, state, attempts, created_at, available_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (outbox_id, webhook_id) DO NOTHING",
                [
                    .text(ids.next(now: now)), .text(try hook.text("id")), .text(outboxID), .text(kind), .text(body),
                    .integer(now),
                ])
        }
    }

    /// The JSON body of a call, in the Standard Webhooks shape: `type`, `timestamp`, `data`.
    static func body(kind: String, at: Int64, data: [String: String]) -> String {
        let object: [String: Any] = ["type": kind, "timestamp": timestamp(at), "data": data]
        let encoded = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: encoded, as: UTF8.self)
    }

    static func timestamp(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Claims up to `limit` webhook deliveries that are due, for `lease` milliseconds, counting the attempt.
    public func claimDue(limit: Int, lease: Int64) async throws -> [PendingWebhookDelivery] {
        try await DeliveryQueue.claim(
            database, table: "webhook_deliveries", limit: limit, lease: lease, now: clock()
        ) { db, id in
            guard
                let row = try await db.query(
                    "SELECT d.id, d.webhook_id, d.kind, d.payload, d.attempts, d.created_at, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
                    [.text(id)]
                ).first
            else { return nil }
            return PendingWebhookDelivery(
                id: try row.text("id"), webhookID: try row.text("webhook_id"), url: try row.text("url"),
                secret: try row.text("secret"), kind: try row.text("kind"), body: try row.text("payload"),
                attempts: try row.int("attempts"), createdAt: try row.int("created_at"))
        }
    }

    /// Records an attempt (with the HTTP status, when there was an answer) and settles the delivery.
    public func settle(_ id: String, _ settlement: SQLNotificationStore.Settlement, status: Int?) async throws {
        let now = clock()
        let ids = self.ids
        try await database.transaction { db in
            let (state, outcome, available) = settlement.row(now: now)
            let detail = String(settlement.detail.prefix(2000))
            try await db.query(
                "UPDATE webhook_deliveries SET state = $1, available_at = $2, finished_at = $3, last_status = $4, last_error = $5 WHERE id = $6",
                [
                    .text(state), .integer(available), state == "pending" ? .null : .integer(now),
                    status.map { .integer(Int64($0)) } ?? .null, state == "delivered" ? .null : .text(detail),
                    .text(id),
                ])
            try await db.query(
                "INSERT INTO webhook_attempts (id, delivery_id, at, outcome, status, detail) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    .text(ids.next(now: now)), .text(id), .integer(now), .text(outcome),
                    status.map { .integer(Int64($0)) } ?? .null, .text(detail),
                ])
        }
    }

    /// A webhook's deliveries, newest first.
    public func deliveries(webhookID: String, limit: Int = 50) async throws -> [WebhookDeliveryRecord] {
        try await database.query(
            "SELECT id, webhook_id, kind, state, attempts, created_at, finished_at, last_status, last_error FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT \(max(1, limit))",
            [.text(webhookID)]
        ).map { row in
            WebhookDeliveryRecord(
                id: try row.text("id"), webhookID: try row.text("webhook_id"), kind: try row.text("kind"),
                state: try row.text("state"), attempts: try row.int("attempts"), createdAt: try row.int("created_at"),
                finishedAt: try row.optionalInt("finished_at"),
                lastStatus: try row.optionalInt("last_status").map(Int.init),
                lastError: try row.optionalText("last_error"))
        }
    }

    /// Puts a dead delivery of this webhook back in the queue; `false` when it is not a dead delivery of it.
    public func retryDead(webhookID: String, id: String) async throws -> Bool {
        let now = clock()
        return try await !database.query(
            "UPDATE webhook_deliveries SET state = 'pending', available_at = $1, finished_at = NULL WHERE id = $2 AND webhook_id = $3 AND state = 'dead' RETURNING id",
            [.integer(now), .text(id), .text(webhookID)]
        ).isEmpty
    }
}

extension SQLNotificationStore {
    /// The webhook side, on the same database, ids and clock.
    public var webhooks: SQLWebhookStore { SQLWebhookStore(database: database, ids: ids, clock: clock) }
}

extension SQLBoardRepository {
    var webhookStore: SQLWebhookStore { SQLWebhookStore(database: database, ids: ids, clock: clock) }

    public func createWebhook(boardID: String, url: String, events: [String], actorID: String) async throws -> (
        webhook: Webhook, secret: String
    ) {
        try await webhookStore.create(boardID: boardID, url: url, events: events, actorID: actorID)
    }

    public func webhooks(boardID: String) async throws -> [Webhook] {
        try await webhookStore.webhooks(boardID: boardID)
    }

    public func webhookExists(boardID: String, id: String) async throws -> Bool {
        try await webhookStore.webhook(boardID: boardID, id: id) != nil
    }

    public func deleteWebhook(boardID: String, id: String, actorID: String) async throws -> Bool {
        try await webhookStore.delete(boardID: boardID, id: id, actorID: actorID)
    }

    public func queueWebhookTest(boardID: String, id: String, actorID: String) async throws -> String? {
        try await webhookStore.queueTest(boardID: boardID, id: id, actorID: actorID)
    }

    public func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await webhookStore.deliveries(webhookID: webhookID, limit: limit)
    }

    public func retryWebhookDelivery(webhookID: String, id: String) async throws -> Bool {
        try await webhookStore.retryDead(webhookID: webhookID, id: id)
    }
}
