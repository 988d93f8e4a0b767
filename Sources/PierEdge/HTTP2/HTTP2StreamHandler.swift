import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves one HTTP/2 stream (one exchange) on its connection's event loop: turns the request's HEADERS and DATA
/// frames into an ``EdgeRequest`` for the pipeline, and is that exchange's ``EdgeResponseSink``, writing HEADERS and
/// DATA frames. Flow control is NIOHTTP2's: the stream channel is writable while the peer's window and the buffer
/// allow, and the request body is read only as fast as the proxy takes it.
final class HTTP2StreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let source: EdgeRuntimeSource
    private let traits: ConnectionTraits
    private let remoteAddress: String
    private var requestIDs = RequestIDGenerator()
    private let dates: DateHeaderCache
    private var context: ChannelHandlerContext?
    private var exchange: EdgeExchange?
    /// The request body bytes received so far, against `max_body_bytes`.
    private var bodyBytes = 0
    private var requestEnded = false
    private var responseStarted = false
    private var finished = false
    private var heldRead = false
    private var needsFlush = false
    private var inReadBurst = false
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var lastWriteProgress = NIODeadline.now()

    init(source: EdgeRuntimeSource, traits: ConnectionTraits, remoteAddress: String, dates: DateHeaderCache) {
        self.source = source
        self.traits = traits
        self.remoteAddress = remoteAddress
        self.dates = dates
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    // MARK: - Request frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadBurst = true
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if exchange == nil {
                startExchange(headers.headers, endStream: headers.endStream)
            } else if headers.endStream {
                // Trailers: read and dropped, as on HTTP/1.1.
                endOfRequest()
            }
        case .data(let data):
            guard case .byteBuffer(let bytes) = data.data else { break }
            receivedBody(bytes)
            if data.endStream { endOfRequest() }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        exchange?.proxy?.flushUpstream()
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if let exchange, !requestEnded, !exchange.wantsClientBytes {
            // The upstream cannot take more (or the request waits for a token key): the client's window fills up
            // and it waits.
            heldRead = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        lastWriteProgress = .now()
        if context.channel.isWritable {
            exchange?.proxy?.clientBecameWritable()
            flushIfNeeded()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange, !finished {
            // Reset by the client, or the connection went away.
            exchange.cancelled = true
            exchange.proxy?.cancel()
            finish(exchange)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func startExchange(_ block: HPACKHeaders, endStream: Bool) {
        let runtime = source.current
        var method: String?
        var path: String?
        var scheme: String?
        var authority: String?
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count)
        var cookies: [String] = []
        var contentLength: Int?
        var malformed = false
        for (name, value, _) in block {
            guard Self.isValidValue(value) else {
                malformed = true
                break
            }
            if name.utf8.first == UInt8(ascii: ":") {
                // Pseudo-fields come first, each once, and only the request ones (RFC 9113 §8.3.1).
                guard fields.isEmpty, cookies.isEmpty else {
                    malformed = true
                    break
                }
                switch name {
                case ":method" where method == nil: method = value
                case ":path" where path == nil: path = value
                case ":scheme" where scheme == nil: scheme = value
                case ":authority" where authority == nil: authority = value
                default: malformed = true
                }
                if malformed { break }
                continue
            }
            guard Self.isValidName(name), !Self.isConnectionSpecific(name, value) else {
                malformed = true
                break
            }
            if name == "cookie" {
                // RFC 9113 §8.2.3: cookie crumbs are joined for HTTP/1.1.
                cookies.append(value)
                continue
            }
            if name == "content-length" { contentLength = Int(value) }
            fields.append((name, value))
        }
        guard !malformed, let method, let path, method == "CONNECT" || (scheme != nil && !path.isEmpty) else {
            // A malformed request is a stream error (RFC 9113 §8.1.1).
            context?.writeAndFlush(wrapOutboundOut(.rstStream(.protocolError)), promise: nil)
            finished = true
            return
        }
        if !cookies.isEmpty { fields.append(("cookie", cookies.joined(separator: "; "))) }
        if authority == nil, let host = fields.first(where: { $0.0 == "host" })?.1 { authority = host }
        let framing: BodyFraming =
            endStream ? .none : contentLength.map { $0 > 0 ? .contentLength($0) : .none } ?? .chunked
        let headers = HTTPHeaderFields(pairs: fields)
        var requestID = headers.first(.requestID) ?? ""
        if !RequestIDGenerator.isAcceptable(requestID) { requestID = requestIDs.next() }
        let request = EdgeRequest(
            method: method, target: path, version: .http2, headers: headers, framing: framing, keepAlive: true,
            authority: authority)
        let exchange = EdgeExchange(
            request: request, runtime: runtime, sink: self, requestID: requestID, start: .now(),
            remoteAddress: remoteAddress, traits: traits, keepAlive: true)
        self.exchange = exchange
        requestEnded = endStream || framing == .none
        if requestEnded { exchange.requestEnded = true }
        if method == "CONNECT" {
            // RFC 8441's extended CONNECT (WebSocket over HTTP/2) is not offered in SETTINGS, so no CONNECT is
            // expected; a tunnel to an arbitrary authority is not something an edge provides.
            EdgeResponder.problem(
                exchange, status: 405, code: "method_not_allowed", detail: "CONNECT is not supported here",
                extra: [("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")])
            return
        }
        if let length = contentLength, length > runtime.config.limits.maxBodyBytes {
            exchange.keepAlive = false
            EdgeResponder.problem(
                exchange, status: 413, code: "body_too_large",
                detail: "the request body exceeds \(runtime.config.limits.maxBodyBytes) bytes")
            return
        }
        EdgeResponder.handle(exchange)
    }

    /// A field name as HTTP/2 allows it: a token in lower case (RFC 9113 §8.2.1).
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                HTTPToken.isTokenByte(byte) && !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            }
    }

    /// A field value without NUL, CR or LF, and without whitespace at either end (RFC 9113 §8.2.1).
    static func isValidValue(_ value: String) -> Bool {
        let bytes = value.utf8
        if let first = bytes.first, first == 0x20 || first == 0x09 { return false }
        if let last = bytes.last, last == 0x20 || last == 0x09 { return false }
        return !bytes.contains { $0 == 0 || $0 == 0x0A || $0 == 0x0D }
    }

    /// The HTTP/1.1 connection-specific fields, which HTTP/2 forbids (`te` is allowed only as `trailers`).
    static func isConnectionSpecific(_ name: String, _ value: String) -> Bool {
        switch name {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": true
        case "te": value != "trailers"
        default: false
        }
    }

    private func receivedBody(_ bytes: ByteBuffer) {
        guard let exchange, !requestEnded else { return }
        bodyBytes += bytes.readableBytes
        let limit = exchange.runtime.config.limits.maxBodyBytes
        if bodyBytes > limit {
            requestEnded = true
            exchange.proxy?.cancel()
            if !responseStarted && !exchange.responded {
                EdgeResponder.problem(
                    exchange, status: 413, code: "body_too_large", detail: "the request body exceeds \(limit) bytes")
            } else {
                abort(exchange)
            }
            return
        }
        exchange.proxy?.clientBody(bytes)
    }

    private func endOfRequest() {
        guard let exchange, !requestEnded else { return }
        requestEnded = true
        exchange.proxy?.clientEnded()
        exchange.requestDidEnd()
        if exchange.responded { closeStreamAfterAnswer() }
    }

    // MARK: - Ending the exchange

    /// Logs the exchange once its answer is complete (or it was abandoned).
    private func finish(_ exchange: EdgeExchange) {
        guard !finished else { return }
        finished = true
        if exchange.status == 0 { exchange.status = 499 }
        exchange.record()
    }

    private func completed(_ exchange: EdgeExchange) {
        exchange.responded = true
        finish(exchange)
        if !requestEnded { closeStreamAfterAnswer() }
    }

    /// The answer is complete but the client is still sending: RFC 9113 §8.1 lets the server end the stream with
    /// RST_STREAM (NO_ERROR), so the client stops sending a body nobody reads.
    private func closeStreamAfterAnswer() {
        guard let context, !requestEnded else { return }
        context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
    }
}

