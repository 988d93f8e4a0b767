import Foundation

/// One email to send: an outbox event for one recipient, with what the message needs to say (names, not ids).
public struct PendingDelivery: Sendable, Equatable {
    public var id: String
    public var kind: String
    /// The event's payload as written in the change's transaction (`task_id`, `board_id`, `actor_id`, `title`, …).
    public var payload: [String: String]
    /// The recipient; their `language` (or the board's default) is the message's.
    public var recipient: User
    /// Attempts so far, this one included.
    public var attempts: Int64
    public var createdAt: Int64
    public var boardName: String?
    public var actorName: String?
    public var assigneeName: String?
    public var fromColumnName: String?
    public var toColumnName: String?
    /// The IANA time zone the task's due date was set in.
    public var dueTimeZone: String?
}

/// One notification in someone's in-app inbox.
public struct InboxItem: Sendable, Equatable {
    public var id: String
    public var kind: String
    /// `task_id`, `board_id`, `title`, `board_name`, `actor_name`, `assignee_name`, `from_column`, `to_column`,
    /// `due_at` (epoch milliseconds), as far as the event has them.
    public var summary: [String: String]
    public var createdAt: Int64
    public var readAt: Int64?
}

/// A delivery as Supervisors see it.
public struct DeliveryRecord: Sendable, Equatable, Codable {
    public var id: String
    public var kind: String
    public var recipientID: String
    public var state: String
    public var attempts: Int64
    public var createdAt: Int64
    public var finishedAt: Int64?
    public var lastError: String?
}

/// The notification side of the outbox: outbox events become deliveries (one per recipient), which board instances
/// claim for a lease, send, and settle. On PostgreSQL, instances claim with `FOR UPDATE SKIP LOCKED`, so none waits
/// for another and no delivery is claimed twice while its lease runs; SQLite has one writer, so a claim is exclusive
/// anyway. A delivery whose instance dies mid-send is claimed again when its lease ends: at least once.
public struct SQLNotificationStore: Sendable {
    public let database: any SQLDatabase
    let ids: IDGenerator
    let clock: @Sendable () -> Int64

    public init(
        database: any SQLDatabase, ids: IDGenerator = IDGenerator(),
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.database = database
        self.ids = ids
        self.clock = clock
    }

    /// What waits to be sent: outbox events not yet turned into deliveries, and pending email and webhook deliveries
    /// (retries included).
    public struct Backlog: Sendable, Equatable {
        public var outbox: Int64
        public var email: Int64
        public var webhook: Int64
    }

    public func backlog() async throws -> Backlog {
        let rows = try await database.query(
            """
            SELECT (SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL) AS outbox,
              (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS email,
              (SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending') AS webhook
            """)
        guard let row = rows.first else { throw StoreError.corrupt("no backlog row") }
        return Backlog(outbox: try row.int("outbox"), email: try row.int("email"), webhook: try row.int("webhook"))
    }

    /// Whether the schema has the notification tables (the board's migrations have run).
    public func isReady() async -> Bool {
        (try? await Migrations.currentVersion(database)) == Migrations.latestVersion
    }

    /// Takes up to `limit` outbox events that have not been expanded yet and writes their inbox items and email
    /// deliveries (the task's assignee and the board's Supervisors, never the one who made the change, nor disabled
    /// accounts; email only with `email` on) and a delivery to each of the board's webhooks that wants the kind.
    /// Returns how many events were handled.
    @discardableResult
    public func expandOutbox(limit: Int, email: Bool) async throws -> Int {
        let now = clock()
        let ids = self.ids
        // Most turns find nothing: a read first, so that they take no write lock.
        let waiting = try await database.query(
            "SELECT id FROM outbox WHERE delivered_at IS NULL AND available_at <= $1 LIMIT 1", [.integer(now)])
        guard !waiting.isEmpty else { return 0 }
        return try await database.transaction { db in
            let lock = db.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            let events = try await db.query(
                "SELECT id, kind, payload FROM outbox WHERE delivered_at IS NULL AND available_at <= $1 ORDER BY id LIMIT \(max(1, limit))\(lock)",
                [.integer(now)])
            for event in events {
                let outboxID = try event.text("id")
                let payload = Self.decode(try event.text("payload"))
                let kind = try event.text("kind")
                let recipients = try await Self.recipients(db, kind: kind, payload: payload)
                let hasWebhooks = try await SQLWebhookStore.boardHasWebhooks(db, payload["board_id"])
                let summary =
                    recipients.isEmpty && !hasWebhooks ? "{}" : try await Self.summary(db, payload: payload)
                if hasWebhooks {
                    try await SQLWebhookStore.expand(
                        db, ids: ids, now: now, outboxID: outboxID, kind: kind, payload: payload,
                        summary: Self.decode(summary))
                }
                for recipient in recipients {
                    try await db.query(
                        "INSERT INTO inbox_items (id, user_id, outbox_id, kind, summary, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (outbox_id, user_id) DO NOTHING",
                        [
                            .text(ids.next(now: now)), .text(recipient), .text(outboxID), .text(kind), .text(summary),
                            .integer(now),
                        ])
                    if email {
                        try await db.query(
                            "INSERT INTO deliveries (id, outbox_id, channel, recipient_id, state, attempts, created_at, available_at) VALUES ($1, $2, 'email', $3, 'pending', 0, $4, $4) ON CONFLICT (outbox_id, channel, recipient_id) DO NOTHING",
                            [.text(ids.next(now: now)), .text(outboxID), .text(recipient), .integer(now)])
                    }
                }
                try await db.query(
                    "UPDATE outbox SET delivered_at = $1 WHERE id = $2", [.integer(now), .text(outboxID)])
            }
            return events.count
        }
    }

