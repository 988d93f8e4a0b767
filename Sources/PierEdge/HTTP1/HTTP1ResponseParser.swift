import NIOCore

/// A parsed HTTP/1.x response head from an upstream.
struct UpstreamResponseHead: Sendable {
    var status: Int
    var minorVersion: Int
    var headers: HTTPHeaderFields
    /// Whether the upstream allows another request on this connection afterwards.
    var keepAlive: Bool
    /// The body's length when it has a Content-Length.
    var contentLength: Int?
    /// Whether the body is delimited by the connection closing.
    var endsAtClose: Bool
}

/// A strict, incremental parser for the responses an upstream sends back on one connection (RFC 9112).
///
/// A pure state machine like ``HTTP1RequestParser``: the proxy tells it whether the request was a HEAD (no body
/// follows whatever the headers say) and pulls events. Interim 1xx responses other than 101 are skipped.
struct HTTP1ResponseParser: Sendable {
    enum Event: Sendable {
        case head(UpstreamResponseHead)
        case body(ByteBuffer)
        case end
    }

    enum State: Sendable, Hashable {
        case head(scanned: Int)
        case body(HTTP1BodyDecoder)
        /// After a 101: the connection is no longer HTTP.
        case switched
    }

    var state: State = .head(scanned: 0)
    var pendingEnd = false
    let maxHeaderBytes: Int

