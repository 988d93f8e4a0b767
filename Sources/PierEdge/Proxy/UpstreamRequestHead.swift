import NIOCore

/// The request head the edge sends upstream: the client's fields less the hop-by-hop ones, and the forwarding
/// fields set on purpose, always as HTTP/1.1 whatever the client spoke.
enum UpstreamRequestHead {
    /// The head's bytes, without its final empty line when `needsHost` (an HTTP/1.0 client sent no Host, so the
    /// target's address is added per attempt).
    static func make(
        _ exchange: EdgeExchange, route: EdgeRuntime.Route, path: RequestPath, config: ProxyRouteConfig,
        upgrade: String?
    ) -> (head: ByteBuffer, needsHost: Bool) {
        let request = exchange.request
        let headers = request.headers
        var buffer = ByteBufferAllocator().buffer(capacity: headers.storage.readableBytes + 320)
        buffer.writeString(request.method)
        buffer.writeStaticString(" ")
        buffer.writeString(upstreamTarget(request.target, path: path, config: config))
        buffer.writeStaticString(" HTTP/1.1\r\n")

        let options = ConnectionOptions(headers)
        var forwardedFor: [String] = []
        var forwarded: [String] = []
        // An absolute-form target names the host; the Host field is ignored (RFC 9112 §3.2.2). HTTP/2's :authority
        // stands for Host.
        let targetAuthority = exchange.targetAuthority ?? request.authority
        var originalHost: String? = targetAuthority
        let dropUnderscores = headers.hasUnderscoreNames && !config.passUnderscoreHeaders
        for index in 0..<headers.count {
            if HopByHopFields.isHopByHop(headers, at: index, options: options) { continue }
            switch headers.knownTag(at: index) {
            case KnownHeader.contentLength.rawValue, KnownHeader.expect.rawValue, KnownHeader.forwardedProto.rawValue,
                KnownHeader.forwardedHost.rawValue, KnownHeader.realIP.rawValue, KnownHeader.requestID.rawValue,
                KnownHeader.pierUser.rawValue, KnownHeader.pierRole.rawValue:
                // Replaced by the edge's own below (the identity fields only from a token an `auth:` route checked).
                continue
            case KnownHeader.forwardedFor.rawValue:
                forwardedFor.append(headers.value(at: index))
                continue
            case KnownHeader.forwarded.rawValue:
                forwarded.append(headers.value(at: index))
                continue
            case KnownHeader.host.rawValue:
                if targetAuthority != nil { continue }
                originalHost = headers.value(at: index)
                if config.hostHeader != nil { continue }
            default:
                if dropUnderscores && headers.nameContainsUnderscore(index) { continue }
                let setNames = route.requestHeaderNames
                if !setNames.isEmpty, setNames.contains(where: { headers.nameEquals(index, $0) }) { continue }
            }
            headers.writeField(at: index, into: &buffer)
        }
        if let host = config.hostHeader {
            buffer.writeHeaderLine("Host: ", host)
        } else if let targetAuthority {
            buffer.writeHeaderLine("Host: ", targetAuthority)
        }
        if let fields = route.renderedRequestHeaders { buffer.writeImmutableBuffer(fields) }
        let remote = exchange.remoteAddress
        buffer.writeStaticString("X-Forwarded-For: ")
        for earlier in forwardedFor {
            buffer.writeString(earlier)
            buffer.writeStaticString(", ")
        }
        buffer.writeString(remote)
        buffer.writeStaticString("\r\nX-Forwarded-Proto: ")
        buffer.writeStaticString(exchange.scheme)
        buffer.writeStaticString("\r\n")
        if let originalHost { buffer.writeHeaderLine("X-Forwarded-Host: ", originalHost) }
        buffer.writeHeaderLine("X-Real-IP: ", remote)
        // RFC 7239: the same facts in the standard field, continuing an earlier chain.
        buffer.writeStaticString("Forwarded: ")
        for earlier in forwarded {
            buffer.writeString(earlier)
            buffer.writeStaticString(", ")
        }
        buffer.writeStaticString("for=")
        if remote.utf8.contains(UInt8(ascii: ":")) {
            buffer.writeStaticString("\"[")
            buffer.writeString(remote)
            buffer.writeStaticString("]\"")
        } else {
            buffer.writeString(remote)
        }
        buffer.writeStaticString(";proto=")
        buffer.writeStaticString(exchange.scheme)
        if let originalHost, originalHost.utf8.allSatisfy({ HTTPToken.isTokenByte($0) || $0 == UInt8(ascii: ":") }) {
            buffer.writeStaticString(";host=\"")
            buffer.writeString(originalHost)
            buffer.writeStaticString("\"")
        }
        buffer.writeStaticString("\r\n")
        buffer.writeHeaderLine("X-Request-ID: ", exchange.requestID)
        if let identity = exchange.identity {
            buffer.writeHeaderLine("X-Pier-User: ", identity.user)
            if let role = identity.role { buffer.writeHeaderLine("X-Pier-Role: ", role) }
        }
        switch request.framing {
        case .none: break
        case .contentLength(let length): buffer.writeHeaderLine("Content-Length: ", String(length))
        case .chunked: buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        if let upgrade {
            buffer.writeStaticString("Connection: upgrade\r\n")
            buffer.writeHeaderLine("Upgrade: ", upgrade)
        }
        let needsHost = config.hostHeader == nil && originalHost == nil
        if !needsHost { buffer.writeStaticString("\r\n") }
        return (buffer, needsHost)
    }

    /// The request target sent upstream: as received (origin form) unless the route rewrites the path.
    static func upstreamTarget(_ target: String, path: RequestPath, config: ProxyRouteConfig) -> String {
        let query = path.query.map { "?" + $0 } ?? ""
        guard config.stripPrefix != nil || config.addPrefix != nil else {
            if target.utf8.first == UInt8(ascii: "/") { return target }
            return StaticResponder.encodePath(path.path, keepingEscapes: path.hasEncodedSlash) + query
        }
        var rewritten = path.path
        if let prefix = config.stripPrefix, RouteMatch.pathMatches(prefix: prefix, path: rewritten) {
            rewritten = String(rewritten.dropFirst(prefix.count))
            if !rewritten.hasPrefix("/") { rewritten = "/" + rewritten }
        }
        if let prefix = config.addPrefix, prefix != "/" {
            rewritten = rewritten == "/" ? prefix + "/" : prefix + rewritten
        }
        return StaticResponder.encodePath(rewritten, keepingEscapes: path.hasEncodedSlash) + query
    }

    /// The protocols of the request's `Upgrade` that the route allows (RFC 9110 §7.8), comma-separated, or `nil`
    /// when the request is not an upgrade the route lets through: it then goes upstream as a plain request.
    static func upgradeProtocols(_ request: EdgeRequest, allowed: [String]) -> String? {
        guard case .http1(let minor) = request.version, minor >= 1, request.headers.contains(.upgrade),
            !allowed.isEmpty, ConnectionOptions(request.headers).upgrade
        else { return nil }
        var accepted: [String] = []
        for value in request.headers.values(.upgrade) {
            for item in HTTPToken.list(value) where allowed.contains(item.lowercased()) {
                accepted.append(String(item))
            }
        }
        return accepted.isEmpty ? nil : accepted.joined(separator: ", ")
    }
}
