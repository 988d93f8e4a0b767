import Hummingbird
import PierBoardStore

extension BoardAPI {
    /// Email deliveries, for Supervisors: what was sent, what is waiting for a retry, and the dead letters, which
    /// they can put back in the queue.
    func addDeliveryRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("deliveries") { request, context in
            _ = try Self.requireSupervisor(context)
            let state = request.uri.queryParameters.get("state")
            if let state, !["pending", "delivered", "dead"].contains(state) {
                throw APIProblem.invalidParameter("state", "expected pending, delivered or dead")
            }
            var limit = 100
            if let text = request.uri.queryParameters.get("limit") {
                guard let value = Int(text), (1...500).contains(value) else {
                    throw APIProblem.invalidParameter("limit", "expected a number from 1 to 500")
                }
                limit = value
            }
            let deliveries = try await self.repository.deliveries(state: state, limit: limit)
            return Response.json(deliveries.map(DeliveryOut.init))
        }
        group.post("deliveries/:id/retry") { _, context in
            _ = try Self.requireSupervisor(context)
            let id = try Self.pathID(context, "delivery")
            guard try await self.repository.retryDeadDelivery(id: id) else {
                guard try await self.repository.deliveryExists(id: id) else { throw APIProblem.notFound("delivery") }
                throw APIProblem(.conflict, code: "not_dead", detail: "only a dead letter can be retried")
            }
            return Response.noContent()
        }
    }
}

struct DeliveryOut: JSONWritable {
    var delivery: DeliveryRecord

    init(_ delivery: DeliveryRecord) { self.delivery = delivery }

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", delivery.id)
            out.field("event", delivery.kind)
            out.field("channel", "email")
            out.field("recipient_id", delivery.recipientID)
            out.field("state", delivery.state)
            out.field("attempts", delivery.attempts)
            out.field("created_at", WireTime.format(delivery.createdAt))
            out.field("finished_at", delivery.finishedAt.map(WireTime.format))
            out.field("last_error", delivery.lastError)
        }
    }
}
