import NIOCore

/// The life of one HTTP/1.1 server connection, apart from the channel: what the received bytes mean (through the
/// request parser), when the next request may start, when the connection stays open or closes, and what its timer
/// means when it fires.
///
/// Pure: ``HTTP1Connection`` feeds it bytes and events and carries out the actions it returns, in the manner of
/// async-http-client's `HTTP1ConnectionStateMachine`. Requests are answered strictly in order: the next request is
/// parsed only once the current one is answered and its body read.
struct HTTP1ConnectionStateMachine {
    enum Phase: Equatable {
        /// Between exchanges: the bytes that arrive start the next request.
        case idle
        /// A request head was handed on; its body may still be arriving, its answer may still be on its way.
        case exchange
        /// After a `101`: the connection is a byte stream to an upstream.
        case tunnel
        /// Nothing more is read or answered; the connection closes once its writes are out.
        case closing
    }

    /// The timeouts of the runtime in force.
    struct Timeouts {
        var header: TimeAmount
        var idle: TimeAmount
    }

    private(set) var phase = Phase.idle
    var parser: HTTP1RequestParser
    /// Received bytes not parsed yet.
    private var buffer: ByteBuffer?
    /// The client closed its sending side; what it sent before is still answered.
    private(set) var inputClosed = false
    private(set) var shutdownRequested = false
    /// The current request's body has been read to its end.
    private(set) var requestEnded = true
    /// The current answer has been written completely.
    private(set) var responded = false
    /// When the connection's own timeout (header or idle) expires.
    private(set) var deadline: NIODeadline

    init(limits: HTTP1RequestParser.Limits, now: NIODeadline, timeouts: Timeouts) {
        self.parser = HTTP1RequestParser(limits: limits)
        // The first request must start arriving within the header timeout.
        self.deadline = now + timeouts.header
    }

    private static let empty = ByteBuffer()

    /// How many received bytes wait to be parsed.
    var bufferedBytes: Int { buffer?.readableBytes ?? 0 }

    /// No exchange is open and nothing of a next request has been read.
    var isBetweenExchanges: Bool { phase == .idle }

    // MARK: - Bytes

    /// Keeps received bytes for parsing.
    mutating func received(_ bytes: ByteBuffer) {
        var bytes = bytes
        if var buffered = buffer.take(), buffered.readableBytes > 0 {
            // Consumed bytes are dropped before appending, so a slow trickle of pipelined requests cannot make the
            // buffer (and the copy on every read) grow with everything ever received.
            if buffered.readerIndex > 4096 { buffered.discardReadBytes() }
            buffered.writeBuffer(&bytes)
            buffer = buffered
        } else {
            buffer = bytes
        }
    }

    enum Action {
        /// A request head arrived: start its exchange.
        case startExchange(HTTP1RequestHead)
        /// Body bytes of the current request.
        case body(ByteBuffer)
        /// The current request's body ended (or it had none).
        case requestEnded
        /// The current exchange is over: log it, then wait for the next request or close.
        case finishExchange(close: Bool)
        /// The bytes are not an acceptable request: answer with this error, then close.
        case refuse(HTTPParseError)
        /// Nothing complete is left and nothing more will come: close once the writes are out.
        case close
        /// Nothing to do until more bytes, an answer or a writability change.
        case wait
    }

    /// The next thing to do with what was received.
    ///
    /// - Parameters:
    ///   - bodyAccepted: whether the current exchange takes body bytes now (a proxy whose upstream is writable).
    ///   - clientWritable: whether the client's socket takes more; no new request starts while it does not, so a
    ///     client that pipelines without reading cannot make the edge queue answers without bound.
    mutating func next(
        bodyAccepted: Bool, clientWritable: Bool, now: NIODeadline, timeouts: Timeouts
    ) -> Action {
        switch phase {
        case .closing, .tunnel:
            return .wait
        case .exchange:
            if requestEnded {
                // The next request waits in the buffer until this one is answered.
                return responded ? finish(now: now, timeouts: timeouts) : .wait
            }
            // A request without a body (or whose last body bytes were just read) owes its end whatever the
            // consumer says.
            guard bodyAccepted || parser.owesEnd else { return .wait }
            return parse(now: now, timeouts: timeouts)
        case .idle:
            guard clientWritable else { return .wait }
            return parse(now: now, timeouts: timeouts)
        }
    }

    private mutating func parse(now: NIODeadline, timeouts: Timeouts) -> Action {
        // The parser is called even without new bytes: it may owe an `.end` for the request just read.
        var bytes = buffer ?? Self.empty
        let event: HTTP1RequestParser.Event?
        do {
            event = try parser.next(&bytes)
        } catch {
            buffer = nil
            phase = .closing
            return .refuse(error)
        }
        buffer = bytes.readableBytes > 0 ? bytes : nil
        switch event {
        case .head(let head):
            phase = .exchange
            requestEnded = false
            responded = false
            deadline = now + timeouts.idle
            return .startExchange(head)
        case .body(let bytes):
            return .body(bytes)
        case .end:
            requestEnded = true
            return .requestEnded
        case nil:
            if phase == .idle {
                if inputClosed {
                    // Nothing complete is left and nothing more will come.
                    phase = .closing
                    return .close
                }
                if !parser.isIdle {
                    // A partial request head: it must complete within header_timeout.
                    deadline = min(deadline, now + timeouts.header)
                }
            }
            return .wait
        }
    }

