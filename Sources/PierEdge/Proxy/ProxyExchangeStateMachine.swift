import NIOCore
import PierCore

/// The decisions of one proxied exchange, apart from any channel: which attempt comes next, whether a failure is
/// retried, what the client gets when nothing succeeds, and when each phase times out.
///
/// Pure: it is told what happened (with the time, and whether the retry budget has room) and answers with what to
/// do; ``ProxyExchange`` carries that out on the connections. Tested directly, without sockets.
struct ProxyExchangeStateMachine {
    enum Phase: Equatable {
        /// Waiting for a connection to a target.
        case connecting
        /// The request head went out; its body may still be streaming; no response head yet.
        case awaitingResponse
        /// The response head went to the client; its body is streaming.
        case streamingResponse
        /// After 101 Switching Protocols: bytes flow both ways unparsed.
        case tunnel
        /// Answered, failed or aborted.
        case finished
    }

    /// What the client gets when no attempt succeeds.
    struct Failure: Equatable {
        var status: Int
        var code: String
        var detail: String
        var retryAfter = false
    }

    /// What the request is, for the retry rules.
    struct Request {
        /// RFC 9110 §9.2.2.
        var idempotent: Bool
        var hasBody: Bool
        /// An upgrade the route allows was asked for.
        var upgrade: Bool
    }

    let request: Request
    let retries: RetryConfig
    let timeouts: ProxyTimeouts
    /// The pool's name, for the problem a client gets when none of its targets is usable.
    let upstreamName: String

    private(set) var phase = Phase.connecting
    private(set) var attempts = 0
    /// The targets (indexes into the pool) tried so far.
    private(set) var tried: [Int] = []
    /// Distinguishes the current attempt from the callbacks of an abandoned one.
    private(set) var attemptID = 0
    /// The whole request body went upstream (or there was none).
    private(set) var requestEnded: Bool
    /// The current attempt runs on a connection from the idle pool, which the target may have closed meanwhile.
    private(set) var reusedConnection = false
    /// A stale pooled connection was replaced once without counting as an attempt.
    private(set) var replacedStaleConnection = false
    /// The next attempt goes to this target on a new connection, instead of one the balancer picks.
    private(set) var freshConnectionTo: Int?
    /// SSE answers and tunnels wait without an idle timeout unless `stream_idle` is set.
    private(set) var streaming = false
    private(set) var lastActivity: NIODeadline
    private(set) var lastFailure = Failure(
        status: 502, code: "upstream_unavailable", detail: "no upstream target could be reached")

    init(request: Request, retries: RetryConfig, timeouts: ProxyTimeouts, upstreamName: String, now: NIODeadline) {
        self.request = request
        self.retries = retries
        self.timeouts = timeouts
        self.upstreamName = upstreamName
        self.requestEnded = !request.hasBody
        self.lastActivity = now
    }

    // MARK: - Attempts

    enum AttemptAction: Equatable {
        /// Send the request to this target; `fresh`: on a new connection, not an idle one.
        case use(target: Int, fresh: Bool)
        case fail(Failure)
    }

    /// Starts the next attempt: `pick` is the balancer, given the targets to leave out.
    mutating func nextAttempt(now: NIODeadline, pick: (_ excluded: [Int]) -> Int?) -> AttemptAction {
        let fresh = freshConnectionTo
        freshConnectionTo = nil
        guard attempts < retries.attempts, let index = fresh ?? pick(tried) else {
            phase = .finished
            if tried.isEmpty { return .fail(noTarget) }
            return .fail(lastFailure)
        }
        attempts += 1
        tried.append(index)
        phase = .connecting
        lastActivity = now
        attemptID &+= 1
        return .use(target: index, fresh: fresh != nil)
    }

    /// What a pool without a usable target answers (503 at once, never a hang).
    var noTarget: Failure {
        Failure(
            status: 503, code: "no_healthy_upstream", detail: "no target of upstream \"\(upstreamName)\" is healthy",
            retryAfter: true)
    }

    /// The request head went out on a connection.
    mutating func connected(reused: Bool, now: NIODeadline) {
        reusedConnection = reused
        phase = .awaitingResponse
        lastActivity = now
    }

    /// Bytes moved (either way): the idle and response timeouts count from now.
    mutating func activity(now: NIODeadline) {
        lastActivity = now
    }

    /// The client's request body ended (and went upstream).
    mutating func requestBodyEnded(now: NIODeadline) {
        requestEnded = true
        lastActivity = now
    }

    enum FailureAction: Equatable {
        /// Try again (``nextAttempt(now:pick:)``).
        case retry
        /// Answer the client with this problem.
        case fail(Failure)
        /// Part of the answer went out: the client can only learn of the failure by the connection closing.
        case abortClient
        /// A tunnel ended.
        case endTunnel
    }

    /// Whether a failed attempt may be repeated on another target; takes a retry from the budget if so.
    private func mayRetry(after condition: RetryConfig.Condition, budget: () -> Bool) -> Bool {
        // A connect failure never reached the target, so any request may go elsewhere; after sending, only a
        // repeatable request without a body (which would be gone) may.
        let repeatable = condition == .connectFailure || (request.idempotent && !request.hasBody)
        return repeatable && retries.on.contains(condition) && attempts < retries.attempts && budget()
    }

