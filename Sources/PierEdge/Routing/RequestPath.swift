import Foundation

/// A request target's path, percent-decoded and checked so it can be matched against routes and mapped onto a
/// directory without ever leaving it.
///
/// Refused outright (the caller answers 400): `.` and `..` segments, encoded `\` or NUL, raw backslashes, control
/// characters, malformed percent-escapes, and bytes that are not UTF-8. Repeated slashes are merged.
///
/// An encoded slash (`%2F`) is not a separator: such a path is kept with its `%2F` (and any `%25`) still encoded, so
/// it stays unambiguous, and ``hasEncodedSlash`` tells the caller to refuse it unless the route passes it on. Pieces
/// between encoded slashes may not be `.` or `..` either, since an upstream may decode them into segments.
public struct RequestPath: Sendable, Hashable {
    /// The decoded path, always starting with `/`; with ``hasEncodedSlash``, `%2F` and `%25` are left encoded.
    public let path: String
    /// The query, without `?`, exactly as received.
    public let query: Substring?
    /// Whether a segment holds an encoded slash (`%2F`), which only a proxy route with `encoded_slashes: pass`
    /// accepts.
    public let hasEncodedSlash: Bool

    /// Why a target was refused.
    public enum Problem: Error, Sendable, Hashable {
        case notOriginForm
        case invalidEncoding
        case forbiddenSegment
        case forbiddenCharacter
    }

    /// Parses an origin-form (`/path?query`) or absolute-form (`http://host/path`) target.
    public init(target: String) throws(Problem) {
        var raw = Substring(target)
        if raw.utf8.first != UInt8(ascii: "/") {
            // absolute-form: skip scheme and authority.
            guard let schemeEnd = raw.range(of: "://"), raw[..<schemeEnd.lowerBound].allSatisfy(\.isLetter) else {
                throw .notOriginForm
            }
            let afterAuthority = raw[schemeEnd.upperBound...]
            if let slash = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                raw = afterAuthority[slash...]
                if raw.hasPrefix("?") { raw = "/" + raw }
            } else {
                raw = "/"
            }
        }
        if raw.utf8.contains(UInt8(ascii: "#")) { throw .forbiddenCharacter }
        var pathPart = raw
        if let questionMark = raw.utf8.firstIndex(of: UInt8(ascii: "?")) {
            pathPart = raw[..<questionMark]
            query = raw[raw.utf8.index(after: questionMark)...]
        } else {
            query = nil
        }
        if Self.needsNormalizing(pathPart) {
            hasEncodedSlash = Self.containsEncodedSlash(pathPart)
            path = try Self.normalize(pathPart, keepingEncodedSlashes: hasEncodedSlash)
        } else {
            // Nothing to decode or merge, the common case: the target's own string when it is all path.
            path = pathPart.utf8.count == target.utf8.count ? target : String(pathPart)
            hasEncodedSlash = false
        }
    }

    /// Whether the path has anything to decode, refuse or merge: escapes, backslashes, control bytes, `//`, or a
    /// segment starting with a dot.
    static func needsNormalizing(_ raw: Substring) -> Bool {
        var previous: UInt8 = 0
        for byte in raw.utf8 {
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "\\") || byte < 0x21 || byte == 0x7F
                || (previous == UInt8(ascii: "/") && (byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".")))
            {
                return true
            }
            previous = byte
        }
        return false
    }

    /// Whether the raw path holds `%2F` or `%2f`.
    static func containsEncodedSlash(_ raw: Substring) -> Bool {
        var iterator = raw.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { continue }
            if iterator.next() == UInt8(ascii: "2"), let low = iterator.next(), low | 0x20 == UInt8(ascii: "f") {
                return true
            }
        }
        return false
    }

    /// Decodes, checks and merges a path that ``needsNormalizing(_:)``; with `keepingEncodedSlashes`, `%2F` and
    /// `%25` stay encoded (uppercase) so an encoded slash is told apart from a separator and from a literal `%2F`.
    static func normalize(_ raw: Substring, keepingEncodedSlashes: Bool = false) throws(Problem) -> String {
        var output: [UInt8] = [UInt8(ascii: "/")]
        output.reserveCapacity(raw.utf8.count)
        for rawSegment in raw.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            var segment: [UInt8] = []
            segment.reserveCapacity(rawSegment.count)
            var iterator = rawSegment.makeIterator()
            while let byte = iterator.next() {
                if byte == UInt8(ascii: "%") {
                    guard let high = iterator.next().flatMap(HTTPToken.hexDigit),
                        let low = iterator.next().flatMap(HTTPToken.hexDigit)
                    else {
                        throw .invalidEncoding
                    }
                    let decoded = high << 4 | low
                    if keepingEncodedSlashes && (decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "%")) {
                        segment.append(
                            contentsOf: decoded == UInt8(ascii: "/") ? Self.encodedSlash : Self.encodedPercent)
                        continue
                    }
                    if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") || decoded < 0x20
                        || decoded == 0x7F
                    {
                        throw .forbiddenCharacter
                    }
                    segment.append(decoded)
                } else {
                    if byte == UInt8(ascii: "\\") || byte < 0x21 || byte == 0x7F { throw .forbiddenCharacter }
                    segment.append(byte)
                }
            }
            // With encoded slashes kept, an upstream that decodes them sees the pieces between them as segments:
            // `..%2F` must not reach it either.
            let pieces =
                keepingEncodedSlashes
                ? segment.split(separator: Self.encodedSlash, omittingEmptySubsequences: false) : [segment[...]]
            if pieces.contains(where: Self.isDotSegment) { throw .forbiddenSegment }
            if output.count > 1 { output.append(UInt8(ascii: "/")) }
            output.append(contentsOf: segment)
        }
        if raw.utf8.count > 1, raw.utf8.last == UInt8(ascii: "/"), output.count > 1 {
            output.append(UInt8(ascii: "/"))
        }
        guard let text = String(validating: output, as: UTF8.self) else { throw .invalidEncoding }
        return text
    }

    /// `.` or `..`.
    static func isDotSegment(_ segment: ArraySlice<UInt8>) -> Bool {
        (1...2).contains(segment.count) && segment.allSatisfy { $0 == UInt8(ascii: ".") }
    }

    private static let encodedSlash: [UInt8] = Array("%2F".utf8)
    private static let encodedPercent: [UInt8] = Array("%25".utf8)

    /// Whether any segment starts with a dot, other than `.well-known`.
    public var hasDotSegment: Bool {
        var previous: UInt8 = 0
        var index = path.utf8.startIndex
        while index != path.utf8.endIndex {
            let byte = path.utf8[index]
            if byte == UInt8(ascii: ".") && previous == UInt8(ascii: "/") {
                let segment = path.utf8[index...].prefix { $0 != UInt8(ascii: "/") }
                if !segment.elementsEqual(".well-known".utf8) { return true }
            }
            previous = byte
            index = path.utf8.index(after: index)
        }
        return false
    }

    /// Whether the path ends with `/`.
    public var hasTrailingSlash: Bool { path.utf8.last == UInt8(ascii: "/") }

    /// The last segment, empty for `/`.
    public var lastSegment: Substring {
        let trimmed = path.hasSuffix("/") ? path.dropLast() : Substring(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return trimmed[trimmed.index(after: slash)...]
    }
}