    /// Writes reminder events for assigned tasks that are not done: `task.due_soon` when the due date is at most
    /// `lead` milliseconds away, `task.overdue` once it has passed (for due dates up to `overdueWindow` ago, so an old
    /// board does not send its whole past at once). Each is written once per task and due date (its idempotency key
    /// names both): a restart sends nothing again, a new due date gets its own reminders. Returns how many were new.
    @discardableResult
    public func scheduleReminders(lead: Int64, overdueWindow: Int64) async throws -> Int {
        let now = clock()
        let ids = self.ids
        let tasks = try await database.query(
            "SELECT t.id, t.board_id, t.title, t.assignee_id, t.due_at FROM tasks t JOIN board_columns c ON c.id = t.column_id WHERE t.due_at IS NOT NULL AND t.assignee_id IS NOT NULL AND c.is_done = FALSE AND t.due_at <= $1 AND t.due_at > $2 ORDER BY t.due_at, t.id LIMIT 1000",
            [.integer(now + lead), .integer(now - overdueWindow)])
        var written = 0
        for task in tasks {
            let id = try task.text("id")
            let due = try task.int("due_at")
            let kind = due <= now ? "task.overdue" : "task.due_soon"
            let payload = [
                "task_id": id, "board_id": try task.text("board_id"), "title": try task.text("title"),
                "assignee_id": try task.text("assignee_id"), "due_at": String(due),
            ]
            let new = try await ChangeRecorder.enqueue(
                database, ids: ids, now: now, kind: kind, key: "\(kind):\(id):\(due)", payload: payload)
            if new { written += 1 }
        }
        return written
    }