    init(maxHeaderBytes: Int = 65536) {
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// Whether no response is partly read.
    var isIdle: Bool {
        if !pendingEnd, case .head(let scanned) = state { return scanned == 0 }
        return false
    }

    static func error(_ reason: String) -> HTTPParseError {
        HTTPParseError(status: 502, code: "invalid_upstream_response", reason: reason)
    }

    static func bodyError(_ problem: HTTP1BodyDecoder.Problem) -> HTTPParseError {
        switch problem {
        case .invalidChunk(let reason): error(reason)
        case .tooLarge: error("a chunk is too large")
        case .trailersTooLarge: error("the trailer section is too large")
        case .bareLineFeed: error("lines must end with CRLF")
        }
    }

    /// Consumes bytes and returns the next event of the response to a request with this method.
    mutating func next(_ buffer: inout ByteBuffer, requestMethod: String) throws(HTTPParseError) -> Event? {
        if pendingEnd {
            pendingEnd = false
            return .end
        }
        switch state {
        case .switched:
            return nil
        case .head(let scanned):
            while true {
                guard let head = try parseHead(&buffer, scanned: scanned) else { return nil }
                if head.status >= 100 && head.status < 200 && head.status != 101 { continue }
                startBody(head, requestMethod: requestMethod)
                return .head(head)
            }
        case .body(var decoder):
            let event = try decoder.next(&buffer, error: Self.bodyError)
            switch event {
            case .data(let bytes)?:
                state = .body(decoder)
                return .body(bytes)
            case .end?:
                state = .head(scanned: 0)
                return .end
            case nil:
                state = .body(decoder)
                return nil
            }
        }
    }

    /// The connection closed: the end of a close-delimited body, or `nil` when a response was cut short.
    mutating func connectionClosed() -> Event? {
        if case .body(let decoder) = state, decoder.endsAtClose {
            state = .head(scanned: 0)
            return .end
        }
        return nil
    }

    private mutating func startBody(_ head: UpstreamResponseHead, requestMethod: String) {
        if head.status == 101 {
            state = .switched
            return
        }
        if requestMethod == "HEAD" || head.status == 204 || head.status == 304 {
            state = .head(scanned: 0)
            pendingEnd = true
            return
        }
        if head.endsAtClose {
            state = .body(.untilClose)
        } else if let length = head.contentLength {
            if length == 0 {
                state = .head(scanned: 0)
                pendingEnd = true
            } else {
                state = .body(HTTP1BodyDecoder(contentLength: length))
            }
        } else {
            state = .body(HTTP1BodyDecoder(chunkedWithin: .max, maxTrailerBytes: maxHeaderBytes))
        }
    }

    private mutating func parseHead(_ buffer: inout ByteBuffer, scanned: Int) throws(HTTPParseError)
        -> UpstreamResponseHead?
    {
        let search = HTTP1RequestParser.findHeadEnd(buffer, from: max(0, scanned - 3))
        guard let headLength = search.end else {
            if search.problem != nil { throw Self.error("lines must end with CRLF") }
            if buffer.readableBytes > maxHeaderBytes { throw Self.error("the response head is too large") }
            state = .head(scanned: buffer.readableBytes)
            return nil
        }
        state = .head(scanned: 0)
        if headLength > maxHeaderBytes { throw Self.error("the response head is too large") }
        let headBytes = buffer.readSlice(length: headLength)!
        let parsed: Result<(Int, Int, [HTTPHeaderFields.Field], UInt32), HTTPParseError> =
            headBytes.withUnsafeReadableBytes { bytes in
                // "HTTP/1.x SP 3DIGIT SP reason CRLF"
                guard bytes.count >= 14, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"),
                    bytes[2] == UInt8(ascii: "T"), bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"),
                    bytes[5] == UInt8(ascii: "1"), bytes[6] == UInt8(ascii: "."),
                    bytes[7] == UInt8(ascii: "0") || bytes[7] == UInt8(ascii: "1"), bytes[8] == UInt8(ascii: " ")
                else { return .failure(Self.error("the status line is malformed")) }
                var status = 0
                for offset in 9..<12 {
                    let byte = bytes[offset]
                    guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else {
                        return .failure(Self.error("the status code is malformed"))
                    }
                    status = status * 10 + Int(byte - UInt8(ascii: "0"))
                }
                guard status >= 100, status <= 599 else {
                    return .failure(Self.error("the status code is out of range"))
                }
                var index = 12
                while index < bytes.count && bytes[index] != UInt8(ascii: "\r") {
                    let byte = bytes[index]
                    guard byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F) else {
                        return .failure(Self.error("the reason phrase contains a control character"))
                    }
                    index += 1
                }
                guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") else {
                    return .failure(Self.error("the status line does not end with CRLF"))
                }
                let lines = HTTP1RequestParser.parseFieldLines(bytes, from: index + 2, maxCount: 256)
                return lines.map { (status, Int(bytes[7] - UInt8(ascii: "0")), $0.fields, $0.presence) }
                    .mapError { Self.error($0.reason) }
            }
        let (status, minor, fields, presence) = try parsed.get()
        var headers = HTTPHeaderFields(storage: headBytes, fields: fields)
        headers.presence = presence

        var keepAlive = ConnectionOptions(headers).keepsAlive(minorVersion: minor)
        var contentLength: Int?
        var endsAtClose = false
        if headers.contains(.transferEncoding) {
            let codings = headers.values(.transferEncoding).flatMap { HTTPToken.list($0) }.map { $0.lowercased() }
            // RFC 9112 §6.3: chunked last means chunked; otherwise the body runs to the close.
            if codings.last != "chunked" { endsAtClose = true }
            if codings.filter({ $0 == "chunked" }).count > 1 { throw Self.error("chunked is applied twice") }
        } else if headers.contains(.contentLength) {
            var length: Int?
            for value in headers.values(.contentLength) {
                do {
                    length = try HTTP1RequestParser.contentLengthValue(value, merging: length)
                } catch {
                    throw Self.error("Content-Length is invalid or differs between fields")
                }
            }
            contentLength = length
        } else {
            endsAtClose = !(status == 204 || status == 304 || status < 200)
        }
        if endsAtClose { keepAlive = false }
        return UpstreamResponseHead(
            status: status, minorVersion: minor, headers: headers, keepAlive: keepAlive,
            contentLength: contentLength, endsAtClose: endsAtClose)
    }
}
