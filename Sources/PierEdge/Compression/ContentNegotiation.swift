/// `Accept-Encoding` (RFC 9110 §12.5.3): which coding of those at hand the client rates highest.
enum ContentCoding {
    /// The coding of `available` (in the server's order of preference) with the highest quality the client gives
    /// it, or `nil` when the client accepts none of them (identity is then sent). `x-gzip` is gzip; `*` rates every
    /// coding not named.
    static func choose(_ header: String, among available: [String]) -> String? {
        var named: [(coding: Substring, quality: Int)] = []
        var wildcard: Int?
        for element in HTTPToken.list(header) {
            var parts = element.split(separator: ";").makeIterator()
            guard var coding = parts.next()?.trimmingASCIISpaces(), !coding.isEmpty else { continue }
            var quality = 1000
            while let parameter = parts.next() {
                let pair = parameter.trimmingASCIISpaces()
                if pair.count > 2, pair.utf8.first.map({ $0 | 0x20 }) == UInt8(ascii: "q"),
                    pair.utf8.dropFirst().first == UInt8(ascii: "=")
                {
                    quality = Self.quality(pair.dropFirst(2)) ?? 0
                }
            }
            if coding.count == 6, coding.lowercased() == "x-gzip" { coding = "gzip" }
            if coding == "*" {
                wildcard = quality
            } else {
                named.append((coding, quality))
            }
        }
        var best: (coding: String, quality: Int)?
        for coding in available {
            let quality =
                named.first(where: { $0.coding.count == coding.utf8.count && $0.coding.lowercased() == coding })?
                .quality ?? wildcard ?? 0
            if quality > 0, quality > (best?.quality ?? 0) { best = (coding, quality) }
        }
        return best?.coding
    }

    /// A qvalue (`0`, `0.5`, `1.000`) in thousandths, or `nil` when malformed.
    static func quality(_ text: Substring) -> Int? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        guard bytes.count > 1 else { return value }
        guard bytes[1] == UInt8(ascii: "."), bytes.count <= 5 else { return nil }
        var scale = 100
        for byte in bytes.dropFirst(2) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), first == UInt8(ascii: "0") || byte == 0x30
            else { return nil }
            value += Int(byte - UInt8(ascii: "0")) * scale
            scale /= 10
        }
        return value
    }
}

/// Which answers are worth compressing: text-like media types, at least 1 KiB.
enum Compressibility {
    static let minimumBytes = 1024

    /// Whether a `Content-Type` names a type that compresses well: text (but not event streams, which must reach
    /// the client event by event), JSON, XML, JavaScript, SVG, WebAssembly, uncompressed fonts.
    static func isCompressible(contentType: String) -> Bool {
        var type = Substring(contentType)
        if let semicolon = type.firstIndex(of: ";") { type = type[..<semicolon] }
        type = type.trimmingASCIISpaces()
        // Compared byte by byte, case-insensitively: called for every proxied answer, it allocates nothing.
        func equals(_ candidate: String) -> Bool {
            type.utf8.count == candidate.utf8.count
                && zip(type.utf8, candidate.utf8).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
        }
        func hasPrefix(_ prefix: String) -> Bool {
            type.utf8.count >= prefix.utf8.count
                && zip(type.utf8, prefix.utf8).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
        }
        func hasSuffix(_ suffix: String) -> Bool {
            type.utf8.count >= suffix.utf8.count
                && zip(type.utf8.suffix(suffix.utf8.count), suffix.utf8).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
        }
        if hasPrefix("text/") { return !equals("text/event-stream") }
        if hasSuffix("+json") || hasSuffix("+xml") { return true }
        return compressibleTypes.contains(where: equals)
    }

    private static let compressibleTypes: [String] = [
        "application/json", "application/javascript", "application/x-javascript", "application/ecmascript",
        "application/xml", "application/wasm", "application/x-ndjson", "application/graphql",
        "application/vnd.ms-fontobject", "font/ttf", "font/otf", "application/x-font-ttf", "image/x-icon",
        "image/vnd.microsoft.icon", "image/bmp",
    ]
}
