import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One HTTP/1.1 response as a test sees it on the wire.
public struct RawHTTPResponse: Sendable {
    public var status: Int
    public var reason: String
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header (case-insensitive name).
    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// What came back on one connection.
public struct RawHTTPExchange: Sendable {
    public var responses: [RawHTTPResponse]
    /// Whether the server closed the connection after the responses.
    public var closedByServer: Bool
    /// Bytes that followed the last parsed response.
    public var trailingBytes: [UInt8]
}

/// A deliberately dumb HTTP/1.1 client for wire-level tests: sends exactly the bytes given, then reads responses.
public enum RawHTTPClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Sends `request` on a new connection and reads `expecting` responses, then waits up to `closeWait` to see
    /// whether the server closes the connection.
    ///
    /// - Parameter halfClose: close the sending side right after the request, as `nc -N` or `curl` piping do.
    /// - Parameter headRequests: indexes of responses that answer HEAD requests (they have no body).
    public static func exchange(
        host: String = "127.0.0.1",
        port: Int,
        send request: [UInt8],
        expecting: Int = 1,
        headRequests: Set<Int> = [],
        closeWait: Duration = .milliseconds(300),
        halfClose: Bool = false,
        timeout: Duration = .seconds(10)
    ) async throws -> RawHTTPExchange {
        let configuration = NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration(
            isOutboundHalfClosureEnabled: halfClose)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: configuration)
                }
            }
        // Room for the wait for the server's close on top of the answers.
        return try await withTimeout(max(timeout, closeWait + .seconds(5))) {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: request))
                // With `halfClose`, the request is followed by the end of the sending side (a FIN).
                if halfClose { outbound.finish() }
                var received: [UInt8] = []
                var responses: [RawHTTPResponse] = []
                var iterator = inbound.makeAsyncIterator()
                var closed = false
                while responses.count < expecting {
                    if let parsed = try parse(&received, isHead: headRequests.contains(responses.count), closed: false)
                    {
                        responses.append(parsed)
                        continue
                    }
                    guard let chunk = try await iterator.next() else {
                        closed = true
                        if let parsed = try parse(
                            &received, isHead: headRequests.contains(responses.count), closed: true)
                        {
                            responses.append(parsed)
                        }
                        break
                    }
                    received += Array(buffer: chunk)
                }
                if !closed {
                    // Wait a little for the server to close; if it does not, close from this side.
                    let gaveUp = Flag()
                    let timer = channel.channel.eventLoop.scheduleTask(
                        in: .nanoseconds(
                            Int64(
                                closeWait.components.seconds * 1_000_000_000 + closeWait.components.attoseconds
                                    / 1_000_000_000))
                    ) {
                        gaveUp.set()
                        channel.channel.close(promise: nil)
                    }
                    do {
                        while let chunk = try await iterator.next() { received += Array(buffer: chunk) }
                    } catch {
                        // reset or closed locally: either way the stream is over
                    }
                    timer.cancel()
                    closed = !gaveUp.isSet
                }
                return RawHTTPExchange(responses: responses, closedByServer: closed, trailingBytes: received)
            }
        }
    }

    /// Convenience: one request built from a method, target and headers (Host added unless given).
    public static func request(
        port: Int,
        _ method: String,
        _ target: String,
        headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws -> RawHTTPResponse {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: localhost\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.count)\r\n" }
        text += "Connection: close\r\n\r\n"
        let exchange = try await self.exchange(
            port: port, send: Array(text.utf8) + body, headRequests: method == "HEAD" ? [0] : [])
        guard let response = exchange.responses.first else { throw Failure(description: "no response") }
        return response
    }

    /// Parses one response from the front of `bytes`, removing it; `nil` when incomplete.
    static func parse(_ bytes: inout [UInt8], isHead: Bool, closed: Bool) throws -> RawHTTPResponse? {
        guard let headEnd = find([13, 10, 13, 10], in: bytes) else { return nil }
        let headText = String(decoding: bytes[..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "malformed status line in \(headText)")
        }
        let headers = lines.map { line -> (name: String, value: String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1].drop { $0 == " " }) : "")
        }
        let bodyStart = headEnd + 4
        var response = RawHTTPResponse(
            status: status,
            reason: statusLine.count > 2 ? String(statusLine[2]) : "",
            headers: headers,
            body: []
        )
        let length: Int
        if isHead || status == 204 || status == 304 || (100..<200).contains(status) {
            length = 0
        } else if let value = response.header("content-length"), let parsed = Int(value) {
            length = parsed
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            guard let (body, consumed) = decodeChunked(Array(bytes[bodyStart...])) else { return nil }
            response.body = body
            bytes.removeFirst(bodyStart + consumed)
            return response
        } else {
            guard closed else { return nil }
            length = bytes.count - bodyStart
        }
        guard bytes.count >= bodyStart + length else { return nil }
        response.body = Array(bytes[bodyStart..<bodyStart + length])
        bytes.removeFirst(bodyStart + length)
        return response
    }

    static func decodeChunked(_ bytes: [UInt8]) -> (body: [UInt8], consumed: Int)? {
        var index = 0
        var body: [UInt8] = []
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: index) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { return nil }
            index = lineEnd + 2
            if size == 0 {
                guard let end = find([13, 10], in: bytes, from: index) else { return nil }
                // skip trailers
                var position = index
                var lineStart = end
                while lineStart != position {
                    position = lineStart + 2
                    guard let next = find([13, 10], in: bytes, from: position) else { return nil }
                    lineStart = next
                }
                return (body, position + 2)
            }
            guard bytes.count >= index + size + 2 else { return nil }
            body += bytes[index..<index + size]
            index += size + 2
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0] && Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}

/// Runs `body`, failing with a timeout error if it takes longer than `limit`.
public func withTimeout<Result: Sendable>(
    _ limit: Duration,
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw RawHTTPClient.Failure(description: "timed out after \(limit)")
        }
        return result
    }
}

/// A one-way flag shared between a timer and a task.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .relaxed) }

    var isSet: Bool { value.load(ordering: .relaxed) }
}
