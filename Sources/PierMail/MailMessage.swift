import Foundation

/// A mailbox: an address and, optionally, the name shown with it.
public struct MailAddress: Sendable, Equatable, CustomStringConvertible {
    public var address: String
    public var name: String?

    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    public var description: String { address }

    /// Whether the address can be written into a header and an SMTP command as it is: one `@` between a local part
    /// and a domain, no spaces, controls or angle brackets (so nothing can be smuggled into either), at most 254 bytes.
    public var isValid: Bool {
        let bytes = Array(address.utf8)
        guard !bytes.isEmpty, bytes.count <= 254 else { return false }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") })
        else { return false }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
    }

    /// The mailbox as a header value: `"Name" <address>`, the name as RFC 2047 encoded words when it is not plain
    /// ASCII.
    func headerValue(offset: Int) -> String {
        guard let name, !name.isEmpty else { return address }
        let printable = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        if printable {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(address)>"
        }
        return MailHeader.encodedWords(name, offset: offset) + "\r\n <\(address)>"
    }
}

/// An email: a text part, optionally an HTML alternative, and the headers RFC 5322 asks for. `rendered()` writes it
/// as it goes over the wire (CRLF line ends, every line under 78 characters, bodies in base64, non-ASCII headers as
/// RFC 2047 encoded words).
public struct MailMessage: Sendable, Equatable {
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var from: MailAddress
    public var to: [MailAddress]
    public var subject: String
    public var text: String
    public var html: String?
    /// The `Message-ID` without angle brackets (`local@domain`): stable across retries, so a receiver can tell a
    /// duplicate.
    public var messageID: String
    public var date: Date
    /// `Content-Language`, e.g. `ko` or `en`.
    public var language: String?
    /// More headers (`X-Pier-Task`, `List-Id`...): names are ASCII tokens, values are encoded like the subject.
    public var headers: [Header]

    public init(
        from: MailAddress, to: [MailAddress], subject: String, text: String, html: String? = nil, messageID: String,
        date: Date = Date(), language: String? = nil, headers: [Header] = []
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
        self.date = date
        self.language = language
        self.headers = headers
    }

    /// What is wrong with the message for sending, or `nil`.
    public var problem: String? {
        if !from.isValid { return "the sender address \"\(from.address)\" is not a valid address" }
        if to.isEmpty { return "the message has no recipient" }
        if let bad = to.first(where: { !$0.isValid }) { return "the recipient address \"\(bad.address)\" is not valid" }
        if !MailAddress(messageID).isValid { return "the Message-ID \"\(messageID)\" is not of the form local@domain" }
        if let bad = headers.first(where: { !MailHeader.isToken($0.name) }) {
            return "the header name \"\(bad.name)\" is not a header token"
        }
        return nil
    }

    /// The message as sent after DATA (before dot-stuffing), with CRLF line ends. `boundary` is for tests; by default
    /// a random one is used, which cannot occur in base64 content.
    public func rendered(boundary: String? = nil) -> String {
        var lines: [String] = []
        func header(_ name: String, _ value: String) {
            lines.append("\(name): " + value)
        }
        header("Date", MailHeader.date(date))
        header("From", from.headerValue(offset: 6))
        header("To", to.map { $0.headerValue(offset: 4) }.joined(separator: ",\r\n "))
        header("Subject", MailHeader.unstructured(subject, offset: 9))
        header("Message-ID", "<\(messageID)>")
        header("MIME-Version", "1.0")
        header("Auto-Submitted", "auto-generated")
        if let language { header("Content-Language", language) }
        for extra in headers {
            header(extra.name, MailHeader.unstructured(extra.value, offset: extra.name.utf8.count + 2))
        }
        if let html {
            let boundary =
                boundary ?? "=_pier_"
                + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
            header("Content-Type", "multipart/alternative;\r\n boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("This is a message in MIME format: a text part and an HTML part.")
            for (type, content) in [("text/plain", text), ("text/html", html)] {
                lines.append("--" + boundary)
                lines.append("Content-Type: \(type); charset=utf-8")
                lines.append("Content-Transfer-Encoding: base64")
                lines.append("")
                lines.append(contentsOf: MailHeader.base64Lines(content))
            }
            lines.append("--" + boundary + "--")
        } else {
            header("Content-Type", "text/plain; charset=utf-8")
            header("Content-Transfer-Encoding", "base64")
            lines.append("")
            lines.append(contentsOf: MailHeader.base64Lines(text))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

/// Header encodings: RFC 5322 dates, RFC 2047 encoded words, folding.
enum MailHeader {
    /// `Wed, 02 Dec 2026 18:40:00 +0000`.
    static func date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(days[((parts.weekday ?? 1) - 1) % 7]), \(two(parts.day)) \(months[((parts.month ?? 1) - 1) % 12]) "
            + "\(parts.year ?? 1970) \(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000"
    }

    /// An unstructured header value (`Subject`): as it is when it is printable ASCII and fits on the header's line,
    /// otherwise RFC 2047 encoded words. Line breaks in the value become spaces.
    static func unstructured(_ value: String, offset: Int) -> String {
        let flat = value.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\r", with: " ")
        let printable = flat.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        if printable && offset + flat.utf8.count <= 78 && !flat.contains("=?") { return flat }
        return encodedWords(flat, offset: offset)
    }

    /// `=?UTF-8?B?…?=` words of at most 39 bytes of text each (never splitting a character), folded one per line.
    static func encodedWords(_ text: String, offset: Int) -> String {
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty && chunk.count + bytes.count > 39 {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }

    /// A body in base64, 76 characters a line.
    static func base64Lines(_ text: String) -> [String] {
        let encoded = Array(Data(text.utf8).base64EncodedString().utf8)
        return stride(from: 0, to: encoded.count, by: 76).map {
            String(decoding: encoded[$0..<min($0 + 76, encoded.count)], as: UTF8.self)
        }
    }

    /// A header name: printable ASCII without spaces or colons.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
    }
}
