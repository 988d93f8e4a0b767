import NIOCore
import NIOPosix
import Synchronization

/// One server-sent event as a browser's `EventSource` would see it.
public struct ServerSentEvent: Sendable, Hashable {
    public var id: String?
    public var event: String
    public var data: String
}

/// A `text/event-stream` request on a raw connection: the answer's status and headers, then the events and comments
/// as they arrive (parsed on the event loop, HTTP/1.1 chunked or not), until the server closes.
public final class EventStreamClient: Sendable {
    struct State {
        var status: Int?
        var headers: [(String, String)] = []
        var events: [ServerSentEvent] = []
        var comments: [String] = []
        var retry: Int?
        var body: [UInt8] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let channel: Mutex<(any Channel)?> = Mutex(nil)

    private init() {}

    /// Sends `GET path` with these extra header lines (`Authorization: Bearer …`, `Last-Event-ID: 3`).
    public static func open(port: Int, path: String, headers: [String] = [], host: String = "127.0.0.1")
        async throws -> EventStreamClient
    {
        let client = EventStreamClient()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Parser(client: client))
                }
            }
            .connect(host: host, port: port)
            .get()
        client.channel.withLock { $0 = channel }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for header in headers { request += header + "\r\n" }
        request += "\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
        return client
    }

    public func close() async {
        let channel = channel.withLock { $0 }
        try? await channel?.close()
    }

    public var status: Int? { state.withLock { $0.status } }
    public var events: [ServerSentEvent] { state.withLock { $0.events } }
    public var comments: [String] { state.withLock { $0.comments } }
    public var retry: Int? { state.withLock { $0.retry } }
    public var isClosed: Bool { state.withLock { $0.closed } }
    /// The body as received so far (for a problem answer).
    public var body: String { state.withLock { String(decoding: $0.body, as: UTF8.self) } }

    public func header(_ name: String) -> String? {
        state.withLock { state in state.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// Waits until `condition` holds for what has arrived, or fails after `limit` (or when the server closed first
    /// without it holding).
    @discardableResult
    public func wait(
        within limit: Duration = .seconds(10), _ what: String = "the expected events",
        until condition: @Sendable (EventStreamClient) -> Bool
    ) async throws -> EventStreamClient {
        let deadline = ContinuousClock.now + limit
        while !condition(self) {
            if isClosed {
                throw RawHTTPClient.Failure(
                    description:
                        "the stream closed before \(what); events: \(events.map(\.event)), body: \(body.prefix(400))")
            }
            guard ContinuousClock.now < deadline else {
                throw RawHTTPClient.Failure(
                    description:
                        "no \(what) within \(limit); events: \(events.map(\.event)), status: \(status.map(String.init) ?? "none")"
                )
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return self
    }

    /// Waits for at least `count` events; returns them all.
    public func waitForEvents(_ count: Int, within limit: Duration = .seconds(10)) async throws -> [ServerSentEvent] {
        try await wait(within: limit, "\(count) event(s)") { $0.events.count >= count }
        return events
    }

    public func waitUntilClosed(within limit: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + limit
        while !isClosed {
            guard ContinuousClock.now < deadline else {
                throw RawHTTPClient.Failure(description: "the stream stayed open for \(limit)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    fileprivate func received(head: (Int, [(String, String)])) {
        state.withLock { state in
            state.status = head.0
            state.headers = head.1
        }
    }

    fileprivate func received(body bytes: [UInt8]) {
        state.withLock { state in
            state.body += bytes
            // Blocks end at a blank line; what follows the last one is incomplete.
            while let end = RawHTTPClient.find([10, 10], in: state.body) {
                let block = String(decoding: state.body[..<end], as: UTF8.self)
                state.body.removeSubrange(..<(end + 2))
                var id: String?
                var event = "message"
                var data: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") {
                        state.comments.append(String(line.dropFirst()).trimmingPrefix(" ").description)
                        continue
                    }
                    let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    let field = String(parts[0])
                    var value = parts.count > 1 ? String(parts[1]) : ""
                    if value.hasPrefix(" ") { value.removeFirst() }
                    switch field {
                    case "id": id = value
                    case "event": event = value
                    case "data": data.append(value)
                    case "retry": state.retry = Int(value)
                    default: break
                    }
                }
                if !data.isEmpty || event != "message" {
                    state.events.append(ServerSentEvent(id: id, event: event, data: data.joined(separator: "\n")))
                }
            }
        }
    }

    fileprivate func receivedClose() {
        state.withLock { $0.closed = true }
    }

    /// HTTP/1.1 response head, then the body (de-chunked), handed to the client as text.
    final class Parser: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let client: EventStreamClient
        var bytes: [UInt8] = []
        var inBody = false
        var chunked = false
        /// Bytes left of the current chunk; `nil` while reading a chunk-size line.
        var chunkLeft: Int?
        var finished = false
        /// A body of known length (a problem answer): the connection is closed once it is read.
        var bodyLeft: Int?

        init(client: EventStreamClient) { self.client = client }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
            if !inBody {
                guard let end = RawHTTPClient.find(Array("\r\n\r\n".utf8), in: bytes) else { return }
                let head = String(decoding: bytes[..<end], as: UTF8.self)
                bytes.removeSubrange(..<(end + 4))
                var lines = head.split(separator: "\r\n").map(String.init)
                let statusLine = lines.removeFirst().split(separator: " ")
                let status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (
                        String(line[..<colon]),
                        String(line[line.index(after: colon)...]).trimmingPrefix(" ").description
                    )
                }
                chunked = headers.contains {
                    $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked")
                }
                inBody = true
                if !chunked, let length = headers.first(where: { $0.0.lowercased() == "content-length" }) {
                    bodyLeft = Int(length.1.trimmingPrefix(" "))
                }
                client.received(head: (status, headers))
            }
            var text: [UInt8] = []
            if !chunked {
                text = bytes
                bytes.removeAll()
                if let left = bodyLeft {
                    bodyLeft = left - text.count
                    if left - text.count <= 0 { context.close(promise: nil) }
                }
            } else {
                while !finished {
                    if let left = chunkLeft {
                        if left > 0 {
                            let take = min(left, bytes.count)
                            guard take > 0 else { break }
                            text += bytes[..<take]
                            bytes.removeSubrange(..<take)
                            chunkLeft = left - take
                            continue
                        }
                        guard bytes.count >= 2 else { break }
                        bytes.removeSubrange(..<2)  // CRLF after the chunk
                        chunkLeft = nil
                    } else {
                        guard let end = RawHTTPClient.find(Array("\r\n".utf8), in: bytes) else { break }
                        let sizeText = String(decoding: bytes[..<end], as: UTF8.self).split(separator: ";").first ?? ""
                        bytes.removeSubrange(..<(end + 2))
                        let size = Int(sizeText.trimmingPrefix(" "), radix: 16) ?? 0
                        if size == 0 {
                            finished = true
                            context.close(promise: nil)
                            break
                        }
                        chunkLeft = size
                    }
                }
            }
            if !text.isEmpty { client.received(body: text) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            client.receivedClose()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
