/// Entity-tag comparisons for conditional requests (RFC 9110 §8.8.3, §13.1).
public enum EntityTag {
    /// Whether an `If-None-Match` value matches `etag` (weak comparison; `*` matches anything).
    public static func noneMatchHits(_ header: String, etag: String) -> Bool {
        let opaque = stripWeak(Substring(etag))
        for candidate in HTTPToken.list(header) {
            if candidate == "*" || stripWeak(candidate) == opaque { return true }
        }
        return false
    }

    /// Whether an `If-Range` value still names this representation, so a partial response may be sent.
    /// Only a strong match on an entity-tag or an exact Last-Modified date qualifies.
    public static func ifRangeHolds(_ header: String, etag: String, lastModified: String) -> Bool {
        let value = header.trimmingPrefix(" ")
        if value.hasPrefix("\"") { return value == etag }
        if value.hasPrefix("W/") { return false }
        return value == lastModified
    }

    static func stripWeak(_ tag: Substring) -> Substring {
        tag.hasPrefix("W/") ? tag.dropFirst(2) : tag
    }
}
