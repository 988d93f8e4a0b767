import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierBoardStore

extension BoardAPI {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
    /// How long a browser waits before it reconnects a dropped stream.
    static let reconnectDelay = 3000

    func addLiveRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("boards/:id/events") { request, context in
            let boardID = try await self.memberBoardID(context)
            let user = try context.requireUser()
            let after = try Self.resumePoint(request)
            let (id, messages) = try await self.live.open(boardID: boardID, userID: user.id, after: after)
            let body = ResponseBody { [live = self.live] writer in
                defer { live.close(boardID: boardID, id: id) }
                try await writer.write(ByteBuffer(string: "retry: \(Self.reconnectDelay)\n: live\n\n"))
                streaming: for await message in messages {
                    switch message {
                    case .event(let event):
                        try await writer.write(event.frame)
                        if event.removedMember == user.id,
                            !(await self.mayStream(user: user, boardID: boardID))
                        {
                            break streaming
                        }
                    case .heartbeat:
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    case .recheck:
                        if !(await self.mayStream(user: user, boardID: boardID)) { break streaming }
                    case .reset:
                        try await writer.write(ByteBuffer(string: "event: reset\ndata: {}\n\n"))
                        break streaming
                    }
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                    Self.accelBuffering: "no",
                ],
                body: body)
        }
    }

    /// Where a stream resumes: the `Last-Event-ID` a browser sends when it reconnects, else `?after=` (the
    /// `last_event_id` of the board as the client loaded it), else from now.
    static func resumePoint(_ request: Request) throws -> Int64? {
        let given: (name: String, value: String)? =
            request.headers[lastEventID].map { ("Last-Event-ID", $0) }
            ?? request.uri.queryParameters.get("after").map { ("after", $0) }
        guard let given else { return nil }
        let value = given.value.trimmingCharacters(in: .whitespaces)
        if value.isEmpty { return nil }
        guard value.utf8.count <= 18, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int64(value) else {
            throw APIProblem.invalidParameter(given.name, "an event id is a whole number of at most 18 digits")
        }
        return number
    }

    /// Whether an open stream may go on: the account is still active, its session has not ended (a new password,
    /// signing out everywhere, a stolen refresh token) and it is still a member of the board.
    func mayStream(user: User, boardID: String) async -> Bool {
        do {
            guard let current = try await repository.user(id: user.id), !current.disabled,
                current.sessionVersion == user.sessionVersion
            else { return false }
            return try await repository.isMember(boardID: boardID, userID: user.id)
        } catch {
            // The database is unreachable: the stream stays, and is checked again at the next heartbeat.
            return true
        }
    }
}