    /// What an inbox item shows (and its email says), as JSON: the task and its board by id and name, who acted, the
    /// assignee, the columns of a move, the due date and its time zone, as they were when the event happened.
    static func summary(_ db: any SQLDatabase, payload: [String: String]) async throws -> String {
        var summary: [String: String] = [:]
        for key in ["task_id", "board_id", "title", "due_at", "assignee_id", "actor_id"] {
            summary[key] = payload[key]
        }
        func name(_ sql: String, _ key: String, as field: String) async throws {
            guard let value = payload[key] else { return }
            summary[field] = try await db.query(sql, [.text(value)]).first?.text("name")
        }
        try await name("SELECT name FROM boards WHERE id = $1", "board_id", as: "board_name")
        try await name("SELECT name FROM users WHERE id = $1", "actor_id", as: "actor_name")
        try await name("SELECT name FROM users WHERE id = $1", "assignee_id", as: "assignee_name")
        try await name("SELECT name FROM board_columns WHERE id = $1", "from_column_id", as: "from_column")
        try await name("SELECT name FROM board_columns WHERE id = $1", "to_column_id", as: "to_column")
        if let task = payload["task_id"] {
            summary["due_time_zone"] = try await db.query("SELECT due_tz FROM tasks WHERE id = $1", [.text(task)])
                .first?
                .optionalText("due_tz")
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Someone's inbox: unread first, then newest; with the number of unread items.
    public func inbox(userID: String, unreadOnly: Bool, limit: Int) async throws -> (items: [InboxItem], unread: Int) {
        let filter = unreadOnly ? " AND read_at IS NULL" : ""
        let rows = try await database.query(
            "SELECT id, kind, summary, created_at, read_at FROM inbox_items WHERE user_id = $1\(filter) ORDER BY CASE WHEN read_at IS NULL THEN 0 ELSE 1 END, id DESC LIMIT \(max(1, limit))",
            [.text(userID)])
        let items = try rows.map { row in
            InboxItem(
                id: try row.text("id"), kind: try row.text("kind"), summary: Self.decode(try row.text("summary")),
                createdAt: try row.int("created_at"), readAt: try row.optionalInt("read_at"))
        }
        let unread =
            try await database.query(
                "SELECT COUNT(*) AS n FROM inbox_items WHERE user_id = $1 AND read_at IS NULL", [.text(userID)]
            ).first?.int("n") ?? 0
        return (items, Int(unread))
    }

    /// Marks one of `userID`'s items read; `false` when they have no such item.
    public func markRead(userID: String, id: String) async throws -> Bool {
        let now = clock()
        let rows = try await database.query(
            "UPDATE inbox_items SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3 RETURNING id",
            [.integer(now), .text(id), .text(userID)])
        return !rows.isEmpty
    }

    /// Marks every unread item of `userID` read; returns how many.
    @discardableResult
    public func markAllRead(userID: String) async throws -> Int {
        let now = clock()
        return try await database.query(
            "UPDATE inbox_items SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL RETURNING id",
            [.integer(now), .text(userID)]
        ).count
    }

    /// Who hears of an event: the assignee named in it and the board's Supervisors, without the actor. A due-soon
    /// reminder and an unassignment are for the assignee alone.
    static func recipients(_ db: any SQLDatabase, kind: String, payload: [String: String]) async throws -> [String] {
        guard let boardID = payload["board_id"] else { return [] }
        var found: [String] = []
        if let assignee = payload["assignee_id"] { found.append(assignee) }
        if kind == "task.due_soon" || kind == "task.unassigned" {
            return try await enabled(db, found.filter { $0 != payload["actor_id"] })
        }
        let supervisors = try await db.query(
            "SELECT u.id FROM board_members m JOIN users u ON u.id = m.user_id WHERE m.board_id = $1 AND u.role = 'supervisor' ORDER BY u.id",
            [.text(boardID)])
        for row in supervisors { found.append(try row.text("id")) }
        var seen = Set<String>()
        let actor = payload["actor_id"]
        return try await enabled(db, found.filter { $0 != actor && seen.insert($0).inserted })
    }

    /// `candidates` without disabled accounts, in order.
    static func enabled(_ db: any SQLDatabase, _ candidates: [String]) async throws -> [String] {
        guard !candidates.isEmpty else { return [] }
        let markers = candidates.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let enabled = try await db.query(
            "SELECT id FROM users WHERE disabled = FALSE AND id IN (\(markers))", candidates.map(SQLValue.text))
        let allowed = Set(try enabled.map { try $0.text("id") })
        return candidates.filter(allowed.contains)
    }

    /// Claims up to `limit` deliveries that are due, for `lease` milliseconds, counting the attempt.
    public func claimDue(limit: Int, lease: Int64) async throws -> [PendingDelivery] {
        try await DeliveryQueue.claim(
            database, table: "deliveries", limit: limit, lease: lease, now: clock(), details: Self.details)
    }

    static func details(_ db: any SQLDatabase, id: String) async throws -> PendingDelivery? {
        // The names come from the recipient's inbox item, written with the delivery (`summary(_:payload:)`): the
        // email says what the inbox says, without looking them up again on every attempt.
        let rows = try await db.query(
            "SELECT d.id AS delivery_id, d.attempts AS delivery_attempts, d.created_at AS delivery_created_at, o.kind, o.payload, i.summary, \(SQLBoardRepository.userColumnsOfU) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id JOIN users u ON u.id = d.recipient_id LEFT JOIN inbox_items i ON i.outbox_id = d.outbox_id AND i.user_id = d.recipient_id WHERE d.id = $1",
            [.text(id)])
        guard let row = rows.first else { return nil }
        let summary = decode(try row.optionalText("summary") ?? "{}")
        var delivery = PendingDelivery(
            id: try row.text("delivery_id"), kind: try row.text("kind"), payload: decode(try row.text("payload")),
            recipient: try SQLBoardRepository.decodeUser(row), attempts: try row.int("delivery_attempts"),
            createdAt: try row.int("delivery_created_at"))
        delivery.boardName = summary["board_name"]
        delivery.actorName = summary["actor_name"]
        delivery.assigneeName = summary["assignee_name"]
        delivery.fromColumnName = summary["from_column"]
        delivery.toColumnName = summary["to_column"]
        delivery.dueTimeZone = summary["due_time_zone"]
        return delivery
    }

    /// How an attempt ended.
    public enum Settlement: Sendable, Equatable {
        case delivered(detail: String)
        /// Try again at `at` (epoch milliseconds).
        case retry(detail: String, at: Int64)
        /// Give up: a permanent refusal, or the delivery grew too old.
        case dead(detail: String)

        /// What happened, with the remote answer.
        public var detail: String {
            switch self {
            case .delivered(let detail), .retry(let detail, _), .dead(let detail): detail
            }
        }
    }

    /// Records an attempt's outcome (the remote answer is kept with the attempt) and settles the delivery.
    public func settle(_ id: String, _ settlement: Settlement) async throws {
        let now = clock()
        let ids = self.ids
        try await database.transaction { db in
            let (state, outcome, available) = settlement.row(now: now)
            let detail = settlement.detail
            let finished: SQLValue = state == "pending" ? .null : .integer(now)
            try await db.query(
                "UPDATE deliveries SET state = $1, available_at = $2, finished_at = $3, last_error = $4 WHERE id = $5",
                [.text(state), .integer(available), finished, state == "delivered" ? .null : .text(detail), .text(id)])
            try await db.query(
                "INSERT INTO delivery_attempts (id, delivery_id, at, outcome, detail) VALUES ($1, $2, $3, $4, $5)",
                [
                    .text(ids.next(now: now)), .text(id), .integer(now), .text(outcome),
                    .text(String(detail.prefix(2000))),
                ])
        }
    }

    /// Deliveries, newest first, optionally only those in `state` (`pending`, `delivered`, `dead`).
    public func deliveries(state: String? = nil, limit: Int = 100) async throws -> [DeliveryRecord] {
        let filter = state == nil ? "" : " WHERE d.state = $1"
        let rows = try await database.query(
            "SELECT d.id, o.kind, d.recipient_id, d.state, d.attempts, d.created_at, d.finished_at, d.last_error FROM deliveries d JOIN outbox o ON o.id = d.outbox_id\(filter) ORDER BY d.id DESC LIMIT \(max(1, limit))",
            state.map { [SQLValue.text($0)] } ?? [])
        return try rows.map { row in
            DeliveryRecord(
                id: try row.text("id"), kind: try row.text("kind"), recipientID: try row.text("recipient_id"),
                state: try row.text("state"), attempts: try row.int("attempts"), createdAt: try row.int("created_at"),
                finishedAt: try row.optionalInt("finished_at"), lastError: try row.optionalText("last_error"))
        }
    }

    /// Puts a dead delivery back in the queue, due now; false when there is no dead delivery with that id.
    public func retryDead(_ id: String) async throws -> Bool {
        let now = clock()
        let rows = try await database.query(
            "UPDATE deliveries SET state = 'pending', available_at = $1, finished_at = NULL WHERE id = $2 AND state = 'dead' RETURNING id",
            [.integer(now), .text(id)])
        return !rows.isEmpty
    }

    /// Every attempt of a delivery, oldest first: when, how it ended, and what the remote side answered.
    public func attempts(of id: String) async throws -> [(at: Int64, outcome: String, detail: String)] {
        try await database.query(
            "SELECT at, outcome, detail FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id", [.text(id)]
        ).map { (try $0.int("at"), try $0.text("outcome"), try $0.text("detail")) }
    }

    static func decode(_ payload: String) -> [String: String] {
        (try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: String]) ?? [:]
    }
}

extension SQLBoardRepository {
    var notifications: SQLNotificationStore { SQLNotificationStore(database: database, ids: ids, clock: clock) }

    public func deliveries(state: String?, limit: Int) async throws -> [DeliveryRecord] {
        try await notifications.deliveries(state: state, limit: limit)
    }

    public func retryDeadDelivery(id: String) async throws -> Bool {
        try await notifications.retryDead(id)
    }

    public func inbox(userID: String, unreadOnly: Bool, limit: Int) async throws -> (items: [InboxItem], unread: Int) {
        try await notifications.inbox(userID: userID, unreadOnly: unreadOnly, limit: limit)
    }

    public func markInboxItemRead(userID: String, id: String) async throws -> Bool {
        try await notifications.markRead(userID: userID, id: id)
    }

    public func markInboxRead(userID: String) async throws -> Int {
        try await notifications.markAllRead(userID: userID)
    }

    public func deliveryExists(id: String) async throws -> Bool {
        try await !database.query("SELECT id FROM deliveries WHERE id = $1", [.text(id)]).isEmpty
    }
}
