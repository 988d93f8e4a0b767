import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// A small back-end server for proxy tests, on a free loopback port. It answers:
///
/// - `GET /healthz` with the status set by ``setHealth(_:)`` (200 at first);
/// - `/whoami` with its name; `/headers` with the request's header fields, one `name: value` per line;
/// - `/status/NNN` with that status; `/slow/MS` after MS milliseconds;
/// - `/bytes/N` with N bytes streamed in 64 KiB pieces (written only as fast as the peer reads);
/// - `POST /count` by counting the body's bytes without keeping them;
/// - `/sse` with three server-sent events 1 s apart (so that a loaded test machine cannot make a proxy that streams
///   look like one that buffers); `/chunked` with a chunked body of three parts;
/// - `/ws` as a WebSocket that echoes every text or binary message.
public final class StubUpstream: Sendable {
    public let name: String
    public let port: Int
    private let channel: any Channel
    private let state: Mutex<State>

    struct State {
        var health = 200
        var failing: Int?
        var requests: [RecordedRequest] = []
        var eventsSent: [ContinuousClock.Instant] = []
    }

    /// One request as the stub received it.
    public struct RecordedRequest: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(name: String, value: String)]

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    private let box: StateBox

    private init(name: String, port: Int, channel: any Channel, box: StateBox) {
        self.box = box
        self.name = name
        self.port = port
        self.channel = channel
        self.state = Mutex(State())
    }

    public var address: String { "127.0.0.1:\(port)" }

    /// Starts a stub; `port` 0 picks a free one.
    public static func start(name: String, port: Int = 0) async throws -> StubUpstream {
        let box = StateBox()
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(head.uri == "/ws" ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    // After the upgrade, frames go to the echo handler only.
                    let stubHandler = try channel.pipeline.syncOperations.context(name: "stub")
                    channel.pipeline.syncOperations.removeHandler(context: stubHandler, promise: nil)
                    try channel.pipeline.syncOperations.addHandler(WebSocketEcho())
                }
            }
        )
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { _ in }
                        ))
                    try sync.addHandler(StubHandler(name: name, box: box), name: "stub")
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        let stub = StubUpstream(name: name, port: channel.localAddress?.port ?? 0, channel: channel, box: box)
        box.stub.withLock { $0 = stub }
        return stub
    }

    /// Stops accepting connections and closes the listening socket (open connections stay until they close).
    public func stop() async {
        try? await channel.close()
    }

    /// Like a crashed process: closes the listening socket and every open connection at once.
    public func kill() async {
        try? await channel.close()
        for connection in box.connections.withLock({ Array($0.values) }) {
            try? await connection.close()
        }
    }

    /// Answers every request (health checks excepted) with this status from now on; `nil` restores normal answers.
    public func setFailing(_ status: Int?) {
        state.withLock { $0.failing = status }
    }

    var failing: Int? { state.withLock { $0.failing } }

    /// When each server-sent event of `/sse` was handed to the socket.
    public var eventsSent: [ContinuousClock.Instant] { state.withLock { $0.eventsSent } }

    func recordEventSent() {
        state.withLock { $0.eventsSent.append(.now) }
    }

    /// What `GET /healthz` answers from now on.
    public func setHealth(_ status: Int) {
        state.withLock { $0.health = status }
    }

    var health: Int { state.withLock { $0.health } }

    /// Every request received so far (health checks excluded).
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// The number of requests received so far (health checks excluded).
    public var requestCount: Int { state.withLock { $0.requests.count } }

    func record(_ request: RecordedRequest) {
        state.withLock { $0.requests.append(request) }
    }
}

/// Lets handlers reach the stub, which exists only once the socket is bound.
final class StateBox: Sendable {
    let stub = Mutex<StubUpstream?>(nil)
    let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        connections.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.connections.withLock { $0.removeValue(forKey: id) }
        }
    }
}

