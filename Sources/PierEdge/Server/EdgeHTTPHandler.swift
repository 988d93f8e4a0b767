import Foundation
import Logging
import NIOCore
import PierCore

#if canImport(Glibc)
    import Glibc
#endif

/// Sent down a connection's pipeline when the server shuts down: finish the current exchange, then close.
struct EdgeShouldCloseEvent: Sendable {}

/// Serves one HTTP/1.1 connection entirely on its event loop: parses requests with ``HTTP1RequestParser``, routes
/// them, and answers static requests from the file cache (or with `sendfile` for large files).
///
/// Requests are answered strictly in order. While a response waits for the thread pool, parsing stops and reads
/// from the socket are held back, so a pipelining client cannot make the edge buffer without bound.
final class EdgeHTTPHandler: ChannelDuplexHandler, AnsweredInTurn {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The request being answered.
    struct Exchange {
        var method: String
        var target: String
        var minorVersion: Int
        var keepAlive: Bool
        var host: String?
        /// The authority of an absolute-form target (`GET http://authority/path`), which replaces `Host`.
        var targetAuthority: String?
        /// The matched route's configured response fields, rendered.
        var routeHeaders: ByteBuffer?
        var userAgent: String?
        var referer: String?
        var requestID: String
        var start: NIODeadline
        var epochSeconds: Int
        var status = 0
        var bodyBytes = 0
        var responded = false
        var ended = false
    }

    let source: EdgeRuntimeSource
    /// The runtime of the current request, refreshed from `source` at a request head when a reload happened.
    var runtime: EdgeRuntime
    var runtimeGeneration: Int
    var parser: HTTP1RequestParser
    var pending: ByteBuffer?
    let empty = ByteBuffer()
    var exchange: Exchange?
    /// A request whose body is still being read; it is answered at its end.
    var deferred: (head: HTTP1RequestHead, resolved: Resolution)?
    /// The proxied exchange in progress, if any.
    var proxy: ProxyState?
    var awaitingResponse = false
    var heldRead = false
    var closing = false
    var shouldClose = false
    /// The client closed its sending side; what it sent before is still answered.
    var inputEnded = false
    var needsFlush = false
    var requestIDs = RequestIDGenerator()
    /// This handler's context, for callbacks from upstream connections on the same event loop.
    var ownContext: ChannelHandlerContext?
    let dates = DateHeaderCache()
    var remoteAddress = "-"
    var deadline = NIODeadline.distantFuture
    var timer: Scheduled<Void>?
    var timerDeadline = NIODeadline.distantFuture
    /// The last time the socket drained enough to become writable again.
    var lastWriteProgress = NIODeadline.now()
    /// Answers the requests of this event loop's turn oldest-first (see ``ServiceOrder``); without one, each
    /// request is answered as soon as it is read.
    let serviceOrder: ServiceOrder?
    /// When this connection was last answered, in ``ServiceOrder``'s count; 0 before its first answer.
    var answeredTurn: UInt64 = 0
    var queued = false