    /// The current answer went out completely; `keepAlive` is what the exchange settled.
    mutating func responseCompleted(keepAlive: Bool, now: NIODeadline, timeouts: Timeouts) -> Action {
        if phase == .tunnel {
            // A tunnel ends with its connection.
            return finish(close: true, now: now, timeouts: timeouts)
        }
        guard phase == .exchange else { return .wait }
        responded = true
        if !keepAlive || shutdownRequested {
            // What is left of the request body is not read: the connection closes after the answer.
            return finish(close: true, now: now, timeouts: timeouts)
        }
        return requestEnded ? finish(now: now, timeouts: timeouts) : .wait
    }

    private mutating func finish(close: Bool = false, now: NIODeadline, timeouts: Timeouts) -> Action {
        if close || shutdownRequested || (inputClosed && bufferedBytes == 0) {
            phase = .closing
            buffer = nil
            return .finishExchange(close: true)
        }
        phase = .idle
        deadline = now + timeouts.idle
        return .finishExchange(close: false)
    }

    /// Whether the answer being written may say the connection stays open.
    var mayKeepAlive: Bool { !shutdownRequested }

    /// How many bytes of what follows a request are read ahead while its answer is on its way.
    static let maxReadAhead = 64 * 1024

    /// What a proxied exchange in progress wants from the client's side.
    struct ProxyDemand {
        /// It takes request bytes now (body forwarding, or a tunnel).
        var wantsBytes: Bool
        /// An upgrade was asked for: its answer may turn the connection into a tunnel, which must see the
        /// client's bytes (and its close) itself.
        var upgrade: Bool
    }

    /// Whether the client's socket should be read now.
    ///
    /// While proxying, the client is read only as fast as the upstream takes its bytes. Once the request has ended,
    /// reading goes on into the buffer (a pipelined request, or the close of a client that gave up) up to a bound:
    /// stopping and restarting reads for every exchange would cost two `epoll_ctl` calls per request.
    func shouldRead(clientWritable: Bool, proxy: ProxyDemand?) -> Bool {
        switch phase {
        case .closing:
            return false
        case .tunnel:
            return proxy?.wantsBytes ?? false
        case .idle:
            return clientWritable
        case .exchange:
            if let proxy {
                if proxy.wantsBytes { return true }
                return requestEnded && !proxy.upgrade && bufferedBytes < Self.maxReadAhead
            }
            return bufferedBytes < Self.maxReadAhead
        }
    }

    // MARK: - Events

    enum EventAction: Equatable {
        /// Go on parsing what is buffered.
        case drain
        /// Close once the writes are out.
        case close
        /// Close now (a tunnel whose client side ended).
        case closeNow
        case none
    }

    /// The client closed its sending side.
    mutating func inputEnded() -> EventAction {
        if phase == .tunnel {
            phase = .closing
            return .closeNow
        }
        inputClosed = true
        if bufferedBytes == 0 {
            // When nothing else was received, the answer in flight already says what there is to say.
            if phase == .idle {
                phase = .closing
                return .close
            }
            return .none
        }
        return phase == .idle ? .drain : .none
    }

    /// The server shuts down: finish the current exchange, then close.
    mutating func shutdown() -> EventAction {
        shutdownRequested = true
        if phase == .idle && parser.isIdle && bufferedBytes == 0 {
            phase = .closing
            return .close
        }
        return .none
    }

    /// The connection closed or failed.
    mutating func closed() {
        phase = .closing
        buffer = nil
    }

    /// The answer switched protocols: from now on bytes are passed through. Returns what the client sent after its
    /// request head, which belongs to the new protocol.
    mutating func enterTunnel() -> ByteBuffer? {
        phase = .tunnel
        return buffer.take()
    }

    enum TimerAction: Equatable {
        /// Not yet: fire again at this moment.
        case rearm(NIODeadline)
        /// Part of a request head arrived, the rest did not: answer 408 and close.
        case headerTimeout
        /// Idle too long (or a write stalled): close now.
        case closeNow
    }

    /// The connection's timer fired (no proxied exchange is in progress; those have their own deadlines).
    ///
    /// - Parameter stalledSince: when the socket last drained, if it is not writable now: a response still going
    ///   out to a client that keeps reading gets another idle period.
    mutating func timerFired(now: NIODeadline, stalledSince: NIODeadline?, timeouts: Timeouts) -> TimerAction {
        if phase == .closing { return .closeNow }
        if now < deadline { return .rearm(deadline) }
        if let stalledSince, now - stalledSince < timeouts.idle {
            deadline = stalledSince + timeouts.idle
            return .rearm(deadline)
        }
        let partialHead = phase == .idle && !parser.isIdle
        phase = .closing
        buffer = nil
        return partialHead ? .headerTimeout : .closeNow
    }

    /// A reload changed the limits: the next request head is parsed with them.
    mutating func updateLimits(_ limits: HTTP1RequestParser.Limits) {
        parser.limits = limits
    }
}
