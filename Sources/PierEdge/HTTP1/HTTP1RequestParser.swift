import NIOCore

/// Why a request could not be parsed; each maps to the status the edge answers with before closing.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The response status: 400, 413, 414, 431, 501 or 505.
    public var status: Int
    /// A stable code for the problem document and logs.
    public var code: String
    /// What was wrong.
    public var reason: String

    static func badRequest(_ code: String, _ reason: String) -> HTTPParseError {
        HTTPParseError(status: 400, code: code, reason: reason)
    }

    public var description: String { "\(status) \(code): \(reason)" }
}

/// A strict, incremental HTTP/1.1 request parser (RFC 9112) with Pier's limits built in.
///
/// It is a pure state machine over bytes: the connection handler feeds it whatever arrived and pulls events. It
/// refuses what request smuggling relies on (Content-Length with Transfer-Encoding, differing Content-Lengths,
/// obs-fold, bare LF, whitespace before a colon, malformed chunk sizes) instead of guessing.
public struct HTTP1RequestParser: Sendable {
    /// Size limits, in bytes.
    public struct Limits: Sendable, Hashable {
        public var maxHeaderBytes: Int
        public var maxURIBytes: Int
        public var maxBodyBytes: Int
        public var maxHeaderCount: Int

        public init(maxHeaderBytes: Int, maxURIBytes: Int, maxBodyBytes: Int, maxHeaderCount: Int = 128) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxURIBytes = maxURIBytes
            self.maxBodyBytes = maxBodyBytes
            self.maxHeaderCount = maxHeaderCount
        }
    }

    /// What the parser produced.
    public enum Event: Sendable {
        case head(HTTP1RequestHead)
        case body(ByteBuffer)
        case end
    }

    enum State: Sendable, Hashable {
        case head(scanned: Int)
        case body(HTTP1BodyDecoder)
    }

    /// Replaced between requests when the configuration is reloaded.
    public var limits: Limits
    var state: State = .head(scanned: 0)

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Whether the parser is between requests (no partial request consumed).
    public var isIdle: Bool {
        if !pendingEnd, case .head(let scanned) = state { return scanned == 0 }
        return false
    }

    /// Consumes bytes from `buffer` and returns the next event, or `nil` when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTPParseError) -> Event? {
        if pendingEnd {
            pendingEnd = false
            return .end
        }
        switch state {
        case .head(let scanned):
            return try parseHead(&buffer, scanned: scanned)
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

    /// Set when a request without a body, or the last chunk of a fixed-length body, was returned: `.end` is next.
    var pendingEnd = false

    /// Whether the next event is the end of the request just read, which needs no more bytes.
    var owesEnd: Bool {
        if pendingEnd { return true }
        if case .body(let decoder) = state, case .done = decoder.state { return true }
        return false
    }

    // MARK: - Head

    private mutating func parseHead(_ buffer: inout ByteBuffer, scanned: Int) throws(HTTPParseError) -> Event? {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        // The buffer always starts where the request starts, so this also works when the CRLF was split across reads.
        var scanned = scanned
        while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 2)
            scanned = 0
        }
        let search = Self.findHeadEnd(buffer, from: max(0, scanned - 3))
        guard let headLength = search.end else {
            let available = buffer.readableBytes
            if available > limits.maxHeaderBytes {
                if !search.sawLineEnd && available > limits.maxURIBytes + 32 {
                    throw HTTPParseError(
                        status: 414, code: "uri_too_long",
                        reason: "the request target exceeds \(limits.maxURIBytes) bytes")
                }
                throw HTTPParseError(
                    status: 431, code: "header_too_large",
                    reason: "the request head exceeds \(limits.maxHeaderBytes) bytes")
            }
            if let problem = search.problem { throw problem }
            state = .head(scanned: available)
            return nil
        }
        if headLength > limits.maxHeaderBytes {
            throw HTTPParseError(
                status: 431, code: "header_too_large", reason: "the request head exceeds \(limits.maxHeaderBytes) bytes"
            )
        }
        let headBytes = buffer.readSlice(length: headLength)!
        let head = try parseHeadFields(headBytes)
        switch head.framing {
        case .none:
            state = .head(scanned: 0)
            pendingEnd = true
        case .contentLength(let length):
            if length > limits.maxBodyBytes {
                throw HTTPParseError(
                    status: 413, code: "body_too_large", reason: "the request body exceeds \(limits.maxBodyBytes) bytes"
                )
            }
            if length == 0 {
                state = .head(scanned: 0)
                pendingEnd = true
            } else {
                state = .body(HTTP1BodyDecoder(contentLength: length))
            }
        case .chunked:
            state = .body(
                HTTP1BodyDecoder(chunkedWithin: limits.maxBodyBytes, maxTrailerBytes: limits.maxHeaderBytes))
        }
        return .head(head)
    }

    struct HeadSearch {
        var end: Int?
        var sawLineEnd: Bool
        var problem: HTTPParseError?
    }

    /// Finds the end of the head (the byte after CRLF CRLF); rejects bare LF early.
    static func findHeadEnd(_ buffer: ByteBuffer, from start: Int) -> HeadSearch {
        buffer.withUnsafeReadableBytes { bytes in
            var index = start
            var sawLineEnd = start > 0
            while index < bytes.count {
                guard let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else { break }
                if newline == 0 || bytes[newline - 1] != UInt8(ascii: "\r") {
                    return HeadSearch(
                        end: nil, sawLineEnd: true, problem: .badRequest("bare_lf", "lines must end with CRLF"))
                }
                sawLineEnd = true
                if newline >= 3 && bytes[newline - 2] == UInt8(ascii: "\n") && bytes[newline - 3] == UInt8(ascii: "\r")
                {
                    return HeadSearch(end: newline + 1, sawLineEnd: true)
                }
                index = newline + 1
            }
            return HeadSearch(end: nil, sawLineEnd: sawLineEnd)
        }
    }

    private func parseHeadFields(_ head: ByteBuffer) throws(HTTPParseError) -> HTTP1RequestHead {
        let limits = self.limits
        let parsed: Result<(String, String, Int, [HTTPHeaderFields.Field], UInt32), HTTPParseError> =
            head.withUnsafeReadableBytes { bytes in
                // Request line: method SP target SP HTTP/1.x CRLF
                var index = 0
                while index < bytes.count && HTTPToken.isTokenByte(bytes[index]) { index += 1 }
                guard index > 0, index < bytes.count, bytes[index] == UInt8(ascii: " ") else {
                    return .failure(.badRequest("invalid_request_line", "the method is missing or malformed"))
                }
                let method = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<index]), as: UTF8.self)
                index += 1
                let targetStart = index
                while index < bytes.count && bytes[index] > 0x20 && bytes[index] < 0x7F { index += 1 }
                let targetLength = index - targetStart
                if targetLength > limits.maxURIBytes {
                    return .failure(
                        HTTPParseError(
                            status: 414, code: "uri_too_long",
                            reason: "the request target exceeds \(limits.maxURIBytes) bytes"))
                }
                guard targetLength > 0, index < bytes.count, bytes[index] == UInt8(ascii: " ") else {
                    return .failure(
                        .badRequest(
                            "invalid_request_line", "the request target is missing or contains invalid characters"))
                }
                let target = String(
                    decoding: UnsafeRawBufferPointer(rebasing: bytes[targetStart..<index]), as: UTF8.self)
                index += 1
                // "HTTP/" DIGIT "." DIGIT CRLF
                guard index + 10 <= bytes.count,
                    bytes[index] == UInt8(ascii: "H"), bytes[index + 1] == UInt8(ascii: "T"),
                    bytes[index + 2] == UInt8(ascii: "T"),
                    bytes[index + 3] == UInt8(ascii: "P"), bytes[index + 4] == UInt8(ascii: "/"),
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 5]),
                    bytes[index + 6] == UInt8(ascii: "."),
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index + 7]),
                    bytes[index + 8] == UInt8(ascii: "\r"), bytes[index + 9] == UInt8(ascii: "\n")
                else {
                    return .failure(.badRequest("invalid_request_line", "the HTTP version is malformed"))
                }
                let major = Int(bytes[index + 5] - UInt8(ascii: "0"))
                let minor = Int(bytes[index + 7] - UInt8(ascii: "0"))
                guard major == 1 else {
                    return .failure(
                        HTTPParseError(
                            status: 505, code: "version_not_supported",
                            reason: "only HTTP/1.0 and HTTP/1.1 are spoken here"))
                }

                return Self.parseFieldLines(bytes, from: index + 10, maxCount: limits.maxHeaderCount).map {
                    (method, target, minor, $0.fields, $0.presence)
                }
            }
        let (method, target, minor, fields, presence) = try parsed.get()
        var headers = HTTPHeaderFields(storage: head, fields: fields)
        headers.presence = presence
        let framing = try Self.framing(headers, minorVersion: minor, limits: limits)
        return HTTP1RequestHead(method: method, target: target, minorVersion: minor, headers: headers, framing: framing)
    }

    /// Parses header field lines from `index` up to the final empty line, recognising known names.
    static func parseFieldLines(_ bytes: UnsafeRawBufferPointer, from start: Int, maxCount: Int) -> Result<
        (fields: [HTTPHeaderFields.Field], presence: UInt32), HTTPParseError
    > {
        var index = start
        var fields: [HTTPHeaderFields.Field] = []
        fields.reserveCapacity(12)
        var presence: UInt32 = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\r") {
                // Only the final empty line may start with CR; a bare CR must never hide what follows.
                guard index + 2 == bytes.count, bytes[index + 1] == UInt8(ascii: "\n") else {
                    return .failure(.badRequest("invalid_header", "a header line starts with a bare CR"))
                }
                break
            }
            if bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
                return .failure(
                    .badRequest("obsolete_line_folding", "header line folding (obs-fold) is not allowed"))
            }
            let nameStart = index
            while index < bytes.count && HTTPToken.isTokenByte(bytes[index]) {
                if bytes[index] == UInt8(ascii: "_") { presence |= HTTPHeaderFields.underscoreBit }
                index += 1
            }
            guard index > nameStart, index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                return .failure(
                    .badRequest("invalid_header", "a header name is malformed or followed by whitespace"))
            }
            let nameEnd = index
            index += 1
            while index < bytes.count
                && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t"))
            { index += 1 }
            let valueStart = index
            var valueEnd = index
            while index < bytes.count && bytes[index] != UInt8(ascii: "\r") {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\t") || byte == UInt8(ascii: " ") {
                    // trailing whitespace is not part of the value
                } else if byte > 0x20 && byte != 0x7F {
                    valueEnd = index + 1
                } else {
                    return .failure(
                        .badRequest("invalid_header", "a header value contains a control character"))
                }
                index += 1
            }
            guard index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") else {
                return .failure(.badRequest("invalid_header", "a header line does not end with CRLF"))
            }
            index += 2
            let known = KnownHeader.classify(bytes, start: nameStart, end: nameEnd)
            if known != KnownHeader.unknown { presence |= 1 << UInt32(known) }
            fields.append(
                HTTPHeaderFields.Field(
                    nameStart: UInt32(nameStart), nameEnd: UInt32(nameEnd), valueStart: UInt32(valueStart),
                    valueEnd: UInt32(valueEnd), known: known
                )
            )
            if fields.count > maxCount {
                return .failure(
                    HTTPParseError(
                        status: 431, code: "header_too_large",
                        reason: "more than \(maxCount) header fields"))
            }
        }
        return .success((fields, presence))
    }

    /// Works out the body framing and checks the fields that smuggling attacks play with.
    static func framing(_ headers: HTTPHeaderFields, minorVersion: Int, limits: Limits) throws(HTTPParseError)
        -> BodyFraming
    {
        var hostCount = 0
        var contentLength: Int?
        var transferCodings: [String] = []
        for index in 0..<headers.count {
            let known = headers.fields[index].known
            if known == KnownHeader.host.rawValue {
                hostCount += 1
                let value = headers.value(at: index)
                guard value.utf8.allSatisfy(isHostByte) else {
                    throw .badRequest("invalid_host", "the Host header is malformed")
                }
            } else if known == KnownHeader.contentLength.rawValue {
                contentLength = try contentLengthValue(headers.value(at: index), merging: contentLength)
            } else if known == KnownHeader.transferEncoding.rawValue {
                transferCodings += HTTPToken.list(headers.value(at: index)).map { $0.lowercased() }
            }
        }
        if minorVersion >= 1 && hostCount == 0 {
            throw .badRequest("missing_host", "HTTP/1.1 requests need a Host header")
        }
        if hostCount > 1 {
            throw .badRequest("duplicate_host", "more than one Host header")
        }
        if headers.contains(.transferEncoding) {
            if contentLength != nil {
                throw .badRequest("conflicting_framing", "Content-Length and Transfer-Encoding together")
            }
            if minorVersion == 0 {
                throw .badRequest("invalid_transfer_encoding", "Transfer-Encoding in an HTTP/1.0 request")
            }
            guard transferCodings.last == "chunked", transferCodings.filter({ $0 == "chunked" }).count == 1 else {
                throw .badRequest("invalid_transfer_encoding", "chunked must be the final transfer coding, once")
            }
            guard transferCodings.count == 1 else {
                throw HTTPParseError(
                    status: 501, code: "unsupported_transfer_coding",
                    reason: "only the chunked transfer coding is supported")
            }
            return .chunked
        }
        if let contentLength, contentLength > 0 { return .contentLength(contentLength) }
        return .none
    }

    /// A Content-Length value (a number, or a list of equal numbers), checked against one seen before.
    ///
    /// Read in one pass over the bytes: every proxied response and every upload has one.
    static func contentLengthValue(_ value: String, merging previous: Int?) throws(HTTPParseError) -> Int {
        let notNumber = HTTPParseError.badRequest("invalid_content_length", "Content-Length is not a number")
        var contentLength = previous
        var number = 0
        var digits = 0
        var afterNumber = false
        func endElement() throws(HTTPParseError) {
            guard digits > 0 else { throw notNumber }
            if let existing = contentLength, existing != number {
                throw .badRequest("conflicting_content_length", "differing Content-Length values")
            }
            contentLength = number
            (number, digits, afterNumber) = (0, 0, false)
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard !afterNumber, digits < 18 else { throw notNumber }
                number = number * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                afterNumber = digits > 0
            case UInt8(ascii: ","):
                try endElement()
            default:
                throw notNumber
            }
        }
        try endElement()
        guard let contentLength else { throw notNumber }
        return contentLength
    }

    @inline(__always)
    static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"),
            UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }

    /// How body framing errors are reported for requests.
    static func bodyError(_ problem: HTTP1BodyDecoder.Problem) -> HTTPParseError {
        switch problem {
        case .invalidChunk(let reason): .badRequest("invalid_chunk", reason)
        case .tooLarge(let limit):
            HTTPParseError(status: 413, code: "body_too_large", reason: "the request body exceeds \(limit) bytes")
        case .trailersTooLarge:
            HTTPParseError(status: 431, code: "header_too_large", reason: "the trailer section is too large")
        case .bareLineFeed: .badRequest("bare_lf", "lines must end with CRLF")
        }
    }
}
