import NIOCore

extension EdgeHTTPHandler {
    /// Answers a request on a static route: file, directory index, SPA fallback, or a problem.
    func serveStatic(
        context: ChannelHandlerContext,
        head: HTTP1RequestHead,
        path: RequestPath,
        config: StaticConfig,
        extra: [(String, String)]
    ) {
        guard head.method == "GET" || head.method == "HEAD" else {
            if head.method == "OPTIONS" {
                var response = EdgeResponseHead(status: 204)
                response.add("Allow", "GET, HEAD, OPTIONS")
                response.add(extra)
                respond(context: context, response, body: nil)
            } else {
                respondProblem(
                    context: context,
                    status: 405,
                    code: "method_not_allowed",
                    detail: "static files answer GET and HEAD",
                    head: head,
                    extra: [("Allow", "GET, HEAD, OPTIONS")] + extra
                )
            }
            return
        }
        if !config.allowDotfiles && path.hasDotSegment {
            respondProblem(context: context, status: 404, code: "not_found", detail: nil, head: head, extra: extra)
            return
        }
        // The common case, a cached answer, continues synchronously without allocating a continuation.
        if let cached = runtime.files.cached(
            root: config.root, relativePath: path.path, now: exchange?.start ?? NIODeadline.now(),
            eventLoop: context.eventLoop)
        {
            continueStatic(context: context, head: head, path: path, config: config, extra: extra, lookup: cached)
            return
        }
        lookup(context: context, root: config.root, relativePath: path.path) { lookup in
            self.continueStatic(context: context, head: head, path: path, config: config, extra: extra, lookup: lookup)
        }
    }

    /// Answers once the path's lookup is known.
    func continueStatic(
        context: ChannelHandlerContext,
        head: HTTP1RequestHead,
        path: RequestPath,
        config: StaticConfig,
        extra: [(String, String)],
        lookup: StaticLookup
    ) {
        switch lookup {
        case .file(let file):
            self.serveFile(context: context, head: head, file: file, status: 200, extra: extra)
        case .directory:
            if path.hasTrailingSlash {
                let indexPath = path.path + config.index
                self.lookup(context: context, root: config.root, relativePath: indexPath) { index in
                    if case .file(let file) = index {
                        self.serveFile(context: context, head: head, file: file, status: 200, extra: extra)
                    } else {
                        self.serveFallbackOrNotFound(
                            context: context, head: head, path: path, config: config, extra: extra)
                    }
                }
            } else {
                var response = EdgeResponseHead(status: 301)
                let query = path.query.map { "?" + $0 } ?? ""
                response.add("Location", Self.encodePath(path.path) + "/" + query)
                response.add("Cache-Control", "no-cache")
                response.add(extra)
                self.respond(context: context, response, body: nil)
            }
        case .notFound:
            self.serveFallbackOrNotFound(context: context, head: head, path: path, config: config, extra: extra)
        }
    }

    /// Serves the SPA fallback for navigations, a 404 problem for everything else.
    func serveFallbackOrNotFound(
        context: ChannelHandlerContext,
        head: HTTP1RequestHead,
        path: RequestPath,
        config: StaticConfig,
        extra: [(String, String)]
    ) {
        guard let fallback = config.spaFallback, Self.isNavigation(head: head, path: path) else {
            respondProblem(context: context, status: 404, code: "not_found", detail: nil, head: head, extra: extra)
            return
        }
        lookup(context: context, root: config.root, relativePath: "/" + fallback) { lookup in
            if case .file(let file) = lookup {
                // The fallback document stands for every client-side route: never cached as immutable.
                self.serveFile(
                    context: context, head: head, file: file, status: 200, extra: extra, cacheControl: "no-cache")
            } else {
                self.respondProblem(
                    context: context, status: 404, code: "not_found", detail: nil, head: head, extra: extra)
            }
        }
    }

    /// A browser navigation: GET or HEAD, accepting HTML, to a path whose last segment has no extension.
    static func isNavigation(head: HTTP1RequestHead, path: RequestPath) -> Bool {
        guard head.method == "GET" || head.method == "HEAD" else { return false }
        guard let accept = head.headers.first(.accept),
            HTTPToken.containsCaseInsensitive(accept, lowercaseNeedle: "text/html")
        else { return false }
        return !path.lastSegment.utf8.contains(UInt8(ascii: "."))
    }

    /// Answers from the cache when it can, otherwise resolves on the thread pool and continues on this loop.
    func lookup(
        context: ChannelHandlerContext,
        root: String,
        relativePath: String,
        _ body: @escaping (StaticLookup) -> Void
    ) {
        if let cached = runtime.files.cached(
            root: root, relativePath: relativePath, now: exchange?.start ?? NIODeadline.now(),
            eventLoop: context.eventLoop)
        {
            body(cached)
            return
        }
        beginAsyncResponse()
        runtime.files.resolve(root: root, relativePath: relativePath, eventLoop: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                guard !self.closing else { return }
                // Every path from here ends in `complete`, which resumes parsing, or in another async step.
                switch result {
                case .success(let lookup): body(lookup)
                case .failure: body(.notFound)
                }
            }
    }

