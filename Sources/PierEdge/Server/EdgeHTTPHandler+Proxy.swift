import NIOCore
import NIOPosix
import PierCore
import Synchronization

/// The state of one proxied exchange on a client connection: a reference, so the handler's callbacks update it in
/// place instead of copying it around.
final class ProxyState {
    enum Phase {
        /// Waiting for a connection to a target.
        case connecting
        /// The request head went out; its body may still be streaming; no response head yet.
        case awaitingResponse
        /// The response head went to the client; its body is streaming.
        case streamingResponse
        /// After 101 Switching Protocols: bytes flow both ways unparsed.
        case tunnel
    }

    let config: ProxyRouteConfig
    let pool: UpstreamPool
    let cors: [(String, String)]
    /// The route's configured response fields; the upstream's fields of these names are dropped.
    let routeHeaderNames: [String]
    /// The upstream request head; without its final empty line when a Host line must follow per target.
    let requestHead: ByteBuffer
    let needsHost: Bool
    let method: String
    let idempotent: Bool
    let hasBody: Bool
    let chunkedBody: Bool
    let upgrade: Bool
    /// The `Upgrade` value sent upstream: the protocols the client asked for that the route allows.
    let upgradeProtocols: String?
    let expectContinue: Bool
    let hashKey: String?
    let clientMinorVersion: Int

    init(
        config: ProxyRouteConfig, pool: UpstreamPool, cors: [(String, String)], routeHeaderNames: [String],
        requestHead: ByteBuffer,
        needsHost: Bool, method: String, idempotent: Bool, hasBody: Bool, chunkedBody: Bool,
        upgradeProtocols: String?, expectContinue: Bool, hashKey: String?, clientMinorVersion: Int
    ) {
        self.config = config
        self.pool = pool
        self.cors = cors
        self.routeHeaderNames = routeHeaderNames
        self.requestHead = requestHead
        self.needsHost = needsHost
        self.method = method
        self.idempotent = idempotent
        self.hasBody = hasBody
        self.chunkedBody = chunkedBody
        self.upgrade = upgradeProtocols != nil
        self.upgradeProtocols = upgradeProtocols
        self.expectContinue = expectContinue
        self.hashKey = hashKey
        self.clientMinorVersion = clientMinorVersion
    }

    var phase = Phase.connecting
    var attempts = 0
    var tried: [Int] = []
    var target: UpstreamTarget?
    var connection: UpstreamConnection?
    /// Distinguishes the current attempt from the callbacks of an abandoned one.
    var attemptID = 0
    var requestEnded = false
    var bodyStarted = false
    var sentContinue = false
    /// The current attempt runs on a connection taken from the idle pool, which the target may have closed
    /// meanwhile.
    var reusedConnection = false
    /// A stale pooled connection was replaced once without counting as an attempt.
    var replacedStaleConnection = false
    /// The next attempt goes to this target (an index into the pool) on a new connection, instead of one the
    /// balancer picks.
    var freshConnectionTo: Int?
    var upstreamNeedsFlush = false
    /// The response body is re-framed as chunks for the client.
    var chunkedToClient = false
    /// SSE responses and tunnels wait without an idle timeout unless `stream_idle` is set.
    var streaming = false
    var lastActivity = NIODeadline.now()
    /// What the client gets if no attempt succeeds: the last failure's status and code.
    var lastFailure = (status: 502, code: "upstream_unavailable", detail: "no upstream target could be reached")

    /// Whether the client's request bytes should be read now (body forwarding, or a tunnel).
    var acceptsClientBytes: Bool {
        guard let connection, connection.isWritable else { return false }
        return phase == .tunnel || !requestEnded
    }
}

extension EdgeHTTPHandler: UpstreamConnectionOwner {
    // MARK: - Starting

