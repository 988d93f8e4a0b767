import NIOCore
import NIOPosix

/// A raw connection whose received bytes can be awaited piece by piece.
public final class ByteStreamConnection: Sendable {
    private let channel: any Channel
    private let stream: AsyncStream<(ByteBuffer, ContinuousClock.Instant)>

    private init(channel: any Channel, stream: AsyncStream<(ByteBuffer, ContinuousClock.Instant)>) {
        self.channel = channel
        self.stream = stream
    }

    public static func connect(host: String = "127.0.0.1", port: Int) async throws -> ByteStreamConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: (ByteBuffer, ContinuousClock.Instant).self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Forwarder(continuation: continuation))
                }
            }
            .connect(host: host, port: port)
            .get()
        return ByteStreamConnection(channel: channel, stream: stream)
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    public func close() async {
        try? await channel.close()
    }

    /// The pieces as they arrive; ends when the peer closes.
    public var received: AsyncMapSequence<AsyncStream<(ByteBuffer, ContinuousClock.Instant)>, ByteBuffer> {
        stream.map { $0.0 }
    }

    /// The pieces with the moment the event loop read each one (not when a task got round to looking).
    public var receivedWithTimes: AsyncStream<(ByteBuffer, ContinuousClock.Instant)> { stream }

    final class Forwarder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<(ByteBuffer, ContinuousClock.Instant)>.Continuation

        init(continuation: AsyncStream<(ByteBuffer, ContinuousClock.Instant)>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield((unwrapInboundIn(data), .now))
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// When each of several markers first appeared in a streamed response.
public enum StreamProbe {
    public static func arrivals(
        port: Int, request: String, markers: [String], within limit: Duration = .seconds(10)
    ) async throws -> [ContinuousClock.Instant] {
        let connection = try await ByteStreamConnection.connect(port: port)
        defer { Task { await connection.close() } }
        try await connection.send(Array(request.utf8))
        return try await withTimeout(limit) {
            var text = ""
            var times: [ContinuousClock.Instant] = []
            for await (var piece, arrived) in connection.receivedWithTimes {
                text += piece.readString(length: piece.readableBytes) ?? ""
                while times.count < markers.count, text.contains(markers[times.count]) {
                    times.append(arrived)
                }
                if times.count == markers.count { break }
            }
            return times
        }
    }
}

/// A minimal WebSocket client (RFC 6455): handshake, masked text frames, reading the echoes.
public enum WebSocketProbe {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func echo(port: Int, path: String, messages: [String]) async throws -> [String] {
        let connection = try await ByteStreamConnection.connect(port: port)
        defer { Task { await connection.close() } }
        try await connection.send(
            Array(
                ("GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        return try await withTimeout(.seconds(10)) {
            var iterator = connection.received.makeAsyncIterator()
            var bytes: [UInt8] = []
            // The 101 head.
            while RawHTTPClient.find([13, 10, 13, 10], in: bytes) == nil {
                guard let piece = await iterator.next() else { throw Failure(description: "closed before 101") }
                bytes += Array(piece.readableBytesView)
            }
            let headEnd = RawHTTPClient.find([13, 10, 13, 10], in: bytes)!
            let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
            guard head.hasPrefix("HTTP/1.1 101") else { throw Failure(description: "no upgrade: \(head)") }
            guard head.lowercased().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=") else {
                throw Failure(description: "wrong accept key: \(head)")
            }
            bytes.removeFirst(headEnd + 4)
            var echoes: [String] = []
            for message in messages {
                try await connection.send(frame(text: message))
                while true {
                    if let (payload, used) = unframe(bytes) {
                        bytes.removeFirst(used)
                        echoes.append(String(decoding: payload, as: UTF8.self))
                        break
                    }
                    guard let piece = await iterator.next() else { throw Failure(description: "closed mid-frame") }
                    bytes += Array(piece.readableBytesView)
                }
            }
            return echoes
        }
    }

    /// A masked, final text frame (payloads under 64 KiB).
    static func frame(text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// An unmasked server frame's payload and size, when complete.
    static func unframe(_ bytes: [UInt8]) -> ([UInt8], Int)? {
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            offset = 4
        }
        guard bytes.count >= offset + length else { return nil }
        return (Array(bytes[offset..<offset + length]), offset + length)
    }
}

/// Moves large bodies through a server without holding them in memory: the sender waits for each piece to be
/// written to the socket, the receiver only counts.
public enum StreamingClient {
    /// Sends a `POST` with a body of `bytes` bytes (1 MiB pieces) and returns the response's status and body text.
    public static func upload(port: Int, path: String, bytes: Int) async throws -> (status: Int, body: String) {
        let connection = try await ByteStreamConnection.connect(port: port)
        defer { Task { await connection.close() } }
        try await connection.send(
            Array(
                "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(bytes)\r\nConnection: close\r\n\r\n".utf8
            ))
        let piece = [UInt8](repeating: UInt8(ascii: "u"), count: 1 << 20)
        var left = bytes
        while left > 0 {
            let size = min(left, piece.count)
            try await connection.send(size == piece.count ? piece : Array(piece[..<size]))
            left -= size
        }
        var received: [UInt8] = []
        for await chunk in connection.received { received += Array(chunk.readableBytesView) }
        guard let response = try RawHTTPClient.parse(&received, isHead: false, closed: true) else {
            throw RawHTTPClient.Failure(description: "no complete response to the upload")
        }
        return (response.status, response.text)
    }

    /// Sends a `GET` and counts the body's bytes as they arrive; returns the status and the count.
    public static func download(port: Int, path: String) async throws -> (status: Int, bytes: Int) {
        let connection = try await ByteStreamConnection.connect(port: port)
        defer { Task { await connection.close() } }
        try await connection.send(Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
        var head: [UInt8] = []
        var status = 0
        var count = 0
        var headDone = false
        for await chunk in connection.received {
            if headDone {
                count += chunk.readableBytes
                continue
            }
            head += Array(chunk.readableBytesView)
            if let end = RawHTTPClient.find([13, 10, 13, 10], in: head) {
                headDone = true
                let statusLine = String(decoding: head[..<end], as: UTF8.self).split(separator: " ")
                status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
                count = head.count - end - 4
                head = []
            }
        }
        return (status, count)
    }
}