    init(source: EdgeRuntimeSource, serviceOrder: ServiceOrder? = nil) {
        self.source = source
        self.serviceOrder = serviceOrder
        self.runtimeGeneration = source.generation
        let runtime = source.current
        self.runtime = runtime
        self.parser = HTTP1RequestParser(limits: runtime.parserLimits)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        ownContext = context
        if context.channel.isActive { connectionStarted(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionStarted(context: context)
        context.fireChannelActive()
    }

    private func connectionStarted(context: ChannelHandlerContext) {
        // The channel's cached address: `context.remoteAddress` asks the kernel again (a `getpeername` per
        // connection).
        if let address = context.channel.remoteAddress?.ipAddress { remoteAddress = address }
        arm(context: context, NIODeadline.now() + runtime.headerTimeout)
    }

    func channelInactive(context: ChannelHandlerContext) {
        proxyClientFailed(context: context)
        closing = true
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        ownContext = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closing else { return }
        if proxy?.phase == .tunnel {
            tunnelFromClient(context: context, bytes)
            return
        }
        if var buffered = pending.take(), buffered.readableBytes > 0 {
            // Consumed bytes are dropped before appending, so a slow trickle of pipelined requests cannot make
            // the buffer (and the copy on every read) grow with everything ever received.
            if buffered.readerIndex > 4096 { buffered.discardReadBytes() }
            buffered.writeBuffer(&bytes)
            pending = buffered
        } else {
            pending = bytes
        }
        // A new request on an idle connection is answered at the end of the event loop's turn, in the order of
        // ``ServiceOrder``; anything else (a body, a proxied exchange) goes on at once.
        if isBetweenExchanges, let serviceOrder {
            if !queued {
                queued = true
                serviceOrder.enqueue(self, on: context.eventLoop)
            }
            return
        }
        drain(context: context)
    }

    /// Called by ``ServiceOrder`` at the end of the turn in which a request was read.
    func answerQueued() {
        queued = false
        guard let context = ownContext, !closing else { return }
        drain(context: context)
        flushAfterRead(context: context)
    }

    /// No request is being answered or proxied: what arrives next starts a new exchange.
    var isBetweenExchanges: Bool { proxy == nil && exchange == nil && !awaitingResponse }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAfterRead(context: context)
        context.fireChannelReadComplete()
    }

    /// Sends what answering the bytes read wrote, to the upstream and to the client, in one flush each.
    private func flushAfterRead(context: ChannelHandlerContext) {
        flushProxyWrites(context: context)
        flushIfNeeded(context: context)
    }

    /// How many bytes of what follows a proxied request are read ahead while its response is on its way.
    static let maxBufferedWhileProxying = 64 * 1024

    func read(context: ChannelHandlerContext) {
        if mayReadClient(context: context) {
            context.read()
        } else {
            heldRead = true
        }
    }

    /// Whether the client connection may be read now.
    ///
    /// While proxying, the client is read only as fast as the upstream takes its bytes. Once the request has ended,
    /// reading goes on into the parse buffer (a pipelined request, or the close of a client that gave up) up to a
    /// bound: stopping and restarting reads for every exchange would cost two `epoll_ctl` calls per request. Not for
    /// an upgrade, whose answer may turn the connection into a tunnel that must see the client's bytes and close.
    func mayReadClient(context: ChannelHandlerContext) -> Bool {
        if let proxy {
            return proxy.acceptsClientBytes
                || (proxy.requestEnded && proxy.phase != .tunnel && !proxy.upgrade
                    && (pending?.readableBytes ?? 0) < Self.maxBufferedWhileProxying)
        }
        return !awaitingResponse && context.channel.isWritable
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        lastWriteProgress = NIODeadline.now()
        if let connection = proxy?.connection, context.channel.isWritable {
            // What the upstream sends next goes out now, even if it makes the client unwritable again at once.
            connection.resumeReads()
            flushIfNeeded(context: context)
        }
        if context.channel.isWritable && !awaitingResponse && !closing {
            if heldRead && mayReadClient(context: context) {
                heldRead = false
                context.read()
            }
            drain(context: context)
            flushIfNeeded(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Flushes writes made outside a read burst (after an async step or a writability change).
    func flushIfNeeded(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is EdgeShouldCloseEvent {
            shouldClose = true
            if exchange == nil && parser.isIdle && (pending?.readableBytes ?? 0) == 0 {
                closeAfterWrites(context: context)
            }
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            if proxy?.phase == .tunnel {
                abortProxy(context: context)
                return
            }
            // The client finished sending: answer every complete request received, then close. When nothing
            // else was received, the answer in flight already says so.
            inputEnded = true
            if (pending?.readableBytes ?? 0) == 0 {
                shouldClose = true
                if exchange == nil && !awaitingResponse { closeAfterWrites(context: context) }
            } else if isBetweenExchanges {
                drain(context: context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Connection resets and the like: nothing to answer, just close.
        closeNow(context: context)
    }

    // MARK: - Parsing loop

    func drain(context: ChannelHandlerContext) {
        // Parsing stops while the socket is not writable: a client that pipelines without reading cannot make
        // the edge queue responses (or open files) without bound.
        while !awaitingResponse && !closing && context.channel.isWritable && (proxy?.acceptsClientBytes ?? true) {
            // The parser is called even without new bytes: it may owe an `.end` for the request just read.
            var buffer = pending ?? empty
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next(&buffer)
            } catch {
                pending = nil
                respondToParseError(context: context, error)
                return
            }
            pending = buffer.readableBytes > 0 ? buffer : nil
            guard let event else {
                if inputEnded && exchange == nil && proxy == nil {
                    // Nothing complete is left and nothing more will come.
                    closeAfterWrites(context: context)
                    return
                }
                break
            }
            switch event {
            case .head(let head):
                handleHead(context: context, head)
            case .body(let bytes):
                // Bodies sent to static routes are read and dropped.
                if proxy != nil { proxyForwardBody(context: context, bytes) }
            case .end:
                exchange?.ended = true
                if let proxy, !proxy.requestEnded {
                    proxyRequestEnded(context: context)
                } else if let (head, resolved) = deferred {
                    deferred = nil
                    dispatch(context: context, head, resolved)
                } else if exchange?.responded == true {
                    finishExchange(context: context)
                }
            }
        }
        if !closing && !awaitingResponse && exchange == nil && !parser.isIdle {
            // A partial request head: it must complete within header_timeout.
            armIfEarlier(context: context, NIODeadline.now() + runtime.headerTimeout)
        }
    }

    func handleHead(context: ChannelHandlerContext, _ head: HTTP1RequestHead) {
        let generation = source.generation
        if generation != runtimeGeneration {
            // A reload: this request uses the new routes, the next one is also parsed with the new limits.
            runtimeGeneration = generation
            runtime = source.current
            parser.limits = runtime.parserLimits
        }
        let now = NIODeadline.now()
        var requestID = head.headers.first(.requestID) ?? ""
        if !RequestIDGenerator.isAcceptable(requestID) { requestID = requestIDs.next() }
        // An absolute-form target's authority takes precedence over Host (RFC 9112 §3.2.2).
        let targetAuthority = Self.authority(ofAbsoluteTarget: head.target)
        var host: String?
        if runtime.needsHost {
            host = (targetAuthority ?? head.headers.first(.host)).map(Self.hostWithoutPort)
        }
        exchange = Exchange(
            method: head.method,
            target: head.target,
            minorVersion: head.minorVersion,
            keepAlive: head.keepAlive && !shouldClose,
            host: host,
            targetAuthority: targetAuthority,
            // Only read for the access log.
            userAgent: runtime.accessLog == nil ? nil : head.headers.first(.userAgent),
            referer: runtime.accessLog == nil ? nil : head.headers.first(.referer),
            requestID: requestID,
            start: now,
            epochSeconds: time(nil)
        )
        arm(context: context, now + runtime.idleTimeout)
        let resolved = resolve(head)
        if case .route(let route, _) = resolved { exchange?.routeHeaders = route.renderedHeaders }
        if case .route(let route, let path) = resolved, case .proxy(let config) = route.action,
            !isPreflight(head, route)
        {
            // Proxied requests stream their bodies to the upstream as they arrive.
            startProxy(context: context, head: head, route: route, config: config, path: path)
            return
        }
        if head.framing != .none, head.headers.first(.expect)?.lowercased() == "100-continue" {
            // Answer at once instead of inviting a body the edge would only discard; the unread body means the
            // connection cannot be reused.
            exchange?.keepAlive = false
            dispatch(context: context, head, resolved)
            return
        }
        if head.framing != .none {
            // The edge answers only after reading (and discarding, within max_body_bytes) the body, so malformed
            // chunked framing is refused and the connection stays usable.
            deferred = (head, resolved)
            return
        }
        dispatch(context: context, head, resolved)
    }

    /// Where a request goes: a route (with its checked path), or nowhere.
    enum Resolution {
        case route(EdgeRuntime.Route, RequestPath)
        case invalidPath
        case noRoute
    }

    func resolve(_ head: HTTP1RequestHead) -> Resolution {
        guard let path = try? RequestPath(target: head.target) else { return .invalidPath }
        if head.target.utf8.first != UInt8(ascii: "/") && exchange?.targetAuthority == nil {
            // An absolute-form target whose scheme or authority is not plainly http(s)://host[:port].
            return .invalidPath
        }
        guard let route = runtime.route(host: exchange?.host, path: path.path, method: head.method) else {
            return .noRoute
        }
        if path.hasEncodedSlash {
            // Never meaningful for files; passed on only where a proxy route says its upstream expects it.
            guard case .proxy(let config) = route.action, config.passEncodedSlashes else { return .invalidPath }
        }
        return .route(route, path)
    }

    /// A CORS preflight the route's policy answers at the edge.
    func isPreflight(_ head: HTTP1RequestHead, _ route: EdgeRuntime.Route) -> Bool {
        route.cors != nil && head.method == "OPTIONS" && head.headers.contains(.origin)
            && head.headers.contains(.accessControlRequestMethod)
    }

    /// Answers a request that the edge itself handles.
    func dispatch(context: ChannelHandlerContext, _ head: HTTP1RequestHead, _ resolved: Resolution) {
        let route: EdgeRuntime.Route
        let path: RequestPath
        switch resolved {
        case .invalidPath:
            if head.target == "*" && head.method == "OPTIONS" {
                var response = EdgeResponseHead(status: 204)
                response.add("Allow", "GET, HEAD, OPTIONS")
                respond(context: context, response, body: nil)
                return
            }
            respondProblem(
                context: context, status: 400, code: "invalid_path",
                detail: "the request target is not an acceptable path", head: head)
            return
        case .noRoute:
            if let path = try? RequestPath(target: head.target),
                let allowed = runtime.allowedMethods(host: exchange?.host, path: path.path)
            {
                let allow = allowed.joined(separator: ", ")
                respondProblem(
                    context: context, status: 405, code: "method_not_allowed",
                    detail: "this path answers \(allow)", head: head, extra: [("Allow", allow)])
                return
            }
            respondProblem(
                context: context, status: 404, code: "no_route", detail: "no route matches this request", head: head)
            return
        case .route(let matched, let checkedPath):
            route = matched
            path = checkedPath
        }
        var extra: [(String, String)] = []
        if let cors = route.cors {
            let origin = head.headers.first(.origin)
            if let origin, head.method == "OPTIONS",
                let requestedMethod = head.headers.first(.accessControlRequestMethod)
            {
                var response = EdgeResponseHead(status: 204)
                response.add(
                    cors.preflightHeaders(
                        origin: origin,
                        requestMethod: requestedMethod,
                        requestHeaders: head.headers.first(.accessControlRequestHeaders)
                    )
                )
                respond(context: context, response, body: nil)
                return
            }
            extra = cors.responseHeaders(origin: origin)
        }
        switch route.action {
        case .static(let config):
            serveStatic(context: context, head: head, path: path, config: config, extra: extra)
        case .proxy(let config):
            startProxy(context: context, head: head, route: route, config: config, path: path)
        }
    }

    /// The authority of an absolute-form target (`http://host:port/path`), or `nil` for any other target and for
    /// an absolute one whose scheme is not http or https or whose authority is not a plain host and port (user
    /// information is refused, RFC 9110 §4.2.4).
    static func authority(ofAbsoluteTarget target: String) -> String? {
        guard target.utf8.first != UInt8(ascii: "/"), let schemeEnd = target.range(of: "://") else { return nil }
        let scheme = target[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = target[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        guard !authority.isEmpty, authority.utf8.allSatisfy(HTTP1RequestParser.isHostByte),
            !authority.utf8.contains(UInt8(ascii: "%"))
        else { return nil }
        return String(authority)
    }

    static func hostWithoutPort(_ value: String) -> String {
        let bytes = value.utf8
        var end = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) { end = bytes.index(after: close) }
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: ".") {
            end = bytes.index(before: end)
        }
        let host = bytes[..<end]
        let hasUpperCase = host.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if !hasUpperCase && end == bytes.endIndex { return value }
        return hasUpperCase ? String(Substring(host)).lowercased() : String(Substring(host))
    }

    // MARK: - Responses

    enum Body {
        case buffer(ByteBuffer)
        case file(StaticRepresentation, [Range<Int>], multipart: MultipartRanges?)
    }

    /// The framing of a multipart/byteranges body around the file ranges.
    struct MultipartRanges {
        var partHeads: [ByteBuffer]
        var closing: ByteBuffer
    }

    /// Adds the headers every response carries, writes head and body, and records the exchange's status.
    func respond(
        context: ChannelHandlerContext,
        _ head: EdgeResponseHead,
        body: Body?,
        contentLength: Int? = nil,
        omitBody: Bool = false
    ) {
        var head = head
        let length: Int
        switch body {
        case .none: length = contentLength ?? 0
        case .buffer(let buffer): length = contentLength ?? buffer.readableBytes
        case .file(_, let ranges, let multipart):
            length =
                contentLength ?? ranges.reduce(0) { $0 + $1.count }
                + (multipart.map { $0.partHeads.reduce($0.closing.readableBytes) { $0 + $1.readableBytes } } ?? 0)
        }
        let connection = connectionField()
        if head.status != 304 && head.status != 204 || contentLength != nil {
            head.add("Content-Length", String(length))
        }
        let sendBody = !omitBody && exchange?.method != "HEAD" && head.status != 304 && head.status != 204
        exchange?.status = head.status
        exchange?.bodyBytes = sendBody ? length : 0

        let inlineBody = sendBody ? bodyBufferSize(body) : 0
        var out = context.channel.allocator.buffer(
            capacity: 320 + (inlineBody > Self.maxCopiedBodyBytes + 256 ? 0 : inlineBody))
        head.writeFields(into: &out)
        if let routeHeaders = exchange?.routeHeaders { out.writeImmutableBuffer(routeHeaders) }
        writeHeadEnd(into: &out, connection: connection)
        switch body {
        case .buffer(var buffer) where sendBody:
            out.writeBuffer(&buffer)
            complete(context: context, writing: out)
        case .file(let representation, let ranges, let multipart) where sendBody:
            if let contents = representation.contents {
                if multipart == nil, ranges.count == 1, ranges[0].count > Self.maxCopiedBodyBytes {
                    // Large cached bodies go out as a slice of the cached buffer: no copy per response.
                    let slice = contents.getSlice(
                        at: contents.readerIndex + ranges[0].lowerBound, length: ranges[0].count)!
                    context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
                    complete(context: context, writing: slice)
                    return
                }
                for (index, range) in ranges.enumerated() {
                    if var partHead = multipart?.partHeads[index] { out.writeBuffer(&partHead) }
                    var slice = contents.getSlice(at: contents.readerIndex + range.lowerBound, length: range.count)!
                    out.writeBuffer(&slice)
                }
                if var closing = multipart?.closing { out.writeBuffer(&closing) }
                complete(context: context, writing: out)
            } else {
                sendFromDisk(
                    context: context, head: out, representation: representation, ranges: ranges, multipart: multipart)
            }
        default:
            complete(context: context, writing: out)
        }
    }

    /// Answers `200 OK` with a whole in-memory file: the representation's cached head, the fields that change per
    /// request, and the bytes (copied into the same buffer when small, so one write carries the whole answer).
    func respondCachedFile(context: ChannelHandlerContext, _ representation: StaticRepresentation, contents: ByteBuffer)
    {
        let connection = connectionField()
        let sendBody = exchange?.method != "HEAD"
        exchange?.status = 200
        exchange?.bodyBytes = sendBody ? representation.size : 0
        let inline = sendBody && contents.readableBytes <= Self.maxCopiedBodyBytes
        var out = context.channel.allocator.buffer(
            capacity: representation.okHead.readableBytes + 160 + (exchange?.routeHeaders?.readableBytes ?? 0)
                + (inline ? contents.readableBytes : 0))
        out.writeImmutableBuffer(representation.okHead)
        if let routeHeaders = exchange?.routeHeaders { out.writeImmutableBuffer(routeHeaders) }
        writeHeadEnd(into: &out, connection: connection)
        if inline {
            out.writeImmutableBuffer(contents)
        } else if sendBody {
            // Large cached bodies go out as the cached buffer itself: no copy per response.
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
            complete(context: context, writing: contents)
            return
        }
        complete(context: context, writing: out)
    }

    /// Bodies up to this size are copied into the buffer of their head, so one write carries the whole answer;
    /// larger in-memory bodies go out as the cached buffer itself.
    static let maxCopiedBodyBytes = 16 * 1024

    /// Settles whether the connection stays open after this answer (recorded in the exchange), and the
    /// `Connection` field that says so when the client would not assume it.
    private func connectionField() -> StaticString? {
        guard (exchange?.keepAlive ?? false) && !shouldClose else {
            exchange?.keepAlive = false
            return "Connection: close\r\n"
        }
        return exchange?.minorVersion == 0 ? "Connection: keep-alive\r\n" : nil
    }

    /// Ends a head with the fields that change per answer: `Date`, `X-Request-ID`, `Connection`, the blank line.
    private func writeHeadEnd(into out: inout ByteBuffer, connection: StaticString?) {
        EdgeResponseHead.writeClosingFields(
            date: dates.current(epochSeconds: exchange?.epochSeconds ?? time(nil)),
            requestID: exchange?.requestID ?? requestIDs.next(), connection: connection, into: &out)
    }

    private func bodyBufferSize(_ body: Body?) -> Int {
        switch body {
        case .buffer(let buffer): buffer.readableBytes
        case .file(let representation, let ranges, _):
            representation.contents == nil ? 0 : ranges.reduce(0) { $0 + $1.count } + 256
        case .none: 0
        }
    }

    /// Writes a fully built response and moves on.
    private func complete(context: ChannelHandlerContext, writing buffer: ByteBuffer) {
        exchange?.responded = true
        if awaitingResponse {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
            needsFlush = true
        }
        finishIfComplete(context: context)
        resumeAfterAsyncResponse(context: context)
    }

    private func sendFromDisk(
        context: ChannelHandlerContext,
        head: ByteBuffer,
        representation: StaticRepresentation,
        ranges: [Range<Int>],
        multipart: MultipartRanges?
    ) {
        beginAsyncResponse()
        runtime.files.open(representation, eventLoop: context.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let handle):
                guard !self.closing else {
                    try? handle.close()
                    return
                }
                context.write(self.wrapOutboundOut(.byteBuffer(head)), promise: nil)
                for (index, range) in ranges.enumerated() {
                    if let partHead = multipart?.partHeads[index] {
                        context.write(self.wrapOutboundOut(.byteBuffer(partHead)), promise: nil)
                    }
                    let region = FileRegion(
                        fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound)
                    context.write(self.wrapOutboundOut(.fileRegion(region)), promise: nil)
                }
                if let closing = multipart?.closing {
                    context.write(self.wrapOutboundOut(.byteBuffer(closing)), promise: nil)
                }
                let done = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(
                    self.wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: done)
                done.futureResult.whenComplete { _ in try? handle.close() }
                self.exchange?.responded = true
                self.finishIfComplete(context: context)
                self.resumeAfterAsyncResponse(context: context)
            case .failure(let error):
                guard !self.closing else { return }
                // The head is not sent yet, so answer cleanly: the file vanished, or changed since it was cached.
                self.exchange?.keepAlive = false
                if error is StaticFileStore.FileChangedError {
                    self.respondProblem(
                        context: context, status: 503, code: "file_changed",
                        detail: "the file changed while being served; retry",
                        head: nil, extra: [("Retry-After", "1")])
                } else {
                    self.respondProblem(context: context, status: 404, code: "not_found", detail: nil, head: nil)
                }
            }
        }
    }

    func beginAsyncResponse() {
        awaitingResponse = true
    }

    func resumeAfterAsyncResponse(context: ChannelHandlerContext) {
        guard awaitingResponse else { return }
        awaitingResponse = false
        if heldRead && context.channel.isWritable {
            heldRead = false
            context.read()
        }
        if !closing { drain(context: context) }
        flushIfNeeded(context: context)
    }

    /// Finishes the answered exchange now when its request was fully read or the connection is closing anyway;
    /// otherwise the parser's `.end` finishes it.
    func finishIfComplete(context: ChannelHandlerContext) {
        if exchange?.ended == true || exchange?.keepAlive == false { finishExchange(context: context) }
    }

    /// Logs the exchange and either readies the connection for the next request or closes it.
    func finishExchange(context: ChannelHandlerContext) {
        guard let done = exchange else { return }
        exchange = nil
        if let accessLog = runtime.accessLog {
            accessLog.record(
                AccessLogEntry(
                    remoteAddress: remoteAddress,
                    method: done.method,
                    target: done.target,
                    minorVersion: done.minorVersion,
                    status: done.status,
                    bodyBytes: done.bodyBytes,
                    referer: done.referer,
                    userAgent: done.userAgent,
                    requestID: done.requestID,
                    host: done.host,
                    durationSeconds: Double((NIODeadline.now() - done.start).nanoseconds) / 1e9,
                    epochSeconds: done.epochSeconds
                )
            )
        }
        if !done.keepAlive || shouldClose {
            closeAfterWrites(context: context)
        } else {
            arm(context: context, NIODeadline.now() + runtime.idleTimeout)
        }
    }

    func closeAfterWrites(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        pending = nil
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(
            wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func closeNow(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        pending = nil
        context.close(promise: nil)
    }

    // MARK: - Errors

    func respondProblem(
        context: ChannelHandlerContext, status: Int, code: String, detail: String?, head: HTTP1RequestHead?,
        extra: [(String, String)] = []
    ) {
        var problem = ProblemDetails(
            status: status, title: EdgeResponseHead.reasonPhrase(status), code: code, detail: detail)
        if let requestID = exchange?.requestID {
            problem.extensions.append((name: "request_id", json: JSONText.quoted(requestID)))
        }
        var response = EdgeResponseHead(status: status)
        response.add("Content-Type", ProblemDetails.contentType)
        response.add("Cache-Control", "no-store")
        response.add(extra)
        var body = context.channel.allocator.buffer(capacity: 256)
        body.writeString(problem.json)
        respond(context: context, response, body: .buffer(body))
    }

    func respondToParseError(context: ChannelHandlerContext, _ error: HTTPParseError) {
        if exchange == nil {
            exchange = Exchange(
                method: "-",
                target: "-",
                minorVersion: 1,
                keepAlive: false,
                requestID: requestIDs.next(),
                start: NIODeadline.now(),
                epochSeconds: time(nil)
            )
        }
        exchange?.keepAlive = false
        exchange?.ended = true
        deferred = nil
        if let state = proxy {
            guard state.phase == .connecting || state.phase == .awaitingResponse else {
                // Part of the answer went out already: closing is the only signal left.
                proxyClientFailed(context: context)
                return
            }
            // Nothing reached the client yet: the upstream connection (which saw a cut-short request) is closed
            // and the client gets the same refusal as on any other route.
            releaseTarget(state, reuse: false)
            proxy = nil
        }
        if exchange?.responded == true {
            // The answer already went out (a static route answered before the body): just close.
            finishExchange(context: context)
            return
        }
        runtime.logger.debug(
            "refused a malformed request",
            metadata: ["pier.remote": "\(remoteAddress)", "pier.problem": "\(error.code)"]
        )
        respondProblem(context: context, status: error.status, code: error.code, detail: error.reason, head: nil)
    }

    // MARK: - Timeouts

    /// Sets the connection's deadline; the timer fires at the earliest deadline and re-arms itself when the
    /// deadline moved later, so keep-alive traffic does not schedule a timer per request. The same timer serves a
    /// proxied exchange's deadlines (``armProxyTimer(context:)``), which take over while the exchange lasts.
    func arm(context: ChannelHandlerContext, _ newDeadline: NIODeadline) {
        deadline = newDeadline
        scheduleIfEarlier(context: context, newDeadline)
    }

    /// Makes the timer fire no later than `when`.
    func scheduleIfEarlier(context: ChannelHandlerContext, _ when: NIODeadline) {
        if timer == nil || when < timerDeadline { schedule(context: context, at: when) }
    }

    func armIfEarlier(context: ChannelHandlerContext, _ newDeadline: NIODeadline) {
        if newDeadline < deadline { arm(context: context, newDeadline) }
    }

    private func schedule(context: ChannelHandlerContext, at when: NIODeadline) {
        timer?.cancel()
        timerDeadline = when
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) {
            self.timer = nil
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        guard !closing else { return }
        if proxy != nil {
            // A proxied exchange has its own deadlines; the connection's resume when it ends.
            proxyTimerFired(context: context)
            return
        }
        let now = NIODeadline.now()
        if now < deadline {
            schedule(context: context, at: deadline)
            return
        }
        if !context.channel.isWritable && now - lastWriteProgress < runtime.idleTimeout {
            // A response is still going out and the client keeps reading: give it another idle period.
            arm(context: context, lastWriteProgress + runtime.idleTimeout)
            return
        }
        if exchange == nil && !parser.isIdle {
            // Part of a request head arrived, the rest did not.
            respondToParseError(
                context: context,
                HTTPParseError(status: 408, code: "header_timeout", reason: "the request head did not arrive in time"))
        } else {
            closeNow(context: context)
        }
    }
}