    func startProxy(
        context: ChannelHandlerContext,
        head: HTTP1RequestHead,
        route: EdgeRuntime.Route,
        config: ProxyRouteConfig,
        path: RequestPath
    ) {
        guard let pool = runtime.upstreams[config.upstream] else {
            respondProblem(
                context: context, status: 502, code: "no_upstream", detail: "the route's upstream is not defined",
                head: head)
            return
        }
        let upgrade = Self.upgradeProtocols(head, allowed: config.upgrades)
        let expectContinue =
            head.framing != .none && head.headers.first(.expect)?.lowercased() == "100-continue"
        let (requestHead, needsHost) = makeUpstreamHead(head, path: path, config: config, upgrade: upgrade)
        let cors = route.cors?.responseHeaders(origin: head.headers.first(.origin)) ?? []
        proxy = ProxyState(
            config: config,
            pool: pool,
            cors: cors,
            routeHeaderNames: route.headerNames,
            requestHead: requestHead,
            needsHost: needsHost,
            method: head.method,
            idempotent: Self.isIdempotent(head.method),
            hasBody: head.framing != .none,
            chunkedBody: head.framing == .chunked,
            upgradeProtocols: upgrade,
            expectContinue: expectContinue,
            hashKey: hashKey(head, pool.config.hashOn, balance: pool.config.balance),
            clientMinorVersion: head.minorVersion
        )
        pool.countRequest()
        if expectContinue, let state = proxy {
            // The edge takes the body whatever the upstream will say (RFC 9110 §10.1.1): the client is not kept
            // waiting for a connection to a target.
            state.sentContinue = true
            var interim = context.channel.allocator.buffer(capacity: 32)
            interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.write(wrapOutboundOut(.byteBuffer(interim)), promise: nil)
            needsFlush = true
            flushIfNeeded(context: context)
        }
        proxyAttempt(context: context)
    }

    /// Frames `bytes` as one chunk (RFC 9112 §7.1): size line, the bytes themselves (not copied), CRLF.
    static func writeChunk(_ bytes: ByteBuffer, allocator: ByteBufferAllocator, _ write: (ByteBuffer) -> Void) {
        var size = allocator.buffer(capacity: 20)
        size.writeString(String(bytes.readableBytes, radix: 16))
        size.writeStaticString("\r\n")
        write(size)
        write(bytes)
        var end = allocator.buffer(capacity: 2)
        end.writeStaticString("\r\n")
        write(end)
    }

