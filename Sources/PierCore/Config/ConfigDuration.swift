import Foundation

/// Parses human durations such as `500ms`, `10s`, `2m`, `1h` or `1m30s` used throughout Pier's configuration.
public enum ConfigDuration {
    /// Returns the duration, or `nil` when the text is not a well-formed duration.
    ///
    /// A bare `0` is accepted as zero; any other number needs a unit so that `10` is never silently
    /// ten seconds in one field and ten milliseconds in another.
    public static func parse(_ text: String) -> Duration? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text == "0" { return .zero }
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let value = Double(digits), value.isFinite else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let nanosecondsPerUnit: Double
            switch unit {
            case "ns": nanosecondsPerUnit = 1
            case "us", "µs": nanosecondsPerUnit = 1_000
            case "ms": nanosecondsPerUnit = 1_000_000
            case "s": nanosecondsPerUnit = 1_000_000_000
            case "m": nanosecondsPerUnit = 60_000_000_000
            case "h": nanosecondsPerUnit = 3_600_000_000_000
            case "d": nanosecondsPerUnit = 86_400_000_000_000
            default: return nil
            }
            let nanoseconds = value * nanosecondsPerUnit
            guard nanoseconds < 1e18 else { return nil }
            total += .nanoseconds(Int64(nanoseconds.rounded()))
            // The sum too stays below about 31 years, so nothing downstream can overflow nanoseconds.
            guard total < .seconds(1_000_000_000) else { return nil }
        }
        return total
    }

    /// Formats a duration the way it would be written in a configuration file.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "0" }
        if milliseconds % 3_600_000 == 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
