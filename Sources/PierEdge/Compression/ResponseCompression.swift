/// Whether and how a proxied answer is compressed on its way to the client. Pure: decided from the request and the
/// upstream's head.
struct ResponseCompression: Equatable {
    /// The coding to apply; `nil` sends the answer as it is (still with `Vary: Accept-Encoding`).
    var coding: ContentCodingName?
    /// The answer's `ETag` made weak (`W/"…"`): the compressed bytes are not the origin's bytes, but the same
    /// content.
    var weakETag: String?

    /// The plan for an answer, or `nil` when compression does not apply to it at all (no `Vary` either): an
    /// answer already encoded, a partial one, `no-transform`, a type that does not compress, or a body under 1 KiB.
    static func plan(
        acceptEncoding: String?, status: Int, contentType: String?, headers: HTTPHeaderFields, contentLength: Int?
    ) -> ResponseCompression? {
        guard status >= 200, status != 204, status != 206, status != 304,
            (contentLength ?? Int.max) >= Compressibility.minimumBytes,
            let type = contentType, Compressibility.isCompressible(contentType: type),
            !headers.contains("content-range")
        else { return nil }
        if let encoding = headers.first("content-encoding"),
            Substring(encoding).trimmingASCIISpaces().lowercased() != "identity"
        {
            return nil
        }
        for value in headers.values("cache-control")
        where HTTPToken.containsCaseInsensitive(value, lowercaseNeedle: "no-transform") {
            return nil
        }
        let available = ContentCodingName.preference.filter(\.isAvailable).map(\.rawValue)
        let chosen = acceptEncoding.flatMap { ContentCoding.choose($0, among: available) }
        let coding = chosen.flatMap(ContentCodingName.init(rawValue:))
        var weak: String?
        if coding != nil, let etag = headers.first("etag"), etag.hasPrefix("\"") {
            weak = "W/" + etag
        }
        return ResponseCompression(coding: coding, weakETag: weak)
    }

    /// Whether the upstream's `Vary` already covers `Accept-Encoding` (or everything).
    static func varyCovers(_ headers: HTTPHeaderFields) -> Bool {
        headers.values("vary").contains { value in
            HTTPToken.list(value).contains { $0 == "*" || $0.lowercased() == "accept-encoding" }
        }
    }
}
