import Logging
import NIOCore
import PierCore

/// Sent down a connection's pipeline when the server shuts down: finish the current exchange, then close.
struct EdgeShouldCloseEvent: Sendable {}

/// Serves one HTTP/1.1 connection on its event loop: a thin channel handler that feeds
/// ``HTTP1ConnectionStateMachine`` and carries out its actions, hands each request to the pipeline
/// (``EdgeResponder``), and writes the answers as HTTP/1.1 bytes (its ``EdgeResponseSink`` side).
final class HTTP1Connection: ChannelDuplexHandler, AnsweredInTurn {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let source: EdgeRuntimeSource
    /// The runtime of the current request, refreshed from `source` at a request head when a reload happened.
    private(set) var runtime: EdgeRuntime
    private var runtimeGeneration: Int
    var machine: HTTP1ConnectionStateMachine
    private var timeouts: HTTP1ConnectionStateMachine.Timeouts
    /// The exchange being answered.
    private(set) var exchange: EdgeExchange?
    /// What the exchanges of this connection know of it: scheme, TLS, redirect.
    let traits: ConnectionTraits
    var context: ChannelHandlerContext?
    var requestIDs = RequestIDGenerator()
    let dates = DateHeaderCache()
    private(set) var remoteAddress = "-"
    /// Reads asked for by the channel while the state machine said not to read.
    private var heldRead = false
    /// Writes are waiting for a flush at the end of the current read burst.
    var needsFlush = false
    /// Inside a read burst (a `channelRead` up to its `channelReadComplete`, or an answering turn): writes are
    /// flushed once at its end.
    var inReadBurst = false
    var draining = false
    var closed = false
    /// The answer of the current exchange is re-framed as chunks.
    var chunkedAnswer = false
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    /// The last time the socket drained enough to become writable again.
    private var lastWriteProgress = NIODeadline.now()
    /// Answers the requests of this event loop's turn oldest-first (see ``ServiceOrder``); without one, each
    /// request is answered as soon as it is read.
    private let serviceOrder: ServiceOrder?
    /// When this connection was last answered, in ``ServiceOrder``'s count; 0 before its first answer.
    var answeredTurn: UInt64 = 0
    private var queued = false

    init(source: EdgeRuntimeSource, serviceOrder: ServiceOrder? = nil, traits: ConnectionTraits = .plain) {
        self.source = source
        self.serviceOrder = serviceOrder
        self.traits = traits
        self.runtimeGeneration = source.generation
        let runtime = source.current
        self.runtime = runtime
        self.timeouts = .init(header: runtime.headerTimeout, idle: runtime.idleTimeout)
        self.machine = HTTP1ConnectionStateMachine(limits: runtime.parserLimits, now: .now(), timeouts: timeouts)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
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
        scheduleIfEarlier(machine.deadline)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionLost()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Connection resets and the like: nothing to answer, just close.
        closeNow()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard !closed else { return }
        inReadBurst = true
        if machine.phase == .tunnel {
            exchange?.proxy?.clientTunnelBytes(bytes)
            return
        }
        machine.received(bytes)
        // A new request on an idle connection is answered at the end of the event loop's turn, in the order of
        // ``ServiceOrder``; anything else (a body, a proxied exchange) goes on at once.
        if machine.isBetweenExchanges, let serviceOrder {
            if !queued {
                queued = true
                serviceOrder.enqueue(self, on: context.eventLoop)
            }
            return
        }
        drain()
    }

    /// Called by ``ServiceOrder`` at the end of the turn in which a request was read.
    func answerQueued() {
        queued = false
        guard !closed else { return }
        inReadBurst = true
        drain()
        endReadBurst()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        endReadBurst()
        context.fireChannelReadComplete()
    }

    /// Sends what answering the bytes read wrote, to the upstream and to the client, in one flush each.
    private func endReadBurst() {
        inReadBurst = false
        exchange?.proxy?.flushUpstream()
        flushIfNeeded()
    }

    func read(context: ChannelHandlerContext) {
        if shouldRead {
            context.read()
        } else {
            heldRead = true
        }
    }

