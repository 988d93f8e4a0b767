/// Content types by file extension, with `charset=utf-8` for text.
enum MediaTypes {
    static let fallback = "application/octet-stream"

    static let byExtension: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8",
        "json": "application/json", "map": "application/json", "webmanifest": "application/manifest+json",
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
        "xml": "application/xml", "svg": "image/svg+xml", "ico": "image/x-icon",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "avif": "image/avif", "bmp": "image/bmp",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "wasm": "application/wasm", "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav",
        "yaml": "application/yaml", "yml": "application/yaml", "ics": "text/calendar; charset=utf-8",
    ]

    /// The content type for a file name.
    static func contentType(forFileName name: Substring) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return fallback }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? fallback
    }
}

/// Recognises fingerprinted asset names such as `app.3f9a1c2e.js` or `chunk-5FJ3K2QW.js`, which never change and
/// can be cached for a year.
enum Fingerprint {
    static func isFingerprinted(_ name: Substring) -> Bool {
        let parts = name.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" })
        guard parts.count >= 3 || (parts.count == 2 && name.contains("-")) else { return false }
        // Skip the base name and the extension; any hash-like part in between marks a fingerprint.
        for part in parts.dropFirst().dropLast() where isHashLike(part) { return true }
        return false
    }

    static func isHashLike(_ part: Substring) -> Bool {
        guard part.utf8.count >= 8 else { return false }
        var digits = 0
        for byte in part.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): continue
            default: return false
            }
        }
        return digits > 0
    }
}
