import Foundation
import PierCore

extension SQLBoardRepository {
    public func pendingOutbox(limit: Int, now: Int64) async throws -> [OutboxMessage] {
        try await database.query(
            "SELECT id, kind, payload, idempotency_key, created_at, delivered_at, attempts FROM outbox WHERE delivered_at IS NULL AND available_at <= $1 ORDER BY id LIMIT \(max(1, limit))",
            [.integer(now)]
        ).map {
            OutboxMessage(
                id: try $0.text("id"), kind: try $0.text("kind"), payload: try $0.text("payload"),
                idempotencyKey: try $0.text("idempotency_key"),
                createdAt: try $0.int("created_at"), deliveredAt: try $0.optionalInt("delivered_at"),
                attempts: try $0.int("attempts")
            )
        }
    }
}