    /// An attempt failed before any response reached the client: retry elsewhere if allowed, else answer.
    mutating func attemptFailed(
        _ condition: RetryConfig.Condition, _ failure: Failure, budget: () -> Bool
    ) -> FailureAction {
        lastFailure = failure
        phase = .connecting
        if mayRetry(after: condition, budget: budget) { return .retry }
        phase = .finished
        return .fail(failure)
    }

    /// The upstream connection closed (`error` says why when its answer was malformed).
    mutating func upstreamClosed(error: HTTPParseError?, budget: () -> Bool) -> FailureAction {
        switch phase {
        case .connecting, .awaitingResponse:
            if let error {
                return attemptFailed(
                    .reset, Failure(status: 502, code: error.code, detail: error.reason), budget: budget)
            }
            if reusedConnection && !replacedStaleConnection && request.idempotent && !request.hasBody
                && phase == .awaitingResponse
            {
                // An idle connection the target closed (or lost, when it died) just as it was taken: the request
                // goes out again to the same target on a new connection, once, without counting as an attempt or
                // against the budget. A target that is gone then fails to connect, which is retried elsewhere.
                replacedStaleConnection = true
                attempts -= 1
                freshConnectionTo = tried.removeLast()
                phase = .connecting
                return .retry
            }
            return attemptFailed(
                .reset,
                Failure(
                    status: 502, code: "upstream_reset", detail: "the upstream closed the connection before answering"),
                budget: budget)
        case .streamingResponse:
            phase = .finished
            return .abortClient
        case .tunnel:
            phase = .finished
            return .endTunnel
        case .finished:
            return .endTunnel
        }
    }

    enum HeadAction: Equatable {
        /// Send this answer to the client.
        case forward
        /// Drop it with its connection; the next target gets the request.
        case retry
        /// The answer cannot be forwarded.
        case fail(Failure)
    }

    /// A response head arrived.
    mutating func responseHead(status: Int, budget: () -> Bool) -> HeadAction {
        if status == 101 && !request.upgrade {
            // Switching protocols on a request that asked for no (allowed) upgrade would open a tunnel past routing
            // and logging: the answer is refused.
            let failure = Failure(
                status: 502, code: "invalid_upstream_response",
                detail: "the upstream switched protocols without being asked to")
            switch attemptFailed(.reset, failure, budget: { false }) {
            case .fail(let failure): return .fail(failure)
            default: return .fail(failure)
            }
        }
        if phase == .awaitingResponse, status >= 500, mayRetry(after: .status(status), budget: budget) {
            lastFailure = Failure(status: status, code: "upstream_error", detail: "the upstream answered \(status)")
            phase = .connecting
            return .retry
        }
        return .forward
    }

    /// The head went to the client: `switched` after a 101, `eventStream` for `text/event-stream` answers.
    mutating func responseStarted(switched: Bool, eventStream: Bool, now: NIODeadline) {
        phase = switched ? .tunnel : .streamingResponse
        streaming = switched || eventStream
        lastActivity = now
    }

    /// The answer is complete.
    mutating func responseEnded() {
        phase = .finished
    }

    /// The client went away, or the exchange was abandoned.
    mutating func cancel() {
        phase = .finished
    }

    // MARK: - Timeouts

    /// The moment the current phase times out, or `nil` for none.
    var deadline: NIODeadline? {
        switch phase {
        case .connecting:
            // The connect timeout is the bootstrap's; this only guards against a lost callback.
            return lastActivity + TimeAmount(timeouts.connect) + .seconds(1)
        case .awaitingResponse:
            return lastActivity + TimeAmount(timeouts.response)
        case .streamingResponse:
            if streaming { return timeouts.streamIdle.map { lastActivity + TimeAmount($0) } }
            return lastActivity + TimeAmount(timeouts.idle)
        case .tunnel:
            return timeouts.streamIdle.map { lastActivity + TimeAmount($0) }
        case .finished:
            return nil
        }
    }

    enum TimerAction: Equatable {
        /// Not yet: look again at this moment (or never, for `nil`).
        case wait(NIODeadline?)
        /// The response did not come in time: retry or answer 504.
        case timedOut(FailureAction)
        /// A body or tunnel went silent: close both sides.
        case abort
    }

    /// The connection's timer fired. `clientStalledSince` is when the client last took bytes, if it is not
    /// taking them now: a slow reader is the client's idle timeout's business, not the upstream's.
    mutating func timerFired(
        now: NIODeadline, clientStalledSince: NIODeadline?, clientIdleTimeout: TimeAmount, budget: () -> Bool
    ) -> TimerAction {
        guard let deadline, deadline <= now else { return .wait(deadline) }
        if let stalled = clientStalledSince, phase == .streamingResponse, now - stalled < clientIdleTimeout {
            lastActivity = stalled
            return .wait(self.deadline)
        }
        switch phase {
        case .connecting, .awaitingResponse:
            let failure = Failure(
                status: 504, code: "upstream_timeout",
                detail: "the upstream did not answer within \(ConfigDuration.format(timeouts.response))")
            return .timedOut(attemptFailed(.timeout, failure, budget: budget))
        case .streamingResponse, .tunnel:
            phase = .finished
            return .abort
        case .finished:
            return .wait(nil)
        }
    }
}
