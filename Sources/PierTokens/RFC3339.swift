import PierCore

/// RFC 3339 timestamps, the form PASETO's registered claims (`exp`, `nbf`, `iat`) take: `2026-12-04T18:50:57Z`,
/// with optional fractional seconds and a `Z` or `±hh:mm` offset. Read without Foundation, so checking a token's
/// lifetime costs no formatter.
public enum RFC3339 {
    /// Seconds since 1970 (fractions dropped), or `nil` when `text` is not an RFC 3339 date-time.
    public static func seconds(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes -> Int64? in
            guard bytes.count >= 20 else { return nil }
            func digits(_ start: Int, _ count: Int) -> Int? {
                var value = 0
                for index in start..<start + count {
                    let byte = bytes[index]
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                }
                return value
            }
            guard let year = digits(0, 4), bytes[4] == UInt8(ascii: "-"), let month = digits(5, 2),
                bytes[7] == UInt8(ascii: "-"), let day = digits(8, 2),
                bytes[10] | 0x20 == UInt8(ascii: "t"), let hour = digits(11, 2), bytes[13] == UInt8(ascii: ":"),
                let minute = digits(14, 2), bytes[16] == UInt8(ascii: ":"), let second = digits(17, 2),
                (1...12).contains(month), day >= 1, day <= CivilDate.days(inMonth: month, year: year), hour < 24,
                minute < 60, second <= 60
            else { return nil }
            var index = 19
            if bytes[index] == UInt8(ascii: ".") {
                index += 1
                let fractionStart = index
                while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                    index += 1
                }
                guard index > fractionStart else { return nil }
            }
            guard index < bytes.count else { return nil }
            var offset = 0
            if bytes[index] | 0x20 == UInt8(ascii: "z") {
                guard index + 1 == bytes.count else { return nil }
            } else {
                guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
                    index + 6 == bytes.count, let offsetHours = digits(index + 1, 2),
                    bytes[index + 3] == UInt8(ascii: ":"), let offsetMinutes = digits(index + 4, 2),
                    offsetHours < 24, offsetMinutes < 60
                else { return nil }
                offset = (offsetHours * 60 + offsetMinutes) * 60
                if bytes[index] == UInt8(ascii: "-") { offset = -offset }
            }
            let days = CivilDate.daysSince1970(year: year, month: month, day: day)
            return Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset)
        }
    }
}
