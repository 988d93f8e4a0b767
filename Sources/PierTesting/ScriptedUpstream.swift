import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A raw TCP server on a free loopback port that answers each request head with scripted bytes: for proxy tests
/// that need an upstream to misbehave in ways a real HTTP server will not (switch protocols unasked, send malformed
/// framing, reset the connection before answering).
///
/// A request is whatever arrived up to the first empty line (CRLF CRLF), plus a `Content-Length` body when there is
/// one; every request received is recorded as text.
public final class ScriptedUpstream: Sendable {
    /// What the server does with a request it received.
    public enum Reply: Sendable {
        /// Writes these bytes; then closes the connection when `close` is set, or waits for the next request.
        case bytes([UInt8], close: Bool)
        /// Closes the connection with a reset (`SO_LINGER` 0), writing nothing.
        case reset
        /// Writes nothing and keeps the connection open.
        case silence
    }

    public let port: Int
    private let channel: any Channel
    private let state: Locked<[String]>
    private let connections: Locked<[any Channel]>

    public var address: String { "127.0.0.1:\(port)" }

    /// Every request received so far, in order, as text (head and body).
    public var requests: [String] { state.withLock { $0 } }

    private init(port: Int, channel: any Channel, state: Locked<[String]>, connections: Locked<[any Channel]>) {
        self.port = port
        self.channel = channel
        self.state = state
        self.connections = connections
    }

    /// One request as the server received it.
    public struct Request: Sendable {
        /// Its number over all connections, 0 first.
        public var index: Int
        /// Its number on its connection, 0 first.
        public var indexOnConnection: Int
        /// Head and body as text.
        public var text: String
    }

    /// Starts a server that answers each request with `reply(request)`.
    public static func start(_ reply: @escaping @Sendable (Request) -> Reply) async throws -> ScriptedUpstream {
        let recorded = Locked<[String]>([])
        let connections = Locked<[any Channel]>([])
        let shared = Shared(reply: reply)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptedConnection(shared: shared) { request in
                            recorded.withLock { requests in
                                requests.append(request)
                                return requests.count - 1
                            }
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return ScriptedUpstream(
            port: channel.localAddress?.port ?? 0, channel: channel, state: recorded, connections: connections)
    }

    /// Stops listening and closes every connection.
    public func stop() async {
        try? await channel.close()
        for connection in connections.withLock({ $0 }) { try? await connection.close() }
    }

    final class Locked<Value: Sendable>: Sendable {
        private let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
    }

    final class Shared: Sendable {
        let reply: @Sendable (Request) -> Reply
        init(reply: @escaping @Sendable (Request) -> Reply) { self.reply = reply }
    }

    final class ScriptedConnection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let shared: Shared
        let record: (String) -> Int
        var received: [UInt8] = []
        var handled = 0

        init(shared: Shared, record: @escaping (String) -> Int) {
            self.shared = shared
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readBytes(length: buffer.readableBytes) ?? []
            while let length = Self.requestLength(received) {
                let request = String(decoding: received[..<length], as: UTF8.self)
                received.removeFirst(length)
                let index = record(request)
                handled += 1
                switch shared.reply(Request(index: index, indexOnConnection: handled - 1, text: request)) {
                case .bytes(let bytes, let close):
                    var out = context.channel.allocator.buffer(capacity: bytes.count)
                    out.writeBytes(bytes)
                    if close {
                        context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
                            context.close(promise: nil)
                        }
                        return
                    }
                    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                case .reset:
                    let channel = context.channel
                    if let provider = channel as? any SocketOptionProvider {
                        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                            channel.close(promise: nil)
                        }
                    } else {
                        context.close(promise: nil)
                    }
                    return
                case .silence:
                    break
                }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        /// The length of the first complete request in `bytes` (head plus a Content-Length body), or `nil`.
        static func requestLength(_ bytes: [UInt8]) -> Int? {
            let end: [UInt8] = Array("\r\n\r\n".utf8)
            guard bytes.count >= 4,
                let headEnd = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == end })
            else { return nil }
            let head = String(decoding: bytes[..<headEnd], as: UTF8.self).lowercased()
            var bodyLength = 0
            for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                bodyLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
            }
            let total = headEnd + 4 + bodyLength
            return bytes.count >= total ? total : nil
        }
    }
}
