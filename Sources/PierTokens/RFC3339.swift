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
                (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24,
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
            let days = daysSince1970(year: year, month: month, day: day)
            return Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset)
        }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the date in the proleptic Gregorian calendar (Howard Hinnant's `days_from_civil`).
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }
}
