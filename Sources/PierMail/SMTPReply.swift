/// A server's reply: a three-digit code and its text lines (RFC 5321 §4.2).
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// `250 2.0.0 Ok: queued as 4F3A` — several lines joined with " / ".
    public var description: String { "\(code) " + lines.joined(separator: " / ") }

    var isTransientFailure: Bool { (400..<500).contains(code) }
    var isPermanentFailure: Bool { code >= 500 }
}

/// Breaks what the server sends into lines (CRLF or LF), refusing a line longer than `maximumLength`.
struct SMTPLineFramer {
    private var buffer: [UInt8] = []
    private var start = 0
    let maximumLength: Int

    init(maximumLength: Int = 4096) {
        self.maximumLength = maximumLength
    }

    /// Whether bytes arrived that are not yet a line: after a `220` to STARTTLS that would be plaintext the server (or
    /// someone on the path) slipped in before TLS, to be answered as if it came over TLS.
    var hasPendingBytes: Bool { start < buffer.count }

    mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete line without its line end, `nil` when there is none yet.
    mutating func nextLine() throws(SMTPProtocolError) -> String? {
        guard let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.count - start > maximumLength {
                throw SMTPProtocolError("the server sent a line longer than \(maximumLength) bytes")
            }
            return nil
        }
        var end = newline
        if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        guard end - start <= maximumLength else {
            throw SMTPProtocolError("the server sent a line longer than \(maximumLength) bytes")
        }
        let line = String(decoding: buffer[start..<end], as: UTF8.self)
        start = newline + 1
        return line
    }
}

/// Gathers reply lines (`250-first`, `250-second`, `250 last`) into replies.
struct SMTPReplyParser {
    private var code: Int?
    private var lines: [String] = []
    let maximumLines: Int

    init(maximumLines: Int = 200) {
        self.maximumLines = maximumLines
    }

    /// Takes one line; returns the reply when the line is its last.
    mutating func take(_ line: String) throws(SMTPProtocolError) -> SMTPReply? {
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, bytes[0..<3].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let lineCode = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200..<600).contains(lineCode)
        else {
            throw SMTPProtocolError("the server sent \"\(line.prefix(80))\", which is not an SMTP reply")
        }
        let separator = bytes.count > 3 ? bytes[3] : UInt8(ascii: " ")
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw SMTPProtocolError("the server sent \"\(line.prefix(80))\", which is not an SMTP reply")
        }
        if let code, code != lineCode {
            throw SMTPProtocolError("a reply began with \(code) and went on with \(lineCode)")
        }
        code = lineCode
        lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        guard lines.count <= maximumLines else {
            throw SMTPProtocolError("a reply went on for more than \(maximumLines) lines")
        }
        guard separator == UInt8(ascii: " ") else { return nil }
        defer {
            code = nil
            lines = []
        }
        return SMTPReply(code: lineCode, lines: lines)
    }
}

/// The server broke the protocol.
struct SMTPProtocolError: Error, Equatable, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
