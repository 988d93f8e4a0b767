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

extension BoardAPI {
    /// The in-app inbox: what happened to one's tasks and boards, unread first.
    func addInboxRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("me/notifications") { request, context in
            let user = try context.requireUser()
            var unreadOnly = false
            if let text = request.uri.queryParameters.get("unread") {
                guard text == "true" || text == "false" else {
                    throw APIProblem.invalidParameter("unread", "expected true or false")
                }
                unreadOnly = text == "true"
            }
            var limit = 50
            if let text = request.uri.queryParameters.get("limit") {
                guard let value = Int(text), (1...200).contains(value) else {
                    throw APIProblem.invalidParameter("limit", "expected a number from 1 to 200")
                }
                limit = value
            }
            let (items, unread) = try await self.repository.inbox(userID: user.id, unreadOnly: unreadOnly, limit: limit)
            return Response.json(InboxOut(items: items, unread: unread))
        }
        group.post("me/notifications/read-all") { _, context in
            let user = try context.requireUser()
            try await self.repository.markInboxRead(userID: user.id)
            return Response.noContent()
        }
        group.post("me/notifications/:id/read") { _, context in
            let user = try context.requireUser()
            let id = try Self.pathID(context, "notification")
            guard try await self.repository.markInboxItemRead(userID: user.id, id: id) else {
                throw APIProblem.notFound("notification")
            }
            return Response.noContent()
        }
    }
}

struct InboxOut: JSONWritable {
    var items: [InboxItem]
    var unread: Int

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("unread_count", Int64(unread))
            out.field("items", array: items.map(InboxItemOut.init))
        }
    }
}

struct InboxItemOut: JSONWritable {
    var item: InboxItem

    init(_ item: InboxItem) { self.item = item }

    func writeJSON(to out: inout JSONOut) {
        let summary = item.summary
        out.object { out in
            out.field("id", item.id)
            out.field("event", item.kind)
            for key in [
                "task_id", "board_id", "title", "board_name", "actor_name", "assignee_name", "from_column", "to_column",
            ] {
                out.field(key, summary[key])
            }
            out.field("due_at", summary["due_at"].flatMap(Int64.init).map(WireTime.format))
            out.field("created_at", WireTime.format(item.createdAt))
            out.field("read_at", item.readAt.map(WireTime.format))
        }
    }
}