// MARK: - The HTTP/2 response sink

extension HTTP2StreamHandler: EdgeResponseSink {
    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }
    var eventLoop: any EventLoop { context!.eventLoop }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var clientFinishedSending: Bool { requestEnded }

    /// The fields every answer carries: date, request id, the route's, HSTS.
    private func closingFields(_ exchange: EdgeExchange, into headers: inout HPACKHeaders) {
        if let route = exchange.route {
            for (name, value) in route.headerFields { headers.add(name: name, value: value) }
        }
        if let rateLimit = exchange.rateLimitState { headers.add(name: "ratelimit", value: rateLimit) }
        if let hsts = exchange.runtime.config.hsts, traits.tlsVersion != nil {
            headers.add(name: "strict-transport-security", value: hsts.value)
        }
        headers.add(name: "date", value: dates.current(epochSeconds: exchange.epochSeconds))
        headers.add(name: "x-request-id", value: exchange.requestID, indexing: .nonIndexable)
    }

    private func writeHead(_ headers: HPACKHeaders, endStream: Bool) {
        responseStarted = true
        context?.write(wrapOutboundOut(.headers(.init(headers: headers, endStream: endStream))), promise: nil)
        needsFlush = true
    }

    private func writeData(_ bytes: ByteBuffer, endStream: Bool, promise: EventLoopPromise<Void>? = nil) {
        context?.write(wrapOutboundOut(.data(.init(data: .byteBuffer(bytes), endStream: endStream))), promise: promise)
        needsFlush = true
    }

    func respond(_ exchange: EdgeExchange, _ head: EdgeResponseHead, body: ByteBuffer?) {
        guard context != nil, !exchange.cancelled, !exchange.responded else { return }
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(head.status))
        for (name, value) in head.fieldsForHTTP2 { headers.add(name: name, value: value) }
        let length = body?.readableBytes ?? 0
        let hasBody = head.status != 304 && head.status != 204
        if hasBody { headers.add(name: "content-length", value: String(length)) }
        closingFields(exchange, into: &headers)
        let sendBody = hasBody && exchange.request.method != "HEAD" && length > 0
        exchange.status = head.status
        exchange.bodyBytes = sendBody ? length : 0
        writeHead(headers, endStream: !sendBody)
        if sendBody, let body { writeData(body, endStream: true) }
        flushSoon()
        completed(exchange)
    }

    func respondCachedFile(_ exchange: EdgeExchange, _ representation: StaticRepresentation, contents: ByteBuffer) {
        guard context != nil, !exchange.cancelled, !exchange.responded else { return }
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: "200")
        for (name, value) in representation.okFields { headers.add(name: name, value: value) }
        closingFields(exchange, into: &headers)
        let sendBody = exchange.request.method != "HEAD" && contents.readableBytes > 0
        exchange.status = 200
        exchange.bodyBytes = sendBody ? representation.size : 0
        writeHead(headers, endStream: !sendBody)
        if sendBody { writeData(contents, endStream: true) }
        flushSoon()
        completed(exchange)
    }

    func respondFile(_ exchange: EdgeExchange, _ head: EdgeResponseHead, file: FileBody) {
        guard let context, !exchange.cancelled, !exchange.responded else {
            if case .disk(let handle) = file.source { try? handle.close() }
            return
        }
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(head.status))
        for (name, value) in head.fieldsForHTTP2 { headers.add(name: name, value: value) }
        let length = file.length
        headers.add(name: "content-length", value: String(length))
        closingFields(exchange, into: &headers)
        let sendBody = exchange.request.method != "HEAD" && length > 0
        exchange.status = head.status
        exchange.bodyBytes = sendBody ? length : 0
        writeHead(headers, endStream: !sendBody)
        guard sendBody else {
            if case .disk(let handle) = file.source { try? handle.close() }
            flushSoon()
            completed(exchange)
            return
        }
        switch file.source {
        case .memory(let contents):
            var out = context.channel.allocator.buffer(capacity: length)
            for (index, range) in file.ranges.enumerated() {
                if var partHead = file.multipart?.partHeads[index] { out.writeBuffer(&partHead) }
                var slice = contents.getSlice(at: contents.readerIndex + range.lowerBound, length: range.count)!
                out.writeBuffer(&slice)
            }
            if var closing = file.multipart?.closing { out.writeBuffer(&closing) }
            writeData(out, endStream: true)
            flushSoon()
            completed(exchange)
        case .disk(let handle):
            flushSoon()
            let loop = context.eventLoop
            FileStreamer.stream(
                handle, file: file, fileIO: exchange.runtime.files.fileIO, eventLoop: loop,
                allocator: context.channel.allocator
            ) { [weak self] chunk in
                guard let self, let context = self.context else {
                    return loop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                let written = loop.makePromise(of: Void.self)
                context.writeAndFlush(self.wrapOutboundOut(.data(.init(data: .byteBuffer(chunk)))), promise: written)
                return written.futureResult
            }.assumeIsolated().whenComplete { [weak self] result in
                guard let self, let context = self.context else { return }
                switch result {
                case .success:
                    self.writeData(context.channel.allocator.buffer(capacity: 0), endStream: true)
                    self.flushIfNeeded()
                    self.completed(exchange)
                case .failure:
                    self.abort(exchange)
                }
            }
        }
    }

    func sendContinue(_ exchange: EdgeExchange) {
        guard context != nil, !exchange.cancelled else { return }
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: "100")
        context?.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        needsFlush = true
        flushSoon()
    }

    func startResponse(_ exchange: EdgeExchange, _ response: ProxiedResponseHead) {
        guard context != nil, !exchange.cancelled else { return }
        let upstream = response.upstream
        let fields = upstream.headers
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(upstream.status))
        let options = ConnectionOptions(fields)
        let routeNames = response.routeHeaderNames
        for index in 0..<fields.count {
            if HopByHopFields.isHopByHop(fields, at: index, options: options) { continue }
            switch fields.knownTag(at: index) {
            case KnownHeader.contentLength.rawValue, KnownHeader.requestID.rawValue:
                continue
            default:
                break
            }
            if !routeNames.isEmpty, routeNames.contains(where: { fields.nameEquals(index, $0) }) { continue }
            headers.add(name: fields.name(at: index).lowercased(), value: fields.value(at: index))
        }
        if let length = upstream.contentLength, !response.bodyless || exchange.request.method == "HEAD" {
            headers.add(name: "content-length", value: String(length))
        }
        for (name, value) in response.cors { headers.add(name: name.lowercased(), value: value) }
        closingFields(exchange, into: &headers)
        exchange.status = upstream.status
        writeHead(headers, endStream: response.bodyless)
    }

    func writeBody(_ exchange: EdgeExchange, _ bytes: ByteBuffer) {
        guard context != nil, !exchange.cancelled else { return }
        writeData(bytes, endStream: false)
    }

    func endResponse(_ exchange: EdgeExchange) {
        guard let context, !exchange.cancelled else { return }
        if responseStarted && exchange.request.method != "HEAD" && !isBodyless(exchange.status) {
            writeData(context.channel.allocator.buffer(capacity: 0), endStream: true)
        }
        flushSoon()
        completed(exchange)
    }

    private func isBodyless(_ status: Int) -> Bool { status == 204 || status == 304 || status < 200 }

    func abort(_ exchange: EdgeExchange) {
        exchange.keepAlive = false
        finish(exchange)
        // RST_STREAM: the client learns the answer was cut short; the connection's other streams go on.
        context?.close(promise: nil)
    }

    func startTunnel(_ exchange: EdgeExchange) -> ByteBuffer? {
        // Upgrades are HTTP/1.1 only (see ``UpstreamRequestHead/upgradeProtocols(_:allowed:)``).
        nil
    }

    func writeTunnel(_ exchange: EdgeExchange, _ bytes: ByteBuffer) {}

    func flushSoon() {
        guard !inReadBurst else {
            needsFlush = true
            return
        }
        flushIfNeeded()
    }

    private func flushIfNeeded() {
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
    }

    func requestDemandChanged(_ exchange: EdgeExchange) {
        guard heldRead, let context, exchange.wantsClientBytes else { return }
        heldRead = false
        context.read()
    }

    func armTimer(_ exchange: EdgeExchange, at deadline: NIODeadline) {
        guard let context, timer == nil || deadline < timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.timer = nil
            guard let proxy = self.exchange?.proxy else { return }
            let stalled = self.context?.channel.isWritable == false ? self.lastWriteProgress : nil
            proxy.timerFired(
                now: .now(), clientStalledSince: stalled, clientIdleTimeout: self.source.current.idleTimeout)
        }
    }
}