    /// Chooses the representation, evaluates conditionals and ranges, and sends the file.
    func serveFile(
        context: ChannelHandlerContext, head: HTTP1RequestHead, file: StaticFile, status: Int, extra: [(String, String)],
        cacheControl: String? = nil
    ) {
        let rangeHeader = head.method == "GET" ? head.headers.first(.range) : nil
        var representation = file.identity
        if rangeHeader == nil, !file.encoded.isEmpty, let acceptEncoding = head.headers.first(.acceptEncoding) {
            let accepted = ContentCoding.accepted(acceptEncoding)
            if let chosen = file.encoded.first(where: { accepted.contains($0.contentEncoding ?? "") }) {
                representation = chosen
            }
        }
        let notModified: Bool
        if let ifNoneMatch = head.headers.first(.ifNoneMatch) {
            notModified = EntityTag.noneMatchHits(ifNoneMatch, etag: representation.etag)
        } else if let ifModifiedSince = head.headers.first(.ifModifiedSince),
            let since = HTTPDate.parse(ifModifiedSince)
        {
            notModified = file.lastModifiedSeconds <= since
        } else {
            notModified = false
        }
        if !notModified, rangeHeader == nil, status == 200, extra.isEmpty,
            cacheControl == nil || cacheControl == file.cacheControl, let contents = representation.contents
        {
            // The common answer: the whole file from memory, under its cached head.
            respondCachedFile(context: context, representation, contents: contents)
            return
        }

        var response = EdgeResponseHead.forFile(
            status: status, contentType: file.contentType, lastModified: file.lastModified, etag: representation.etag,
            cacheControl: cacheControl ?? file.cacheControl, contentEncoding: representation.contentEncoding,
            varies: !file.encoded.isEmpty)
        response.add(extra)
        if notModified {
            response.status = 304
            respond(context: context, response, body: nil)
            return
        }

        response.add("Accept-Ranges", "bytes")
        var ranges = [0..<representation.size]
        var multipart: MultipartRanges?
        if let rangeHeader,
            head.headers.first(.ifRange).map({
                EntityTag.ifRangeHolds($0, etag: representation.etag, lastModified: file.lastModified)
            })
                ?? true
        {
            switch ByteRangeRequest.parse(rangeHeader, size: representation.size) {
            case .full:
                break
            case .unsatisfiable:
                respondProblem(
                    context: context, status: 416, code: "range_not_satisfiable",
                    detail: "no requested range starts within the \(representation.size) bytes of this file",
                    head: head,
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
                    var part = context.channel.allocator.buffer(capacity: 128)
                    part.writeString(index == 0 ? "--" : "\r\n--")
                    part.writeString("\(boundary)\r\nContent-Type: \(file.contentType)\r\n")
                    part.writeString(
                        "Content-Range: bytes \(range.lowerBound)-\(range.upperBound - 1)/\(representation.size)\r\n\r\n"
                    )
                    parts.append(part)
                }
                var closing = context.channel.allocator.buffer(capacity: 64)
                closing.writeString("\r\n--\(boundary)--\r\n")
                multipart = MultipartRanges(partHeads: parts, closing: closing)
                response.status = 206
                response.headers.removeAll { $0.0 == "Content-Type" }
                response.add("Content-Type", "multipart/byteranges; boundary=\(boundary)")
                ranges = requested
            }
        }
        respond(context: context, response, body: .file(representation, ranges, multipart: multipart))
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

/// `Accept-Encoding` negotiation for precompressed files.
enum ContentCoding {
    /// The codings the client accepts with a non-zero quality, lowercased.
    static func accepted(_ header: String) -> Set<String> {
        var result: Set<String> = []
        var refused: Set<String> = []
        var wildcard = false
        for element in HTTPToken.list(header) {
            let parts = element.split(separator: ";")
            guard let first = parts.first else { continue }
            let coding = first.trimmingASCIISpaces().lowercased()
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.trimmingASCIISpaces()
                if pair.lowercased().hasPrefix("q=") { quality = Double(pair.dropFirst(2)) ?? 0 }
            }
            if coding == "*" {
                wildcard = quality > 0
            } else if quality > 0 {
                result.insert(coding)
            } else {
                refused.insert(coding)
            }
        }
        if wildcard {
            for coding in ["br", "gzip"] where !refused.contains(coding) { result.insert(coding) }
        }
        return result
    }
}
