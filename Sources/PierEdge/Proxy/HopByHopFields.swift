/// The one rule for which fields stay on their hop (RFC 9110 §7.6.1), applied to requests going upstream and to
/// answers coming back: `Connection` and every field it names, `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`,
/// `Upgrade` and `Proxy-*`. The edge sets framing and the forwarding fields itself, on purpose.
enum HopByHopFields {
    /// Whether the field at `index` belongs to the hop it arrived on.
    static func isHopByHop(_ headers: HTTPHeaderFields, at index: Int, options: ConnectionOptions) -> Bool {
        switch headers.knownTag(at: index) {
        case KnownHeader.connection.rawValue, KnownHeader.keepAlive.rawValue, KnownHeader.te.rawValue,
            KnownHeader.trailer.rawValue, KnownHeader.transferEncoding.rawValue, KnownHeader.upgrade.rawValue:
            return true
        default:
            return headers.nameHasPrefix(index, "proxy-") || options.lists(headers, fieldAt: index)
        }
    }
}
