import Logging
import NIOCore
import PierCore
import Synchronization

/// One proxied exchange: carries out ``ProxyExchangeStateMachine``'s decisions between the client side (an
/// ``EdgeExchange`` and its ``EdgeResponseSink``) and an ``UpstreamConnection`` on the same event loop, like the
/// paired glue handlers of a proxy: each side's writability holds the other side's reads (back-pressure both ways).
final class ProxyExchange: UpstreamConnectionOwner {
    let exchange: EdgeExchange
    let config: ProxyRouteConfig
    let pool: UpstreamPool
    let cors: [(String, String)]
    let routeHeaderNames: [String]
    /// Whether the route compresses answers.
    let compress: Bool
    /// Compresses the answer's body on its way to the client, when the answer is compressed.
    private var encoder: ContentEncoder?
    /// The upstream request head; without its final empty line when a Host line must follow per target.
    let requestHead: ByteBuffer
    let needsHost: Bool
    let upgradeProtocols: String?
    let chunkedBody: Bool
    let hashKey: String?
    var machine: ProxyExchangeStateMachine

    private(set) var target: UpstreamTarget?
    private(set) var connection: UpstreamConnection?
    private var upstreamNeedsFlush = false

    private init(
        exchange: EdgeExchange, route: EdgeRuntime.Route, config: ProxyRouteConfig, pool: UpstreamPool,
        path: RequestPath
    ) {
        let request = exchange.request
        let upgrade = UpstreamRequestHead.upgradeProtocols(request, allowed: config.upgrades)
        self.exchange = exchange
        self.config = config
        self.pool = pool
        self.cors = route.cors?.responseHeaders(origin: request.headers.first(.origin)) ?? []
        self.routeHeaderNames = route.headerNames
        self.compress = route.compress
        (self.requestHead, self.needsHost) = UpstreamRequestHead.make(
            exchange, route: route, path: path, config: config, upgrade: upgrade)
        self.upgradeProtocols = upgrade
        self.chunkedBody = request.framing == .chunked
        self.hashKey = Self.hashKey(exchange, pool.config.hashOn, balance: pool.config.balance)
        self.machine = ProxyExchangeStateMachine(
            request: .init(
                idempotent: Self.isIdempotent(request.method), hasBody: request.hasBody, upgrade: upgrade != nil),
            retries: config.retries, timeouts: config.timeouts, upstreamName: pool.name, now: .now())
    }

    /// Starts proxying an exchange on a proxy route.
    static func start(_ exchange: EdgeExchange, route: EdgeRuntime.Route, config: ProxyRouteConfig, path: RequestPath) {
        guard let pool = exchange.runtime.upstreams[config.upstream] else {
            EdgeResponder.problem(
                exchange, status: 502, code: "no_upstream", detail: "the route's upstream is not defined")
            return
        }
        let proxy = ProxyExchange(exchange: exchange, route: route, config: config, pool: pool, path: path)
        exchange.proxy = proxy
        pool.countRequest()
        if exchange.request.expectsContinue {
            // The edge takes the body whatever the upstream will say (RFC 9110 §10.1.1): the client is not kept
            // waiting for a connection to a target.
            exchange.sink.sendContinue(exchange)
        }
        proxy.attempt()
    }