    /// RFC 9110 §9.2.2.
    static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE": true
        default: false
        }
    }

    /// The protocols of the request's `Upgrade` that the route allows (RFC 9110 §7.8), comma-separated, or `nil`
    /// when the request is not an upgrade the route lets through: it then goes upstream as a plain request.
    static func upgradeProtocols(_ head: HTTP1RequestHead, allowed: [String]) -> String? {
        guard head.minorVersion >= 1, head.headers.contains(.upgrade), !allowed.isEmpty,
            ConnectionOptions(head.headers).upgrade
        else { return nil }
        var accepted: [String] = []
        for value in head.headers.values(.upgrade) {
            for item in HTTPToken.list(value) where allowed.contains(item.lowercased()) {
                accepted.append(String(item))
            }
        }
        return accepted.isEmpty ? nil : accepted.joined(separator: ", ")
    }

    func hashKey(_ head: HTTP1RequestHead, _ key: UpstreamConfig.HashKey, balance: UpstreamConfig.Balance) -> String? {
        guard balance == .hash else { return nil }
        switch key {
        case .clientIP:
            return remoteAddress
        case .header(let name):
            return head.headers.first(name)
        case .cookie(let name):
            for value in head.headers.values(.cookie) {
                for pair in value.split(separator: ";") {
                    let trimmed = pair.trimmingASCIISpaces()
                    if let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name {
                        return String(trimmed[trimmed.index(after: equals)...])
                    }
                }
            }
            return nil
        }
    }

    /// The request line and header fields sent upstream: hop-by-hop fields dropped, forwarding fields set.
    func makeUpstreamHead(_ head: HTTP1RequestHead, path: RequestPath, config: ProxyRouteConfig, upgrade: String?)
        -> (ByteBuffer, needsHost: Bool)
    {
        var buffer = ByteBufferAllocator().buffer(capacity: head.headers.storage.readableBytes + 256)
        buffer.writeString(head.method)
        buffer.writeStaticString(" ")
        buffer.writeString(Self.upstreamTarget(head.target, path: path, config: config))
        buffer.writeStaticString(" HTTP/1.1\r\n")

        let headers = head.headers
        // Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
        let connectionOptions = ConnectionOptions(headers)
        var forwardedFor: [String] = []
        // An absolute-form target names the host; the Host field is ignored (RFC 9112 §3.2.2).
        let targetAuthority = exchange?.targetAuthority
        var originalHost: String? = targetAuthority
        let dropUnderscores = headers.hasUnderscoreNames && !config.passUnderscoreHeaders
        for index in 0..<headers.count {
            switch headers.knownTag(at: index) {
            case KnownHeader.connection.rawValue, KnownHeader.keepAlive.rawValue, KnownHeader.te.rawValue,
                KnownHeader.trailer.rawValue, KnownHeader.transferEncoding.rawValue, KnownHeader.upgrade.rawValue,
                KnownHeader.contentLength.rawValue, KnownHeader.expect.rawValue, KnownHeader.forwardedProto.rawValue,
                KnownHeader.forwardedHost.rawValue, KnownHeader.realIP.rawValue, KnownHeader.requestID.rawValue:
                continue
            case KnownHeader.forwardedFor.rawValue:
                // Named in Connection, it is the previous hop's alone (RFC 9110 §7.6.1): the chain starts here.
                if !connectionOptions.lists(headers, fieldAt: index) { forwardedFor.append(headers.value(at: index)) }
                continue
            case KnownHeader.host.rawValue:
                if targetAuthority != nil { continue }
                originalHost = headers.value(at: index)
                if config.hostHeader != nil { continue }
            default:
                if headers.nameHasPrefix(index, "proxy-") { continue }
                if connectionOptions.lists(headers, fieldAt: index) { continue }
                if dropUnderscores && headers.nameContainsUnderscore(index) { continue }
            }
            headers.writeField(at: index, into: &buffer)
        }
        if let host = config.hostHeader {
            buffer.writeHeaderLine("Host: ", host)
        } else if let targetAuthority {
            buffer.writeHeaderLine("Host: ", targetAuthority)
        }
        buffer.writeStaticString("X-Forwarded-For: ")
        for earlier in forwardedFor {
            buffer.writeString(earlier)
            buffer.writeStaticString(", ")
        }
        buffer.writeString(remoteAddress)
        buffer.writeStaticString("\r\nX-Forwarded-Proto: http\r\n")
        if let originalHost { buffer.writeHeaderLine("X-Forwarded-Host: ", originalHost) }
        buffer.writeHeaderLine("X-Real-IP: ", remoteAddress)
        if let requestID = exchange?.requestID { buffer.writeHeaderLine("X-Request-ID: ", requestID) }
        switch head.framing {
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
            return encodePath(path.path, keepingEscapes: path.hasEncodedSlash) + query
        }
        var rewritten = path.path
        if let prefix = config.stripPrefix, RouteMatch.pathMatches(prefix: prefix, path: rewritten) {
            rewritten = String(rewritten.dropFirst(prefix.count))
            if !rewritten.hasPrefix("/") { rewritten = "/" + rewritten }
        }
        if let prefix = config.addPrefix, prefix != "/" {
            rewritten = rewritten == "/" ? prefix + "/" : prefix + rewritten
        }
        return encodePath(rewritten, keepingEscapes: path.hasEncodedSlash) + query
    }

    // MARK: - Attempts

    /// Sends the request to the next target the balancer picks, or answers with the failure when none is left.
    func proxyAttempt(context: ChannelHandlerContext) {
        guard let state = proxy else { return }
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        let fresh = state.freshConnectionTo
        state.freshConnectionTo = nil
        guard state.attempts < state.config.retries.attempts,
            let index = fresh ?? state.pool.pick(hashKey: state.hashKey, excluded: state.tried, now: now)
        else {
            if state.tried.isEmpty {
                proxyFail(
                    context: context, status: 503, code: "no_healthy_upstream",
                    detail: "no target of upstream \"\(state.pool.name)\" is healthy", retryAfter: true)
            } else {
                let failure = state.lastFailure
                proxyFail(context: context, status: failure.status, code: failure.code, detail: failure.detail)
            }
            return
        }
        let target = state.pool.targets[index]
        state.attempts += 1
        state.tried.append(index)
        state.target = target
        state.phase = .connecting
        state.lastActivity = .now()
        state.attemptID &+= 1
        let attemptID = state.attemptID
        target.inFlight.add(1, ordering: .relaxed)
        target.requests.add(1, ordering: .relaxed)

        if fresh == nil, let connection = target.pool(on: context.eventLoop).take() {
            state.reusedConnection = true
            proxyConnected(context: context, connection)
            return
        }
        state.reusedConnection = false
        armProxyTimer(context: context)
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .connectTimeout(TimeAmount(state.config.timeouts.connect))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(target: target))
                }
            }
        let connecting: EventLoopFuture<any Channel> =
            if let address = target.socketAddress {
                bootstrap.connect(to: address)
            } else {
                bootstrap.connect(host: target.address.host, port: target.address.port)
            }
        connecting.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                let connection = try? channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                guard let connection, self.proxy?.attemptID == attemptID, self.proxy?.phase == .connecting,
                    !self.closing
                else {
                    channel.close(promise: nil)
                    return
                }
                self.proxyConnected(context: context, connection)
            case .failure(let error):
                guard self.proxy?.attemptID == attemptID, self.proxy?.phase == .connecting else { return }
                target.recordFailure("connect failed: \(error)")
                self.proxyAttemptFailed(
                    context: context, condition: .connectFailure, status: 502, code: "upstream_connect_failed",
                    detail: "the upstream target could not be connected to")
            }
        }
    }

    /// Sends the request head (and whatever body is buffered) on a connection.
    func proxyConnected(context: ChannelHandlerContext, _ connection: UpstreamConnection) {
        guard let state = proxy else { return }
        connection.owner = self
        connection.requestMethod = state.method
        connection.uses += 1
        state.connection = connection
        state.phase = .awaitingResponse
        state.lastActivity = .now()
        connection.write(state.requestHead)
        if state.needsHost, let target = state.target {
            // Only HTTP/1.0 clients may leave Host out; the target's address stands in.
            var host = context.channel.allocator.buffer(capacity: 64)
            host.writeString("Host: \(target.address)\r\n\r\n")
            connection.write(host)
        }
        state.upstreamNeedsFlush = true
        if state.requestEnded && state.chunkedBody {
            // Only on a retry of a request whose (empty) chunked body already ended.
            var last = context.channel.allocator.buffer(capacity: 5)
            last.writeStaticString("0\r\n\r\n")
            connection.write(last)
        }
        armProxyTimer(context: context)
        // Whatever part of the request is buffered goes out now.
        if heldRead && state.acceptsClientBytes {
            heldRead = false
            context.read()
        }
        drain(context: context)
        flushProxyWrites(context: context)
    }

    func proxyForwardBody(context: ChannelHandlerContext, _ bytes: ByteBuffer) {
        guard let state = proxy, let connection = state.connection else { return }
        state.bodyStarted = true
        state.lastActivity = .now()
        if state.chunkedBody {
            Self.writeChunk(bytes, allocator: context.channel.allocator, connection.write)
        } else {
            connection.write(bytes)
        }
        state.upstreamNeedsFlush = true
    }

    func proxyRequestEnded(context: ChannelHandlerContext) {
        guard let state = proxy else { return }
        state.requestEnded = true
        state.lastActivity = .now()
        if state.chunkedBody, let connection = state.connection {
            var last = context.channel.allocator.buffer(capacity: 5)
            last.writeStaticString("0\r\n\r\n")
            connection.write(last)
            state.upstreamNeedsFlush = true
        }
    }

    /// Flushes what was written to the upstream during this read burst.
    func flushProxyWrites(context: ChannelHandlerContext) {
        guard proxy?.upstreamNeedsFlush == true else { return }
        proxy?.upstreamNeedsFlush = false
        proxy?.connection?.flush()
    }

    /// Whether a failed attempt may be repeated on another target; takes a retry from the budget if so.
    func mayRetry(_ state: ProxyState, after condition: RetryConfig.Condition) -> Bool {
        // A connect failure never reached the target, so any request may go elsewhere; after sending, only a
        // repeatable request without a body (which would be gone) may.
        let repeatable = condition == .connectFailure || (state.idempotent && !state.hasBody)
        return repeatable && state.config.retries.on.contains(condition)
            && state.attempts < state.config.retries.attempts && state.pool.allowRetry()
    }

    /// An attempt failed before any response reached the client: retry elsewhere if allowed, else answer.
    func proxyAttemptFailed(
        context: ChannelHandlerContext, condition: RetryConfig.Condition, status: Int, code: String, detail: String
    ) {
        guard let state = proxy else { return }
        releaseTarget(state, reuse: false)
        state.lastFailure = (status, code, detail)
        state.phase = .connecting
        if mayRetry(state, after: condition) {
            proxyAttempt(context: context)
        } else {
            proxyFail(context: context, status: status, code: code, detail: detail)
        }
    }

    /// Answers with a problem document and ends the proxied exchange.
    func proxyFail(context: ChannelHandlerContext, status: Int, code: String, detail: String, retryAfter: Bool = false)
    {
        guard let state = proxy else { return }
        releaseTarget(state, reuse: false)
        proxy = nil
        if state.hasBody && !state.requestEnded {
            // The rest of the body will not be read: the connection cannot carry another request.
            exchange?.keepAlive = false
        }
        respondProblem(
            context: context, status: status, code: code, detail: detail, head: nil,
            extra: (retryAfter ? [("Retry-After", "1")] : []) + state.cors)
        resumeAfterProxy(context: context)
    }

    /// Gives the connection back to its pool (or closes it) and the target's in-flight slot.
    func releaseTarget(_ state: ProxyState, reuse: Bool) {
        if let connection = state.connection {
            state.connection = nil
            if reuse, let target = state.target, let loop = connection.channel?.eventLoop {
                target.pool(on: loop).release(connection)
            } else {
                connection.close()
            }
        }
        if let target = state.target {
            state.target = nil
            target.inFlight.add(-1, ordering: .relaxed)
        }
    }

    /// Continues reading the client's connection once the proxied exchange is over.
    func resumeAfterProxy(context: ChannelHandlerContext) {
        if heldRead && context.channel.isWritable && !closing {
            heldRead = false
            context.read()
        }
        if !closing { drain(context: context) }
        flushIfNeeded(context: context)
    }

    // MARK: - Responses

    func upstream(_ connection: UpstreamConnection, event: HTTP1ResponseParser.Event) {
        guard let context = ownContext, let state = proxy, state.connection === connection else {
            connection.close()
            return
        }
        state.lastActivity = .now()
        switch event {
        case .head(let response):
            if response.status >= 500 {
                state.target?.recordFailure("status \(response.status)")
            } else {
                state.target?.recordSuccess()
            }
            if response.status == 101 && !state.upgrade {
                // Switching protocols on a request that asked for no (allowed) upgrade would open a tunnel past
                // routing and logging: the answer is refused.
                state.target?.recordFailure("101 without an upgrade")
                proxyAttemptFailed(
                    context: context, condition: .reset, status: 502, code: "invalid_upstream_response",
                    detail: "the upstream switched protocols without being asked to")
                return
            }
            if state.phase == .awaitingResponse, mayRetry(state, after: .status(response.status)) {
                // The answer is dropped with its connection; the next target gets the request.
                releaseTarget(state, reuse: false)
                state.lastFailure = (response.status, "upstream_error", "the upstream answered \(response.status)")
                state.phase = .connecting
                proxyAttempt(context: context)
                return
            }
            sendResponseHead(context: context, response, state: state)
        case .body(let bytes):
            exchange?.bodyBytes += bytes.readableBytes
            if state.chunkedToClient {
                Self.writeChunk(bytes, allocator: context.channel.allocator) { piece in
                    context.write(self.wrapOutboundOut(.byteBuffer(piece)), promise: nil)
                }
            } else {
                context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
            }
            needsFlush = true
            if !context.channel.isWritable { connection.pauseReads() }
        case .end:
            if state.chunkedToClient {
                var last = context.channel.allocator.buffer(capacity: 5)
                last.writeStaticString("0\r\n\r\n")
                context.write(wrapOutboundOut(.byteBuffer(last)), promise: nil)
                needsFlush = true
            }
            finishProxy(context: context, state: state)
        }
    }

    /// Writes the response head for the client: hop-by-hop fields dropped, framing chosen for this client.
    func sendResponseHead(context: ChannelHandlerContext, _ response: UpstreamResponseHead, state: ProxyState) {
        let headers = response.headers
        let status = response.status
        var out = context.channel.allocator.buffer(capacity: headers.storage.readableBytes + 160)
        out.writeString(EdgeResponseHead.statusLine(status))
        let connectionOptions = ConnectionOptions(headers)
        let switching = status == 101 && state.upgrade
        for index in 0..<headers.count {
            switch headers.knownTag(at: index) {
            case KnownHeader.connection.rawValue, KnownHeader.keepAlive.rawValue, KnownHeader.te.rawValue,
                KnownHeader.trailer.rawValue, KnownHeader.transferEncoding.rawValue, KnownHeader.upgrade.rawValue,
                KnownHeader.contentLength.rawValue:
                continue
            case KnownHeader.contentType.rawValue:
                if headers.valueHasPrefix(index, ignoringCase: "text/event-stream") { state.streaming = true }
            default:
                if headers.nameHasPrefix(index, "proxy-") { continue }
                if connectionOptions.lists(headers, fieldAt: index) { continue }
            }
            if !state.routeHeaderNames.isEmpty,
                state.routeHeaderNames.contains(where: { headers.nameEquals(index, $0) })
            {
                continue
            }
            headers.writeField(at: index, into: &out)
        }
        if let routeHeaders = exchange?.routeHeaders { out.writeImmutableBuffer(routeHeaders) }
        if !headers.contains(.requestID), let requestID = exchange?.requestID {
            out.writeHeaderLine("X-Request-ID: ", requestID)
        }
        for (name, value) in state.cors { out.writeString("\(name): \(value)\r\n") }

        let bodyless = state.method == "HEAD" || status == 204 || status == 304 || status < 200
        var keepAlive = (exchange?.keepAlive ?? false) && !shouldClose
        if switching {
            state.phase = .tunnel
            state.streaming = true
            out.writeStaticString("Connection: upgrade\r\n")
            out.writeHeaderLine("Upgrade: ", headers.first(.upgrade) ?? "websocket")
        } else {
            state.phase = .streamingResponse
            if bodyless {
                if state.method == "HEAD" || status == 304, let length = response.contentLength {
                    out.writeHeaderLine("Content-Length: ", String(length))
                }
            } else if let length = response.contentLength {
                out.writeHeaderLine("Content-Length: ", String(length))
            } else if state.clientMinorVersion >= 1 {
                out.writeStaticString("Transfer-Encoding: chunked\r\n")
                state.chunkedToClient = true
            } else {
                // An HTTP/1.0 client learns where the body ends by the connection closing.
                keepAlive = false
            }
            if !state.requestEnded && state.hasBody {
                // The upstream answered before the whole body arrived; the rest will not be read.
                keepAlive = false
            }
            if !keepAlive {
                out.writeStaticString("Connection: close\r\n")
            } else if state.clientMinorVersion == 0 {
                out.writeStaticString("Connection: keep-alive\r\n")
            }
        }
        exchange?.keepAlive = keepAlive
        out.writeStaticString("\r\n")
        exchange?.status = status
        context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
        needsFlush = true
        if switching { startTunnel(context: context, state: state) }
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        guard let context = ownContext else { return }
        // Every burst from the upstream reaches the client at once: events of a stream are never held back.
        flushIfNeeded(context: context)
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        guard let context = ownContext, let state = proxy, state.connection === connection else { return }
        if state.acceptsClientBytes {
            if heldRead {
                heldRead = false
                context.read()
            }
            if state.phase != .tunnel { drain(context: context) }
            flushProxyWrites(context: context)
        }
    }

    func upstream(_ connection: UpstreamConnection, failed error: HTTPParseError?) {
        guard let context = ownContext, let state = proxy, state.connection === connection else { return }
        switch state.phase {
        case .connecting, .awaitingResponse:
            state.target?.recordFailure(error.map { "invalid response: \($0.reason)" } ?? "connection closed")
            if let error {
                proxyAttemptFailed(
                    context: context, condition: .reset, status: 502, code: error.code, detail: error.reason)
            } else if state.reusedConnection && !state.replacedStaleConnection && state.idempotent && !state.hasBody
                && state.phase == .awaitingResponse
            {
                // An idle connection the target closed (or lost, when it died) just as it was taken: the request
                // goes out again to the same target on a new connection, once, without counting as an attempt or
                // against the budget. A target that is gone then fails to connect, which is retried elsewhere.
                state.replacedStaleConnection = true
                releaseTarget(state, reuse: false)
                state.attempts -= 1
                state.freshConnectionTo = state.tried.removeLast()
                state.phase = .connecting
                proxyAttempt(context: context)
            } else {
                proxyAttemptFailed(
                    context: context, condition: .reset, status: 502, code: "upstream_reset",
                    detail: "the upstream closed the connection before answering")
            }
        case .streamingResponse:
            // The head is out: a cut-short body can only be signalled by closing.
            state.target?.recordFailure("response cut short")
            abortProxy(context: context)
        case .tunnel:
            endProxy(context: context, state)
        }
    }

    /// The exchange completed normally.
    func finishProxy(context: ChannelHandlerContext, state: ProxyState) {
        let reusable =
            state.requestEnded && (state.connection?.isOpen ?? false) && !state.upgrade
            && (state.connection?.parser.isIdle ?? false) && state.connection?.pending == nil
        releaseTarget(state, reuse: reusable)
        proxy = nil
        if !state.requestEnded { exchange?.keepAlive = false }
        exchange?.responded = true
        finishIfComplete(context: context)
        resumeAfterProxy(context: context)
    }

    /// Ends the exchange by closing both connections.
    func abortProxy(context: ChannelHandlerContext) {
        guard let state = proxy else { return }
        endProxy(context: context, state)
        closeNow(context: context)
    }

    /// Ends the exchange without reusing its upstream connection; the client connection closes once what was
    /// written to it has gone out.
    func endProxy(context: ChannelHandlerContext, _ state: ProxyState) {
        releaseTarget(state, reuse: false)
        proxy = nil
        exchange?.keepAlive = false
        exchange?.responded = true
        finishExchange(context: context)
    }

    /// The client went away or sent something unparseable mid-exchange.
    func proxyClientFailed(context: ChannelHandlerContext) {
        guard proxy != nil else { return }
        if exchange?.status == 0 { exchange?.status = 499 }
        abortProxy(context: context)
    }

    // MARK: - Tunnels (WebSocket and other upgrades)

    func startTunnel(context: ChannelHandlerContext, state: ProxyState) {
        // Bytes the client sent after its request head belong to the new protocol.
        if let bytes = pending.take(), bytes.readableBytes > 0, let connection = state.connection {
            connection.write(bytes)
            connection.flush()
        }
        if inputEnded {
            // The client closed its sending side before the switch; its end of the tunnel would never report
            // anything again. The answer goes out, then both connections close.
            endProxy(context: context, state)
            return
        }
        if heldRead && state.acceptsClientBytes {
            heldRead = false
            context.read()
        }
    }

    func tunnelFromClient(context: ChannelHandlerContext, _ bytes: ByteBuffer) {
        guard let state = proxy, let connection = state.connection else { return }
        state.lastActivity = .now()
        connection.write(bytes)
        state.upstreamNeedsFlush = true
    }

    func upstream(_ connection: UpstreamConnection, tunnelled bytes: ByteBuffer) {
        guard let context = ownContext, proxy?.connection === connection else {
            connection.close()
            return
        }
        proxy?.lastActivity = .now()
        exchange?.bodyBytes += bytes.readableBytes
        context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        needsFlush = true
        if !context.channel.isWritable { connection.pauseReads() }
    }

    // MARK: - Timeouts

    /// The moment the current phase times out, or `nil` for none.
    func proxyDeadline(_ state: ProxyState) -> NIODeadline? {
        let timeouts = state.config.timeouts
        switch state.phase {
        case .connecting:
            // The connect timeout is the bootstrap's; this only guards against a lost callback.
            return state.lastActivity + TimeAmount(timeouts.connect) + .seconds(1)
        case .awaitingResponse:
            return state.lastActivity + TimeAmount(timeouts.response)
        case .streamingResponse:
            if state.streaming { return timeouts.streamIdle.map { state.lastActivity + TimeAmount($0) } }
            return state.lastActivity + TimeAmount(timeouts.idle)
        case .tunnel:
            return timeouts.streamIdle.map { state.lastActivity + TimeAmount($0) }
        }
    }

    /// Makes sure the connection's timer fires no later than the exchange's current deadline. It is the one timer
    /// of the connection (see ``arm(context:_:)``): one that fires early re-arms itself, so a keep-alive connection
    /// schedules a timer about once per timeout, not once per request.
    func armProxyTimer(context: ChannelHandlerContext) {
        guard let state = proxy else { return }
        scheduleIfEarlier(context: context, proxyDeadline(state) ?? NIODeadline.now() + .seconds(60))
    }

    func proxyTimerFired(context: ChannelHandlerContext) {
        guard let state = proxy else { return }
        let now = NIODeadline.now()
        guard let deadline = proxyDeadline(state), deadline <= now else {
            armProxyTimer(context: context)
            return
        }
        if !context.channel.isWritable, state.phase == .streamingResponse {
            // The client is slow to read, not the upstream to send: the client's own idle timeout applies.
            if now - lastWriteProgress < runtime.idleTimeout {
                proxy?.lastActivity = lastWriteProgress
                armProxyTimer(context: context)
                return
            }
        }
        switch state.phase {
        case .connecting, .awaitingResponse:
            state.target?.recordFailure("timeout")
            proxyAttemptFailed(
                context: context, condition: .timeout, status: 504, code: "upstream_timeout",
                detail: "the upstream did not answer within \(ConfigDuration.format(state.config.timeouts.response))")
            armProxyTimer(context: context)
        case .streamingResponse, .tunnel:
            abortProxy(context: context)
        }
    }
}
