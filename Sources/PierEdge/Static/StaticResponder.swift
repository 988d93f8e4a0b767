import NIOCore

/// The static stage of the pipeline: a file, a directory index, the SPA fallback, or a problem, from the file cache
/// (answered synchronously) or, on a miss, after a lookup on the thread pool that continues on the exchange's loop.
enum StaticResponder {
    /// Answers a request on a static route. `retried`: a second pass after the file changed between the cached
    /// lookup and its opening (the cache was cleared then, so this pass reads the disk).
    static func serve(
        _ exchange: EdgeExchange, path: RequestPath, config: StaticConfig, extra: [(String, String)],
        retried: Bool = false
    ) {
        let method = exchange.request.method
        guard method == "GET" || method == "HEAD" else {
            if method == "OPTIONS" {
                var response = EdgeResponseHead(status: 204)
                response.add("Allow", "GET, HEAD, OPTIONS")
                response.add(extra)
                exchange.sink.respond(exchange, response, body: nil)
            } else {
                EdgeResponder.problem(
                    exchange, status: 405, code: "method_not_allowed", detail: "static files answer GET and HEAD",
                    extra: [("Allow", "GET, HEAD, OPTIONS")] + extra)
            }
            return
        }
        if !config.allowDotfiles && path.hasDotSegment {
            EdgeResponder.problem(exchange, status: 404, code: "not_found", detail: nil, extra: extra)
            return
        }
        // The common case, a cached answer, continues synchronously without allocating a continuation.
        let files = exchange.runtime.files
        if let cached = files.cached(
            root: config.root, relativePath: path.path, now: exchange.start, eventLoop: exchange.sink.eventLoop)
        {
            answer(exchange, path: path, config: config, extra: extra, lookup: cached, retried: retried)
            return
        }
        lookup(exchange, root: config.root, relativePath: path.path) { lookup in
            answer(exchange, path: path, config: config, extra: extra, lookup: lookup, retried: retried)
        }
    }

    /// Answers once the path's lookup is known.
    static func answer(
        _ exchange: EdgeExchange, path: RequestPath, config: StaticConfig, extra: [(String, String)],
        lookup: StaticLookup, retried: Bool
    ) {
        switch lookup {
        case .file(let file):
            serveFile(exchange, file: file, extra: extra, path: path, config: config, retried: retried)
        case .directory:
            if path.hasTrailingSlash {
                let indexPath = path.path + config.index
                self.lookup(exchange, root: config.root, relativePath: indexPath) { index in
                    if case .file(let file) = index {
                        serveFile(exchange, file: file, extra: extra, path: path, config: config, retried: retried)
                    } else {
                        serveFallbackOrNotFound(exchange, path: path, config: config, extra: extra, retried: retried)
                    }
                }
            } else {
                var response = EdgeResponseHead(status: 301)
                let query = path.query.map { "?" + $0 } ?? ""
                response.add("Location", encodePath(path.path) + "/" + query)
                response.add("Cache-Control", "no-cache")
                response.add(extra)
                exchange.sink.respond(exchange, response, body: nil)
            }
        case .notFound:
            serveFallbackOrNotFound(exchange, path: path, config: config, extra: extra, retried: retried)
        }
    }

    /// Serves the SPA fallback for navigations, a 404 problem for everything else.
    static func serveFallbackOrNotFound(
        _ exchange: EdgeExchange, path: RequestPath, config: StaticConfig, extra: [(String, String)],
        retried: Bool
    ) {
        guard let fallback = config.spaFallback, isNavigation(exchange.request, path: path) else {
            EdgeResponder.problem(exchange, status: 404, code: "not_found", detail: nil, extra: extra)
            return
        }
        lookup(exchange, root: config.root, relativePath: "/" + fallback) { lookup in
            if case .file(let file) = lookup {
                // The fallback document stands for every client-side route: never cached as immutable.
                serveFile(
                    exchange, file: file, extra: extra, cacheControl: "no-cache", path: path, config: config,
                    retried: retried)
            } else {
                EdgeResponder.problem(exchange, status: 404, code: "not_found", detail: nil, extra: extra)
            }
        }
    }

    /// A browser navigation: GET or HEAD, accepting HTML, to a path whose last segment has no extension.
    static func isNavigation(_ request: EdgeRequest, path: RequestPath) -> Bool {
        guard request.method == "GET" || request.method == "HEAD" else { return false }
        guard let accept = request.headers.first(.accept),
            HTTPToken.containsCaseInsensitive(accept, lowercaseNeedle: "text/html")
        else { return false }
        return !path.lastSegment.utf8.contains(UInt8(ascii: "."))
    }

    /// Answers from the cache when it can, otherwise resolves on the thread pool and continues on this loop.
    static func lookup(
        _ exchange: EdgeExchange, root: String, relativePath: String, _ body: @escaping (StaticLookup) -> Void
    ) {
        let files = exchange.runtime.files
        let loop = exchange.sink.eventLoop
        if let cached = files.cached(root: root, relativePath: relativePath, now: exchange.start, eventLoop: loop) {
            body(cached)
            return
        }
        files.resolve(root: root, relativePath: relativePath, eventLoop: loop).assumeIsolated().whenComplete {
            result in
            guard !exchange.cancelled else { return }
            switch result {
            case .success(let lookup): body(lookup)
            case .failure: body(.notFound)
            }
        }
    }