    /// RFC 9110 §9.2.2.
    static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE": true
        default: false
        }
    }

    static func hashKey(_ exchange: EdgeExchange, _ key: UpstreamConfig.HashKey, balance: UpstreamConfig.Balance)
        -> String?
    {
        guard balance == .hash else { return nil }
        return exchange.keyValue(key)
    }

    // MARK: - State the client side reads

    /// Whether the client's request bytes should be read now (body forwarding, or a tunnel).
    var wantsClientBytes: Bool {
        guard let connection, connection.isWritable else { return false }
        return machine.phase == .tunnel || !machine.requestEnded
    }

    var isTunnel: Bool { machine.phase == .tunnel }
    var requestEnded: Bool { machine.requestEnded }
    var isUpgrade: Bool { upgradeProtocols != nil }

    // MARK: - Attempts

    /// Sends the request to the next target, or answers with the failure when none is left.
    func attempt() {
        let now = NIODeadline.now()
        let nowNanos = Int64(now.uptimeNanoseconds)
        let action = machine.nextAttempt(now: now) { excluded in
            pool.pick(hashKey: hashKey, excluded: excluded, now: nowNanos)
        }
        switch action {
        case .fail(let failure):
            fail(failure)
        case .use(let index, let fresh):
            let target = pool.targets[index]
            self.target = target
            target.inFlight.add(1, ordering: .relaxed)
            target.requests.add(1, ordering: .relaxed)
            let loop = exchange.sink.eventLoop
            if !fresh, let connection = target.pool(on: loop).take() {
                connected(connection, reused: true)
                return
            }
            armTimer()
            let attemptID = machine.attemptID
            UpstreamConnector.connect(to: target, on: loop, timeout: TimeAmount(config.timeouts.connect)) {
                UpstreamConnection(target: target)
            }.assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel):
                    let connection = try? channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
                    guard let connection, self.machine.attemptID == attemptID, self.machine.phase == .connecting,
                        !self.exchange.cancelled
                    else {
                        channel.close(promise: nil)
                        return
                    }
                    self.connected(connection, reused: false)
                case .failure(let error):
                    guard self.machine.attemptID == attemptID, self.machine.phase == .connecting else { return }
                    target.recordFailure("connect failed: \(error)")
                    self.attemptFailed(
                        .connectFailure,
                        .init(
                            status: 502, code: "upstream_connect_failed",
                            detail: "the upstream target could not be connected to"))
                }
            }
        }
    }

    /// Sends the request head (and whatever body is buffered) on a connection.
    private func connected(_ connection: UpstreamConnection, reused: Bool) {
        connection.owner = self
        connection.requestMethod = exchange.request.method
        connection.uses += 1
        self.connection = connection
        machine.connected(reused: reused, now: .now())
        connection.write(requestHead)
        if needsHost, let target {
            // Only HTTP/1.0 clients may leave Host out; the target's address stands in.
            var host = exchange.sink.allocator.buffer(capacity: 64)
            host.writeString("Host: \(target.address)\r\n\r\n")
            connection.write(host)
        }
        upstreamNeedsFlush = true
        if machine.requestEnded && chunkedBody {
            // Only on a retry of a request whose (empty) chunked body already ended.
            writeLastChunk()
        }
        armTimer()
        // Whatever part of the request is buffered goes out now.
        exchange.sink.requestDemandChanged(exchange)
        flushUpstream()
    }

    private func attemptFailed(_ condition: RetryConfig.Condition, _ failure: ProxyExchangeStateMachine.Failure) {
        releaseTarget(reuse: false)
        apply(machine.attemptFailed(condition, failure, budget: pool.allowRetry))
    }

    private func apply(_ action: ProxyExchangeStateMachine.FailureAction) {
        switch action {
        case .retry: attempt()
        case .fail(let failure): fail(failure)
        case .abortClient: abortClient()
        case .endTunnel: endTunnel()
        }
    }

    /// Answers with a problem document and ends the proxied exchange.
    private func fail(_ failure: ProxyExchangeStateMachine.Failure) {
        machine.cancel()
        releaseTarget(reuse: false)
        exchange.proxy = nil
        if exchange.request.hasBody && !exchange.requestEnded {
            // The rest of the body will not be read: the connection cannot carry another request.
            exchange.keepAlive = false
        }
        EdgeResponder.problem(
            exchange, status: failure.status, code: failure.code, detail: failure.detail,
            extra: (failure.retryAfter ? [("Retry-After", "1")] : []) + cors)
    }

    /// Gives the connection back to its pool (or closes it) and the target's in-flight slot.
    private func releaseTarget(reuse: Bool) {
        if let connection {
            self.connection = nil
            if reuse, let target, let loop = connection.channel?.eventLoop {
                target.pool(on: loop).release(connection)
            } else {
                connection.close()
            }
        }
        if let target {
            self.target = nil
            target.inFlight.add(-1, ordering: .relaxed)
        }
    }

    // MARK: - Client side: request body, tunnel, failures

    /// Request body bytes from the client.
    func clientBody(_ bytes: ByteBuffer) {
        guard let connection else { return }
        machine.activity(now: .now())
        if chunkedBody {
            Self.writeChunk(bytes, allocator: exchange.sink.allocator, connection.write)
        } else {
            connection.write(bytes)
        }
        upstreamNeedsFlush = true
    }

    /// The client's request body ended.
    func clientEnded() {
        machine.requestBodyEnded(now: .now())
        if chunkedBody, connection != nil {
            writeLastChunk()
        }
    }

    private func writeLastChunk() {
        var last = exchange.sink.allocator.buffer(capacity: 5)
        last.writeStaticString("0\r\n\r\n")
        connection?.write(last)
        upstreamNeedsFlush = true
    }

    /// Bytes the client sent inside a tunnel.
    func clientTunnelBytes(_ bytes: ByteBuffer) {
        guard let connection else { return }
        machine.activity(now: .now())
        connection.write(bytes)
        upstreamNeedsFlush = true
    }

    /// Flushes what was written to the upstream during the client's read burst.
    func flushUpstream() {
        guard upstreamNeedsFlush else { return }
        upstreamNeedsFlush = false
        connection?.flush()
    }

    /// The client went away, closed its side of a tunnel, or sent something unparseable mid-exchange.
    func cancel() {
        machine.cancel()
        releaseTarget(reuse: false)
        exchange.proxy = nil
    }

    /// The client takes bytes again: what the upstream sends next goes out now.
    func clientBecameWritable() {
        connection?.resumeReads()
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

    // MARK: - Upstream side

    func upstream(_ connection: UpstreamConnection, event: HTTP1ResponseParser.Event) {
        guard self.connection === connection, !exchange.cancelled else {
            connection.close()
            return
        }
        machine.activity(now: .now())
        switch event {
        case .head(let response):
            if response.status >= 500 {
                target?.recordFailure("status \(response.status)")
            } else if response.status == 101 && !isUpgrade {
                target?.recordFailure("101 without an upgrade")
            } else {
                target?.recordSuccess()
            }
            switch machine.responseHead(status: response.status, budget: pool.allowRetry) {
            case .retry:
                // The answer is dropped with its connection; the next target gets the request.
                releaseTarget(reuse: false)
                attempt()
            case .fail(let failure):
                releaseTarget(reuse: false)
                fail(failure)
            case .forward:
                forwardHead(response)
            }
        case .body(let bytes):
            if let encoder {
                var compressed = exchange.sink.allocator.buffer(capacity: bytes.readableBytes / 2 + 64)
                do {
                    try encoder.compress(bytes, into: &compressed)
                } catch {
                    exchange.runtime.logger.error(
                        "an answer could not be compressed", metadata: ["pier.error": "\(error)"])
                    machine.cancel()
                    abortClient()
                    return
                }
                guard compressed.readableBytes > 0 else { return }
                exchange.bodyBytes += compressed.readableBytes
                exchange.sink.writeBody(exchange, compressed)
            } else {
                exchange.bodyBytes += bytes.readableBytes
                exchange.sink.writeBody(exchange, bytes)
            }
            if !exchange.sink.isWritable { connection.pauseReads() }
        case .end:
            if let encoder {
                self.encoder = nil
                var last = exchange.sink.allocator.buffer(capacity: 64)
                if (try? encoder.finish(into: &last)) == nil {
                    machine.cancel()
                    abortClient()
                    return
                }
                exchange.bodyBytes += last.readableBytes
                exchange.sink.writeBody(exchange, last)
            }
            finish()
        }
    }

    private func forwardHead(_ response: UpstreamResponseHead) {
        let status = response.status
        let switched = status == 101 && isUpgrade
        let contentType = response.headers.first(.contentType)
        let eventStream =
            contentType.map { HTTPToken.containsCaseInsensitive($0, lowercaseNeedle: "text/event-stream") } ?? false
        machine.responseStarted(switched: switched, eventStream: eventStream, now: .now())
        if !machine.requestEnded && exchange.request.hasBody {
            // The upstream answered before the whole body arrived; the rest will not be read.
            exchange.keepAlive = false
        }
        let method = exchange.request.method
        let bodyless = method == "HEAD" || status == 204 || status == 304 || status < 200
        var response = response
        var added = cors
        var dropped = routeHeaderNames
        if compress, !switched, !eventStream,
            let plan = ResponseCompression.plan(
                acceptEncoding: exchange.request.headers.first(.acceptEncoding), status: status,
                contentType: contentType, headers: response.headers, contentLength: response.contentLength)
        {
            if !ResponseCompression.varyCovers(response.headers) { added.append(("Vary", "Accept-Encoding")) }
            if let coding = plan.coding {
                do {
                    if !bodyless {
                        encoder = try ContentEncoder(coding, effort: .streaming, sizeHint: response.contentLength)
                    }
                    added.append(("Content-Encoding", coding.rawValue))
                    response.contentLength = nil
                    if let weak = plan.weakETag {
                        dropped.append("etag")
                        added.append(("ETag", weak))
                    }
                } catch {
                    // Sent as it is: a compressor that cannot start is no reason to fail the answer.
                    exchange.runtime.logger.warning(
                        "a compressor could not start", metadata: ["pier.error": "\(error)"])
                }
            }
        }
        exchange.sink.startResponse(
            exchange,
            ProxiedResponseHead(
                upstream: response, cors: added, routeHeaderNames: dropped,
                switchedTo: switched ? (response.headers.first(.upgrade) ?? upgradeProtocols) : nil,
                bodyless: bodyless))
        if switched {
            if let bytes = exchange.sink.startTunnel(exchange), bytes.readableBytes > 0 {
                // Bytes the client sent after its request head belong to the new protocol.
                connection?.write(bytes)
                connection?.flush()
            }
            if exchange.sink.clientFinishedSending {
                // The client closed its sending side before the switch: the answer goes out, then both
                // connections close.
                machine.cancel()
                endTunnel()
                return
            }
            exchange.sink.requestDemandChanged(exchange)
        }
        armTimer()
    }

    func upstream(_ connection: UpstreamConnection, tunnelled bytes: ByteBuffer) {
        guard self.connection === connection, !exchange.cancelled else {
            connection.close()
            return
        }
        machine.activity(now: .now())
        exchange.bodyBytes += bytes.readableBytes
        exchange.sink.writeTunnel(exchange, bytes)
        if !exchange.sink.isWritable { connection.pauseReads() }
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        // Every burst from the upstream reaches the client at once: events of a stream are never held back.
        exchange.sink.flushSoon()
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        guard self.connection === connection, wantsClientBytes else { return }
        exchange.sink.requestDemandChanged(exchange)
        flushUpstream()
    }

    func upstream(_ connection: UpstreamConnection, failed error: HTTPParseError?) {
        guard self.connection === connection else { return }
        switch machine.phase {
        case .connecting, .awaitingResponse:
            target?.recordFailure(error.map { "invalid response: \($0.reason)" } ?? "connection closed")
            releaseTarget(reuse: false)
            apply(machine.upstreamClosed(error: error, budget: pool.allowRetry))
        case .streamingResponse:
            // The head is out: a cut-short body can only be signalled by closing.
            target?.recordFailure("response cut short")
            apply(machine.upstreamClosed(error: error, budget: pool.allowRetry))
        case .tunnel, .finished:
            apply(machine.upstreamClosed(error: error, budget: pool.allowRetry))
        }
    }

    /// The exchange completed normally.
    private func finish() {
        let reusable =
            machine.requestEnded && (connection?.isOpen ?? false) && !isUpgrade
            && (connection?.parser.isIdle ?? false) && connection?.pending == nil
        machine.responseEnded()
        releaseTarget(reuse: reusable)
        exchange.proxy = nil
        if !machine.requestEnded { exchange.keepAlive = false }
        exchange.sink.endResponse(exchange)
    }

    /// Ends the exchange by closing both connections.
    private func abortClient() {
        releaseTarget(reuse: false)
        exchange.proxy = nil
        exchange.keepAlive = false
        exchange.sink.abort(exchange)
    }

    /// A tunnel closed from the upstream: the client connection closes once what was written to it has gone out.
    private func endTunnel() {
        releaseTarget(reuse: false)
        exchange.proxy = nil
        exchange.keepAlive = false
        exchange.sink.endResponse(exchange)
    }

    // MARK: - Timeouts

    func armTimer() {
        exchange.sink.armTimer(exchange, at: machine.deadline ?? NIODeadline.now() + .seconds(60))
    }

    /// The exchange's deadline may have passed. `clientStalledSince`: when the client last took bytes, if it does
    /// not take them now.
    func timerFired(now: NIODeadline, clientStalledSince: NIODeadline?, clientIdleTimeout: TimeAmount) {
        let action = machine.timerFired(
            now: now, clientStalledSince: clientStalledSince, clientIdleTimeout: clientIdleTimeout,
            budget: pool.allowRetry)
        switch action {
        case .wait:
            armTimer()
        case .timedOut(let failure):
            target?.recordFailure("timeout")
            releaseTarget(reuse: false)
            apply(failure)
            if exchange.proxy === self { armTimer() }
        case .abort:
            abortClient()
        }
    }
}
