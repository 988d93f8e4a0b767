import NIOCore

/// The options of a message's `Connection` fields (RFC 9110 §7.6.1), read straight from the received bytes.
///
/// Every request and every upstream response has its `Connection` fields read; splitting them into lowercased
/// strings was a visible share of the proxy's time, so the three options the edge acts on become flags and only
/// other options (names of further hop-by-hop fields, rare) become strings.
struct ConnectionOptions: Sendable {
    var close = false
    var keepAlive = false
    var upgrade = false
    /// Any other options, lowercased: each names a field that must not be forwarded.
    var others: [String] = []

    init(_ headers: HTTPHeaderFields) {
        guard headers.contains(.connection) else { return }
        headers.storage.withUnsafeReadableBytes { bytes in
            for field in headers.fields where field.known == KnownHeader.connection.rawValue {
                scan(bytes, from: Int(field.valueStart), to: Int(field.valueEnd))
            }
        }
    }

    /// Whether the connection stays open after a message of this HTTP minor version: `close` ends it; HTTP/1.0 needs
    /// `keep-alive` (RFC 9112 §9.3).
    func keepsAlive(minorVersion: Int) -> Bool {
        !close && (minorVersion >= 1 || keepAlive)
    }

    /// Whether `index` names a field listed as another option.
    func lists(_ headers: HTTPHeaderFields, fieldAt index: Int) -> Bool {
        !others.isEmpty && others.contains { headers.nameEquals(index, $0) }
    }

    private mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        var position = start
        while position < end {
            var tokenEnd = position
            while tokenEnd < end && bytes[tokenEnd] != UInt8(ascii: ",") { tokenEnd += 1 }
            var first = position
            var last = tokenEnd
            while first < last && (bytes[first] == UInt8(ascii: " ") || bytes[first] == UInt8(ascii: "\t")) {
                first += 1
            }
            while last > first && (bytes[last - 1] == UInt8(ascii: " ") || bytes[last - 1] == UInt8(ascii: "\t")) {
                last -= 1
            }
            if last > first { classify(UnsafeRawBufferPointer(rebasing: bytes[first..<last])) }
            position = tokenEnd + 1
        }
    }

    private mutating func classify(_ token: UnsafeRawBufferPointer) {
        func matches(_ option: StaticString) -> Bool { HTTPToken.equalsIgnoringCase(token, option.rawBytes) }
        if matches("close") {
            close = true
        } else if matches("keep-alive") {
            keepAlive = true
        } else if matches("upgrade") {
            upgrade = true
        } else {
            others.append(String(decoding: token, as: UTF8.self).lowercased())
        }
    }
}
