/// `Range: bytes=…` parsing (RFC 9110 §14), reduced to what a static server needs.
public enum ByteRangeRequest: Sendable, Hashable {
    /// Serve the whole representation (no Range, or one that must be ignored).
    case full
    /// One satisfiable range, as a half-open range of offsets.
    case single(Range<Int>)
    /// Several satisfiable ranges, coalesced and in order.
    case multiple([Range<Int>])
    /// No range overlaps the representation (416).
    case unsatisfiable

    /// Interprets a Range header value for a representation of `size` bytes.
    ///
    /// Syntactically invalid values and other units are ignored (served in full), as RFC 9110 allows. More than
    /// `maxRanges` ranges are also served in full, to avoid amplification.
    public static func parse(_ header: String?, size: Int, maxRanges: Int = 16) -> ByteRangeRequest {
        guard let header else { return .full }
        let trimmed = header.trimmingPrefix(" ")
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .full }
        let specs = trimmed.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        guard !specs.isEmpty, specs.count <= maxRanges else { return .full }
        var ranges: [Range<Int>] = []
        for spec in specs {
            let spec = spec.trimmingASCIISpaces()
            guard let dash = spec.firstIndex(of: "-") else { return .full }
            let first = spec[..<dash]
            let last = spec[spec.index(after: dash)...]
            guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit), !(first.isEmpty && last.isEmpty),
                first.count <= 18, last.count <= 18
            else { return .full }
            if first.isEmpty {
                // suffix range: the last N bytes
                let length = Int(last)!
                guard length > 0 else { continue }
                if size > 0 { ranges.append(max(0, size - length)..<size) }
            } else {
                let start = Int(first)!
                let end = last.isEmpty ? Int.max - 1 : Int(last)!
                guard end >= start else { return .full }
                if start < size { ranges.append(start..<min(end, size - 1) + 1) }
            }
        }
        guard !ranges.isEmpty else { return .unsatisfiable }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = [ranges[0]]
        for range in ranges.dropFirst() {
            if range.lowerBound <= merged[merged.count - 1].upperBound {
                merged[merged.count - 1] =
                    merged[merged.count - 1].lowerBound..<max(merged[merged.count - 1].upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged.count == 1 ? .single(merged[0]) : .multiple(merged)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
