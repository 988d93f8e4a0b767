/// What email and webhook deliveries share: a table of deliveries (`state`, `available_at`, `attempts`) that
/// instances claim for a lease and settle.
enum DeliveryQueue {
    /// Claims up to `limit` pending deliveries of `table` that are due, for `lease` milliseconds, counting the
    /// attempt, and reads each with `details` in the same transaction. On PostgreSQL `FOR UPDATE SKIP LOCKED`, so
    /// instances never wait for each other nor claim the same delivery while its lease runs.
    static func claim<Delivery: Sendable>(
        _ database: any SQLDatabase, table: String, limit: Int, lease: Int64, now: Int64,
        details: @Sendable @escaping (any SQLDatabase, String) async throws -> Delivery?
    ) async throws -> [Delivery] {
        // Most turns find nothing: a read first, so that they take no write lock.
        let due = try await database.query(
            "SELECT id FROM \(table) WHERE state = 'pending' AND available_at <= $1 LIMIT 1", [.integer(now)])
        guard !due.isEmpty else { return [] }
        return try await database.transaction { db in
            let lock = db.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            let claimed = try await db.query(
                "UPDATE \(table) SET available_at = $1, attempts = attempts + 1 WHERE id IN (SELECT id FROM \(table) WHERE state = 'pending' AND available_at <= $2 ORDER BY available_at, id LIMIT \(max(1, limit))\(lock)) RETURNING id",
                [.integer(now + lease), .integer(now)])
            var deliveries: [(String, Delivery)] = []
            for row in claimed {
                let id = try row.text("id")
                if let delivery = try await details(db, id) { deliveries.append((id, delivery)) }
            }
            return deliveries.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

extension SQLNotificationStore.Settlement {
    /// The delivery's new `state`, the attempt's `outcome`, and when it is next due.
    func row(now: Int64) -> (state: String, outcome: String, available: Int64) {
        switch self {
        case .delivered: ("delivered", "delivered", now)
        case .retry(_, let at): ("pending", "retry", at)
        case .dead: ("dead", "dead", now)
        }
    }
}