    private var shouldRead: Bool {
        let proxy = exchange?.proxy.map {
            HTTP1ConnectionStateMachine.ProxyDemand(wantsBytes: $0.wantsClientBytes, upgrade: $0.isUpgrade)
        }
        return machine.shouldRead(clientWritable: context?.channel.isWritable ?? false, proxy: proxy)
    }

    /// Reads again if a read was held and the state machine now allows it.
    func resumeReadingIfAllowed() {
        guard heldRead, let context, shouldRead else { return }
        heldRead = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        lastWriteProgress = NIODeadline.now()
        if context.channel.isWritable {
            if let proxy = exchange?.proxy {
                // What the upstream sends next goes out now, even if it makes the client unwritable again at once.
                proxy.clientBecameWritable()
                flushIfNeeded()
            }
            if !closed {
                resumeReadingIfAllowed()
                drain()
                flushIfNeeded()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is EdgeShouldCloseEvent {
            if machine.shutdown() == .close { closeAfterWrites() }
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            switch machine.inputEnded() {
            case .closeNow:
                exchange?.proxy?.cancel()
                finishExchange()
                closeNow()
            case .close:
                closeAfterWrites()
            case .drain:
                drain()
            case .none:
                break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: - The parsing loop

    private var bodyAccepted: Bool {
        guard let exchange else { return true }
        // Bodies sent to routes the edge answers itself are read and dropped.
        return exchange.wantsClientBytes
    }

    /// Carries out the state machine's actions until it waits.
    func drain() {
        guard !draining, let context else { return }
        draining = true
        defer { draining = false }
        // One clock read for the whole loop: its steps take microseconds, and deadlines are whole milliseconds.
        let now = NIODeadline.now()
        while !closed {
            let action = machine.next(
                bodyAccepted: bodyAccepted, clientWritable: context.channel.isWritable, now: now, timeouts: timeouts)
            switch action {
            case .startExchange(let head):
                startExchange(head, now: now)
            case .body(let bytes):
                exchange?.proxy?.clientBody(bytes)
            case .requestEnded:
                exchange?.proxy?.clientEnded()
                exchange?.requestDidEnd()
            case .finishExchange(let close):
                finishExchange()
                if close { closeAfterWrites() }
            case .refuse(let error):
                refuse(error)
            case .close:
                closeAfterWrites()
            case .wait:
                scheduleIfEarlier(machine.deadline)
                if !inReadBurst {
                    // Drained after an answer, an upstream event or a writability change: what that wrote goes out
                    // now rather than at the end of a read burst that is not happening.
                    exchange?.proxy?.flushUpstream()
                    flushIfNeeded()
                }
                return
            }
        }
    }

    private func startExchange(_ head: HTTP1RequestHead, now: NIODeadline) {
        let generation = source.generation
        if generation != runtimeGeneration {
            // A reload: this request uses the new routes, the next one is also parsed with the new limits.
            runtimeGeneration = generation
            runtime = source.current
            timeouts = .init(header: runtime.headerTimeout, idle: runtime.idleTimeout)
            machine.updateLimits(runtime.parserLimits)
        }
        var requestID = head.headers.first(.requestID) ?? ""
        if !RequestIDGenerator.isAcceptable(requestID) { requestID = requestIDs.next() }
        let exchange = EdgeExchange(
            request: EdgeRequest(head), runtime: runtime, sink: self, requestID: requestID, start: now,
            remoteAddress: remoteAddress, traits: traits, keepAlive: head.keepAlive && machine.mayKeepAlive)
        self.exchange = exchange
        chunkedAnswer = false
        scheduleIfEarlier(machine.deadline)
        EdgeResponder.handle(exchange)
    }

    /// The answer of the current exchange is complete.
    func responseCompleted(_ exchange: EdgeExchange) {
        guard exchange === self.exchange, !exchange.responded else { return }
        exchange.responded = true
        let action = machine.responseCompleted(keepAlive: exchange.keepAlive, now: .now(), timeouts: timeouts)
        if case .finishExchange(let close) = action {
            finishExchange()
            if close {
                closeAfterWrites()
                return
            }
        }
        if !draining {
            // Finished outside the parsing loop (after the thread pool or an upstream): go on with what is
            // buffered.
            resumeReadingIfAllowed()
            drain()
        }
    }

    /// Logs the current exchange and lets go of it.
    func finishExchange() {
        guard let done = exchange else { return }
        exchange = nil
        if done.status == 0 {
            // The client went away before an answer.
            done.status = 499
        }
        done.record()
    }

    /// Answers a request that could not be parsed, then closes.
    private func refuse(_ error: HTTPParseError) {
        if let exchange {
            exchange.keepAlive = false
            exchange.whenRequestEnds = nil
            if let proxy = exchange.proxy {
                guard proxy.machine.phase == .connecting || proxy.machine.phase == .awaitingResponse else {
                    // Part of the answer went out already: closing is the only signal left.
                    proxy.cancel()
                    finishExchange()
                    closeNow()
                    return
                }
                // Nothing reached the client yet: the upstream connection (which saw a cut-short request) is closed
                // and the client gets the same refusal as on any other route.
                proxy.cancel()
            }
            if exchange.responded || exchange.status != 0 {
                // The answer already went out (a static route answered before the body): just close.
                finishExchange()
                closeAfterWrites()
                return
            }
        } else {
            exchange = EdgeExchange(
                request: EdgeRequest(
                    method: "-", target: "-", version: .http1(minor: 1), headers: .empty, framing: .none,
                    keepAlive: false),
                runtime: runtime, sink: self, requestID: requestIDs.next(), start: .now(), remoteAddress: remoteAddress,
                traits: traits, keepAlive: false)
        }
        runtime.logger.debug(
            "refused a malformed request",
            metadata: ["pier.remote": "\(remoteAddress)", "pier.problem": "\(error.code)"]
        )
        guard let exchange else { return }
        exchange.requestEnded = true
        EdgeResponder.problem(exchange, status: error.status, code: error.code, detail: error.reason)
        // The answer finished the exchange; the state machine closes the connection.
        if self.exchange != nil {
            finishExchange()
        }
        closeAfterWrites()
    }

    // MARK: - Closing

    func closeAfterWrites() {
        guard !closed, let context else { return }
        closed = true
        machine.closed()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(
            wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func closeNow() {
        guard !closed else { return }
        closed = true
        machine.closed()
        context?.close(promise: nil)
    }

    /// The connection closed or failed: whatever is in progress is abandoned and logged.
    private func connectionLost() {
        closed = true
        machine.closed()
        timer?.cancel()
        timer = nil
        if let exchange {
            exchange.cancelled = true
            exchange.proxy?.cancel()
            finishExchange()
        }
    }

    // MARK: - Timeouts

    /// Makes the timer fire no later than `when`. The one timer of the connection serves its own deadlines and a
    /// proxied exchange's; one that fires early re-arms itself, so keep-alive traffic does not schedule a timer per
    /// request.
    func scheduleIfEarlier(_ when: NIODeadline) {
        guard timer == nil || when < timerDeadline, let context else { return }
        timer?.cancel()
        timerDeadline = when
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) {
            self.timer = nil
            self.timerFired()
        }
    }

    private func timerFired() {
        guard !closed, let context else { return }
        let now = NIODeadline.now()
        let stalledSince = context.channel.isWritable ? nil : lastWriteProgress
        if let proxy = exchange?.proxy {
            // A proxied exchange has its own deadlines; the connection's resume when it ends.
            proxy.timerFired(now: now, clientStalledSince: stalledSince, clientIdleTimeout: timeouts.idle)
            return
        }
        switch machine.timerFired(now: now, stalledSince: stalledSince, timeouts: timeouts) {
        case .rearm(let deadline):
            scheduleIfEarlier(deadline)
        case .headerTimeout:
            refuse(
                HTTPParseError(status: 408, code: "header_timeout", reason: "the request head did not arrive in time"))
        case .closeNow:
            if let exchange {
                exchange.cancelled = true
                finishExchange()
            }
            closeNow()
        }
    }
}
