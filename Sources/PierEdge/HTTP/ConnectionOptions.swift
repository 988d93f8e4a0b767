import NIOCore

/// The options of a message's `Connection` fields (RFC 9110 §7.6.1), read straight from the received bytes.
///
/// Every request and every upstream response has its `Connection` fields read; splitting them into lowercased
/// strings was a visible share of the proxy's time, so the three options the edge acts on become flags and only
/// other options (names of further hop-by-hop fields, rare) become strings.
struct ConnectionOptions: Sendable, Equatable {
    var close = false
    var keepAlive = false
    var upgrade = false
    /// Any other options, lowercased: each names a field that must not be forwarded.
    var others: [String] = []

    init() {}

    init(_ headers: HTTPHeaderFields) {
        guard headers.contains(.connection) else { return }
        headers.storage.withUnsafeReadableBytes { bytes in
            for field in headers.fields where field.known == KnownHeader.connection.rawValue {
                scan(bytes, from: Int(field.valueStart), to: Int(field.valueEnd))
            }
        }
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
        if Self.equalsIgnoringCase(token, "close") {
            close = true
        } else if Self.equalsIgnoringCase(token, "keep-alive") {
            keepAlive = true
        } else if Self.equalsIgnoringCase(token, "upgrade") {
            upgrade = true
        } else {
            others.append(String(decoding: token, as: UTF8.self).lowercased())
        }
    }

    static func equalsIgnoringCase(_ token: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard token.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            for index in 0..<token.count {
                var byte = token[index]
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                if byte != expected[index] { return false }
            }
            return true
        }
    }
}

extension HTTPHeaderFields {
    /// Whether the value at `index` starts with `prefix` (lowercase ASCII), ignoring ASCII case.
    func valueHasPrefix(_ index: Int, ignoringCase prefix: StaticString) -> Bool {
        let field = fields[index]
        let count = prefix.utf8CodeUnitCount
        guard Int(field.valueEnd - field.valueStart) >= count else { return false }
        return storage.withUnsafeReadableBytes { bytes in
            ConnectionOptions.equalsIgnoringCase(
                UnsafeRawBufferPointer(rebasing: bytes[Int(field.valueStart)..<Int(field.valueStart) + count]), prefix)
        }
    }
}
