import Foundation
import Hummingbird
import NIOCore
import PierBoardStore

struct WebhookOut: JSONWritable {
    var webhook: Webhook
    /// Only in the answer that created it.
    var secret: String?

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", webhook.id)
            out.field("board_id", webhook.boardID)
            out.field("url", webhook.url)
            out.field("events", strings: webhook.events)
            out.field("created_by", webhook.createdBy)
            out.field("created_at", WireTime.format(webhook.createdAt))
            if let secret { out.field("secret", secret) }
        }
    }
}

struct WebhookDeliveryOut: JSONWritable {
    var delivery: WebhookDeliveryRecord

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", delivery.id)
            out.field("webhook_id", delivery.webhookID)
            out.field("event", delivery.kind)
            out.field("state", delivery.state)
            out.field("attempts", delivery.attempts)
            out.field("created_at", WireTime.format(delivery.createdAt))
            out.field("finished_at", delivery.finishedAt.map(WireTime.format))
            if let status = delivery.lastStatus {
                out.field("last_status", Int64(status))
            } else {
                out.field("last_status", nil as String?)
            }
            out.field("last_error", delivery.lastError)
        }
    }
}

extension BoardAPI {
    /// Webhooks of a board: Supervisors who are members add, list, test and delete them.
    func addWebhookRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("boards/:id/webhooks") { _, context in
            let boardID = try await self.memberBoardID(context)
            _ = try Self.requireSupervisor(context)
            let hooks = try await self.repository.webhooks(boardID: boardID)
            return Response.json(hooks.map { WebhookOut(webhook: $0) })
        }
        group.post("boards/:id/webhooks") { request, context in
            let boardID = try await self.memberBoardID(context)
            let user = try Self.requireSupervisor(context)
            let input = try await JSONInput.read(request, allowed: ["url", "events"])
            let url = try self.webhookURL(try input.string("url", maxLength: 2000))
            let events =
                try input.optionalStrings("events", maxCount: SQLWebhookStore.kinds.count, maxLength: 40) ?? []
            for event in events where !SQLWebhookStore.kinds.contains(event) {
                throw APIProblem.invalidField(
                    "events", "\"\(event)\" is not one of \(SQLWebhookStore.kinds.joined(separator: ", "))")
            }
            let (webhook, secret) = try await self.repository.createWebhook(
                boardID: boardID, url: url, events: events, actorID: user.id)
            return Response.json(
                WebhookOut(webhook: webhook, secret: secret), status: .created,
                headers: [.location: "\(Self.prefix)/boards/\(boardID)/webhooks/\(webhook.id)"])
        }
        group.delete("boards/:id/webhooks/:webhook_id") { _, context in
            let (boardID, webhookID, user) = try await self.supervisedWebhook(context)
            guard try await self.repository.deleteWebhook(boardID: boardID, id: webhookID, actorID: user.id) else {
                throw APIProblem.notFound("webhook")
            }
            return Response.noContent()
        }
        group.post("boards/:id/webhooks/:webhook_id/test") { _, context in
            let (boardID, webhookID, user) = try await self.supervisedWebhook(context)
            guard
                let delivery = try await self.repository.queueWebhookTest(
                    boardID: boardID, id: webhookID, actorID: user.id)
            else { throw APIProblem.notFound("webhook") }
            return Response.json(StringsOut(members: ["delivery_id": delivery]), status: .accepted)
        }
        group.get("boards/:id/webhooks/:webhook_id/deliveries") { _, context in
            let (_, webhookID, _) = try await self.supervisedWebhook(context)
            let deliveries = try await self.repository.webhookDeliveries(webhookID: webhookID, limit: 50)
            return Response.json(deliveries.map { WebhookDeliveryOut(delivery: $0) })
        }
        group.post("boards/:id/webhooks/:webhook_id/deliveries/:delivery_id/retry") { _, context in
            let (_, webhookID, _) = try await self.supervisedWebhook(context)
            let deliveryID = try Self.pathID(context, "delivery", parameter: "delivery_id")
            guard try await self.repository.retryWebhookDelivery(webhookID: webhookID, id: deliveryID) else {
                throw APIProblem.notFound("dead delivery")
            }
            return Response.noContent()
        }
    }

    /// The board, the webhook (which must be the board's) and the Supervisor asking.
    func supervisedWebhook(_ context: BoardContext) async throws -> (String, String, User) {
        let boardID = try await memberBoardID(context)
        let user = try Self.requireSupervisor(context)
        let webhookID = try Self.pathID(context, "webhook", parameter: "webhook_id")
        guard try await repository.webhookExists(boardID: boardID, id: webhookID) else {
            throw APIProblem.notFound("webhook")
        }
        return (boardID, webhookID, user)
    }

    /// An http(s) URL without credentials; unless allowed, not to a loopback, private or link-local address (so a
    /// webhook cannot be used to reach what only this machine or its network can).
    func webhookURL(_ text: String) throws -> String {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            throw APIProblem.invalidField("url", "must be an http or https URL, such as https://hooks.example.com/pier")
        }
        guard url.user == nil, url.password == nil else {
            throw APIProblem.invalidField("url", "must not carry a user name or password: the signature authenticates")
        }
        if !settings.allowPrivateWebhookTargets, Self.isPrivateHost(host) {
            throw APIProblem.invalidField(
                "url",
                "\(host) is a loopback, private or link-local address; start the board with --webhooks-allow-private to allow it"
            )
        }
        return text
    }

    static func isPrivateHost(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]."))
        if name == "localhost" || name.hasSuffix(".localhost") || name.hasSuffix(".local")
            || name.hasSuffix(".internal")
        {
            return true
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        if parts.count == 4, parts.allSatisfy({ $0 != nil && (0...255).contains($0!) }) {
            let octets = parts.map { $0! }
            switch (octets[0], octets[1]) {
            case (10, _), (127, _), (0, _), (169, 254), (192, 168): return true
            case (172, 16...31), (100, 64...127): return true
            default: return false
            }
        }
        if name.contains(":") {
            // IPv6: loopback, unspecified, unique local (fc00::/7), link-local (fe80::/10), IPv4-mapped.
            if name == "::1" || name == "::" || name.hasPrefix("fc") || name.hasPrefix("fd") || name.hasPrefix("fe8")
                || name.hasPrefix("fe9") || name.hasPrefix("fea") || name.hasPrefix("feb") || name.hasPrefix("::ffff:")
            {
                return true
            }
        }
        return false
    }
}
