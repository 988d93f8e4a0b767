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
        let count = needle.utf8CodeUnitCount
        guard count > 0 else { return true }
        return needle.withUTF8Buffer { needleBytes in
            var value = value
            return value.withUTF8 { bytes in
                guard bytes.count >= count else { return false }
                var start = 0
                while start + count <= bytes.count {
                    var index = 0
                    while index < count {
                        var byte = bytes[start + index]
                        if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                        if byte != needleBytes[index] { break }
                        index += 1
                    }
                    if index == count { return true }
                    start += 1
                }
                return false
            }
        }
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