    /// Chooses the representation, evaluates conditionals and ranges, and sends the file. A file replaced on disk
    /// since its entry was cached is found out when it is opened, before anything is sent: then the request for
    /// `path` is answered again from the top (the cache was cleared), once (`retried`).
    static func serveFile(
        _ exchange: EdgeExchange, file: StaticFile, extra: [(String, String)], cacheControl: String? = nil,
        path: RequestPath, config: StaticConfig, retried: Bool
    ) {
        let request = exchange.request
        let headers = request.headers
        let rangeHeader = request.method == "GET" ? headers.first(.range) : nil
        var representation = file.identity
        if rangeHeader == nil, !file.encoded.isEmpty, let acceptEncoding = headers.first(.acceptEncoding) {
            // Generated representations only where the route compresses; precompressed files always.
            let compress = exchange.route?.compress ?? true
            let available = file.encoded.compactMap { compress || !$0.generated ? $0.contentEncoding : nil }
            if let chosen = ContentCoding.choose(acceptEncoding, among: available) {
                representation = file.encoded.first { $0.contentEncoding == chosen } ?? representation
            }
        }
        let notModified: Bool
        if let ifNoneMatch = headers.first(.ifNoneMatch) {
            notModified = EntityTag.noneMatchHits(ifNoneMatch, etag: representation.etag)
        } else if let ifModifiedSince = headers.first(.ifModifiedSince), let since = HTTPDate.parse(ifModifiedSince) {
            notModified = file.lastModifiedSeconds <= since
        } else {
            notModified = false
        }
        if !notModified, rangeHeader == nil, extra.isEmpty, cacheControl == nil || cacheControl == file.cacheControl,
            let contents = representation.contents
        {
            // The common answer: the whole file from memory, under its cached head.
            exchange.sink.respondCachedFile(exchange, representation, contents: contents)
            return
        }

        var response = EdgeResponseHead.forFile(
            status: 200, contentType: file.contentType, lastModified: file.lastModified, etag: representation.etag,
            cacheControl: cacheControl ?? file.cacheControl, contentEncoding: representation.contentEncoding,
            varies: file.varies)
        response.add(extra)
        if notModified {
            response.status = 304
            exchange.sink.respond(exchange, response, body: nil)
            return
        }

        response.add("Accept-Ranges", "bytes")
        var ranges = [0..<representation.size]
        var multipart: FileBody.Multipart?
        if let rangeHeader,
            headers.first(.ifRange).map({
                EntityTag.ifRangeHolds($0, etag: representation.etag, lastModified: file.lastModified)
            }) ?? true
        {
            switch ByteRangeRequest.parse(rangeHeader, size: representation.size) {
            case .full:
                break
            case .unsatisfiable:
                EdgeResponder.problem(
                    exchange, status: 416, code: "range_not_satisfiable",
                    detail: "no requested range starts within the \(representation.size) bytes of this file",
                    extra: [("Content-Range", "bytes */\(representation.size)")] + extra)
                return
            case .single(let range):
                response.status = 206
                response.add(
                    "Content-Range", "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(representation.size)")
                ranges = [range]
            case .multiple(let requested):
                let boundary = "pier-" + String(UInt64.random(in: .min ... .max), radix: 36)
                var parts: [ByteBuffer] = []
                for (index, range) in requested.enumerated() {
                    var part = exchange.sink.allocator.buffer(capacity: 128)
                    part.writeString(index == 0 ? "--" : "\r\n--")
                    part.writeString("\(boundary)\r\nContent-Type: \(file.contentType)\r\n")
                    part.writeString(
                        "Content-Range: bytes \(range.lowerBound)-\(range.upperBound - 1)/\(representation.size)\r\n\r\n"
                    )
                    parts.append(part)
                }
                var closing = exchange.sink.allocator.buffer(capacity: 64)
                closing.writeString("\r\n--\(boundary)--\r\n")
                multipart = FileBody.Multipart(partHeads: parts, closing: closing)
                response.status = 206
                response.headers.removeAll { $0.0 == "Content-Type" }
                response.add("Content-Type", "multipart/byteranges; boundary=\(boundary)")
                ranges = requested
            }
        }
        if let contents = representation.contents {
            exchange.sink.respondFile(
                exchange, response, file: FileBody(source: .memory(contents), ranges: ranges, multipart: multipart))
            return
        }
        if request.method == "HEAD" {
            // The head alone: nothing to open.
            exchange.sink.respondFile(
                exchange, response, file: FileBody(source: .memory(ByteBuffer()), ranges: ranges, multipart: multipart))
            return
        }
        let loop = exchange.sink.eventLoop
        exchange.runtime.files.open(representation, eventLoop: loop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let handle):
                guard !exchange.cancelled else {
                    try? handle.close()
                    return
                }
                exchange.sink.respondFile(
                    exchange, response, file: FileBody(source: .disk(handle), ranges: ranges, multipart: multipart))
            case .failure(let error):
                guard !exchange.cancelled else { return }
                if error is StaticFileStore.FileChangedError, !retried {
                    serve(exchange, path: path, config: config, extra: extra, retried: true)
                    return
                }
                // The head is not sent yet, so answer cleanly: the file vanished, or changed since it was cached.
                exchange.keepAlive = false
                if error is StaticFileStore.FileChangedError {
                    EdgeResponder.problem(
                        exchange, status: 503, code: "file_changed",
                        detail: "the file changed while being served; retry",
                        extra: [("Retry-After", "1")])
                } else {
                    EdgeResponder.problem(exchange, status: 404, code: "not_found", detail: nil)
                }
            }
        }
    }

    /// Percent-encodes a decoded path for a `Location` header or a request target; `keepingEscapes` for a path whose
    /// `%` already start escapes (a ``RequestPath`` with ``RequestPath/hasEncodedSlash``).
    static func encodePath(_ path: String, keepingEscapes: Bool = false) -> String {
        var output = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "%") where keepingEscapes:
                output.unicodeScalars.append("%")
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return output
    }
}
