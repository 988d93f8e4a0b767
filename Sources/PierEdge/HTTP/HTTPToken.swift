/// RFC 9110 syntax helpers shared by the parser, the config reader and the CORS engine.
public enum HTTPToken {
    /// Whether `byte` is a `tchar` (RFC 9110 §5.6.2).
    @inlinable
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"),
            UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Whether `text` is a non-empty token.
    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// The value of an ASCII hexadecimal digit, or `nil`.
    @inline(__always)
    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Whether `value` contains `needle` (lowercase ASCII), comparing ASCII letters case-insensitively.
    ///
    /// Byte-wise on purpose: `String.contains(_:)` compares `Character`s and builds a table per call, which made it the
    /// largest single cost of answering an SPA navigation.
    public static func containsCaseInsensitive(_ value: String, lowercaseNeedle needle: StaticString) -> Bool {
        let expected = needle.rawBytes
        var value = value
        return value.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            guard raw.count >= expected.count else { return false }
            return (0...(raw.count - expected.count)).contains { start in
                equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: raw[start..<start + expected.count]), expected)
            }
        }
    }

    /// Whether `value` equals `lowercase` (lowercase ASCII) ignoring ASCII case.
    static func equalsIgnoringCase(_ value: String, _ lowercase: StaticString) -> Bool {
        var value = value
        return value.withUTF8 { equalsIgnoringCase(UnsafeRawBufferPointer($0), lowercase.rawBytes) }
    }

    /// Whether `bytes` equal `lowercase` (lowercase ASCII) when ASCII letters in `bytes` are lowercased: the one
    /// comparison behind field names, media types and connection options, done on received bytes without copies.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != lowercase[index] { return false }
        }
        return true
    }

    /// Splits a comma-separated header value into trimmed, non-empty elements.
    public static func list(_ value: String) -> [Substring] {
        value.split(separator: ",").map { $0.trimmingASCIISpaces() }.filter { !$0.isEmpty }
    }
}

extension Substring {
    /// The substring without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}

extension StaticString {
    /// The string's UTF-8 bytes, for byte-wise comparisons.
    var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount)
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in decimal digits.
    mutating func appendDecimal(_ value: Int) {
        guard value >= 0 else {
            append(UInt8(ascii: "-"))
            appendDecimal(0 - value)
            return
        }
        if value >= 10 { appendDecimal(value / 10) }
        append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