final class StubHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    let box: StateBox
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var streamRemaining = 0
    private var streaming = false

    init(name: String, box: StateBox) {
        self.name = name
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let bytes):
            bodyBytes += bytes.readableBytes
        case .end:
            guard let head else { return }
            self.head = nil
            answer(context: context, head)
        }
    }

    private func answer(context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let stub = box.stub.withLock { $0 }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        if path == "/healthz" {
            respond(context: context, head, status: stub?.health ?? 200, body: name)
            return
        }
        stub?.record(
            StubUpstream.RecordedRequest(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }))
        if let failing = stub?.failing {
            respond(context: context, head, status: failing, body: "\(name) failing")
            return
        }
        let parts = path.split(separator: "/")
        switch (parts.first.map(String.init), parts.dropFirst().first.flatMap { Int($0) }) {
        case ("whoami", _):
            respond(context: context, head, status: 200, body: name)
        case ("headers", _):
            respond(
                context: context, head, status: 200,
                body: head.headers.map { "\($0.name.lowercased()): \($0.value)" }.joined(separator: "\n"))
        case ("status", let code?):
            respond(context: context, head, status: code, body: "\(name) \(code)")
        case ("slow", let milliseconds?):
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                self.respond(context: context, head, status: 200, body: self.name)
            }
        case ("count", _):
            respond(context: context, head, status: 200, body: String(bodyBytes))
        case ("bytes", let count?):
            var response = HTTPResponseHead(version: .http1_1, status: .ok)
            response.headers.add(name: "Content-Length", value: String(count))
            response.headers.add(name: "Content-Type", value: "application/octet-stream")
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            streamRemaining = count
            streaming = true
            keepAliveAfterStream = head.isKeepAlive
            writeMore(context: context)
        case ("sse", _):
            var response = HTTPResponseHead(version: .http1_1, status: .ok)
            response.headers.add(name: "Content-Type", value: "text/event-stream")
            response.headers.add(name: "Cache-Control", value: "no-cache")
            context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
            sendEvent(context: context, number: 1, of: 3)
        case ("chunked", _):
            var response = HTTPResponseHead(version: .http1_1, status: .ok)
            response.headers.add(name: "Transfer-Encoding", value: "chunked")
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            for part in ["one ", "two ", "three"] {
                var buffer = context.channel.allocator.buffer(capacity: part.utf8.count)
                buffer.writeString(part)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        default:
            respond(context: context, head, status: 404, body: "\(name): no such path")
        }
    }

    private var keepAliveAfterStream = true

    /// Writes the next pieces while the socket accepts them.
    private func writeMore(context: ChannelHandlerContext) {
        while streaming && context.channel.isWritable {
            let size = min(65536, streamRemaining)
            if size == 0 {
                streaming = false
                let keepAlive = keepAliveAfterStream
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
                return
            }
            var buffer = context.channel.allocator.buffer(capacity: size)
            buffer.writeRepeatingByte(UInt8(ascii: "x"), count: size)
            streamRemaining -= size
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if streaming && context.channel.isWritable { writeMore(context: context) }
        context.fireChannelWritabilityChanged()
    }

    private func sendEvent(context: ChannelHandlerContext, number: Int, of total: Int) {
        var buffer = context.channel.allocator.buffer(capacity: 32)
        buffer.writeString("id: \(number)\ndata: event \(number)\n\n")
        box.stub.withLock { $0 }?.recordEventSent()
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if number == total {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
            guard context.channel.isActive else { return }
            self.sendEvent(context: context, number: number + 1, of: total)
        }
    }

    private func respond(context: ChannelHandlerContext, _ head: HTTPRequestHead, status: Int, body: String) {
        var response = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
        response.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        response.headers.add(name: "Content-Length", value: String(body.utf8.count))
        response.headers.add(name: "X-Upstream", value: name)
        if !head.isKeepAlive { response.headers.add(name: "Connection", value: "close") }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}

/// Echoes WebSocket messages and answers pings; closes when asked.
final class WebSocketEcho: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            let reply = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData))
            ).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }
}
