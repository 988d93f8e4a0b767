import PierCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// IMF-fixdate (RFC 9110 §5.6.7) formatting and parsing, without Foundation formatters on the request path.
public enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats seconds since 1970 as `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func format(epochSeconds: Int) -> String {
        let parts = utcParts(epochSeconds: epochSeconds)
        var bytes: [UInt8] = []
        bytes.append(contentsOf: days[Int(parts.tm_wday)].utf8)
        bytes.append(contentsOf: ", ".utf8)
        appendTwoDigits(parts.tm_mday, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: monthNames[Int(parts.tm_mon)].utf8)
        bytes.append(UInt8(ascii: " "))
        bytes.appendDecimal(Int(parts.tm_year) + 1900)
        bytes.append(UInt8(ascii: " "))
        appendTime(parts, to: &bytes)
        bytes.append(contentsOf: " GMT".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `1994-11-06T08:49:37Z`.
    static func iso8601(epochSeconds: Int) -> String {
        var bytes: [UInt8] = []
        appendISO8601(epochSeconds: epochSeconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendISO8601(epochSeconds: Int, to bytes: inout [UInt8]) {
        let parts = utcParts(epochSeconds: epochSeconds)
        bytes.appendDecimal(Int(parts.tm_year) + 1900)
        bytes.append(UInt8(ascii: "-"))
        appendTwoDigits(parts.tm_mon + 1, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendTwoDigits(parts.tm_mday, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendTime(parts, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// The calendar fields of a time, in UTC.
    static func utcParts(epochSeconds: Int) -> tm {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return parts
    }

    /// `08:49:37`.
    static func appendTime(_ parts: tm, to bytes: inout [UInt8]) {
        appendTwoDigits(parts.tm_hour, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendTwoDigits(parts.tm_min, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendTwoDigits(parts.tm_sec, to: &bytes)
    }

    static func appendTwoDigits(_ value: Int32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "0") + UInt8(value / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    /// Parses an IMF-fixdate; other (obsolete) forms and anything malformed give `nil`.
    public static func parse(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 29, bytes[3] == UInt8(ascii: ","), bytes[4] == 0x20, bytes[7] == 0x20, bytes[11] == 0x20,
            bytes[16] == 0x20, bytes[19] == UInt8(ascii: ":"), bytes[22] == UInt8(ascii: ":"), bytes[25] == 0x20,
            String(decoding: bytes[26..<29], as: UTF8.self) == "GMT"
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let day = number(5..<7), let year = number(12..<16), let hour = number(17..<19),
            let minute = number(20..<22),
            let second = number(23..<25),
            let month = monthNames.firstIndex(of: String(decoding: bytes[8..<11], as: UTF8.self)),
            (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        return CivilDate.daysSince1970(year: year, month: month + 1, day: day) * 86400 + hour * 3600 + minute * 60
            + second
    }
}
