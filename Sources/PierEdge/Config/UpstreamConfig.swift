import PierCore

/// A named pool of back-end servers (`upstreams.NAME` in the file).
public struct UpstreamConfig: Sendable, Hashable {
    /// How the next target is chosen.
    public enum Balance: String, Sendable, Hashable, CaseIterable {
        /// Each target in turn, in proportion to its weight.
        case roundRobin = "round_robin"
        /// The target with the fewest requests in flight (relative to its weight).
        case leastRequests = "least_requests"
        /// Two targets at random, the less busy of them ("power of two choices").
        case p2c
        /// Consistent hashing of a request key, so one client keeps reaching the same target.
        case hash
    }

    /// What `balance: hash` hashes.
    public enum HashKey: Sendable, Hashable, CustomStringConvertible {
        case clientIP
        /// A request header, by lower-case name.
        case header(String)
        case cookie(String)

        public var description: String {
            switch self {
            case .clientIP: "client_ip"
            case .header(let name): "header:\(name)"
            case .cookie(let name): "cookie:\(name)"
            }
        }
    }

    public var targets: [UpstreamTargetConfig]
    public var balance: Balance
    public var hashOn: HashKey
    public var healthCheck: HealthCheckConfig?
    public var passive: PassiveHealthConfig
    public var keepalive: KeepaliveConfig
    public var retryBudget: RetryBudgetConfig

    public init(
        targets: [UpstreamTargetConfig],
        balance: Balance = .roundRobin,
        hashOn: HashKey = .clientIP,
        healthCheck: HealthCheckConfig? = nil,
        passive: PassiveHealthConfig = PassiveHealthConfig(),
        keepalive: KeepaliveConfig = KeepaliveConfig(),
        retryBudget: RetryBudgetConfig = RetryBudgetConfig()
    ) {
        self.targets = targets
        self.balance = balance
        self.hashOn = hashOn
        self.healthCheck = healthCheck
        self.passive = passive
        self.keepalive = keepalive
        self.retryBudget = retryBudget
    }
}

/// One back-end server.
public struct UpstreamTargetConfig: Sendable, Hashable {
    public var address: SocketAddressSpec
    /// Its share of requests relative to the other targets (1…100).
    public var weight: Int

    public init(address: SocketAddressSpec, weight: Int = 1) {
        self.address = address
        self.weight = weight
    }
}

/// Active health checks: a GET to each target every `interval`.
public struct HealthCheckConfig: Sendable, Hashable {
    public var path: String
    public var interval: Duration
    public var timeout: Duration
    /// Passing checks in a row that make an unknown or unhealthy target healthy.
    public var healthyThreshold: Int
    /// Failing checks in a row that make a healthy target unhealthy.
    public var unhealthyThreshold: Int
    /// Statuses that count as a pass.
    public var expectStatus: Set<Int>

    public init(
        path: String = "/healthz",
        interval: Duration = .seconds(5),
        timeout: Duration = .seconds(2),
        healthyThreshold: Int = 2,
        unhealthyThreshold: Int = 2,
        expectStatus: Set<Int> = Set(200...299)
    ) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
        self.expectStatus = expectStatus
    }
}

/// Passive health: a target that fails requests in a row is taken out of rotation for a while.
public struct PassiveHealthConfig: Sendable, Hashable {
    /// Connect failures, resets, timeouts or 5xx answers in a row that eject a target; 0 turns ejection off.
    public var consecutiveFailures: Int
    /// How long the first ejection lasts; each further ejection in a row doubles it, up to ten times.
    public var ejectFor: Duration

    public init(consecutiveFailures: Int = 5, ejectFor: Duration = .seconds(10)) {
        self.consecutiveFailures = consecutiveFailures
        self.ejectFor = ejectFor
    }
}

/// Idle connections kept open to each target, per event loop.
public struct KeepaliveConfig: Sendable, Hashable {
    public var maxIdlePerTarget: Int
    public var idleTimeout: Duration

    public init(maxIdlePerTarget: Int = 64, idleTimeout: Duration = .seconds(60)) {
        self.maxIdlePerTarget = maxIdlePerTarget
        self.idleTimeout = idleTimeout
    }
}

/// Bounds retries so a failing pool is not flooded: over any ten seconds, retries may be at most `ratio` of the
/// requests, or `min_per_second` per second, whichever is more.
public struct RetryBudgetConfig: Sendable, Hashable {
    public var ratio: Double
    public var minPerSecond: Int

    public init(ratio: Double = 0.2, minPerSecond: Int = 3) {
        self.ratio = ratio
        self.minPerSecond = minPerSecond
    }
}

/// A route that forwards requests to an upstream pool.
public struct ProxyRouteConfig: Sendable, Hashable {
    /// The name of the pool in `upstreams`.
    public var upstream: String
    public var timeouts: ProxyTimeouts
    public var retries: RetryConfig
    /// Removed from the start of the path before forwarding (`/ws` turns `/ws/chat` into `/chat`).
    public var stripPrefix: String?
    /// Put in front of the (stripped) path before forwarding.
    public var addPrefix: String?
    /// The `Host` sent upstream: the client's (default), or a fixed value.
    public var hostHeader: String?
    /// Whether paths with an encoded slash (`%2F`) are forwarded with it still encoded (`encoded_slashes: pass`)
    /// instead of refused with 400.
    public var passEncodedSlashes: Bool
    /// Whether request fields whose names contain `_` are forwarded (`underscore_headers: pass`). Dropped by default:
    /// back ends that map fields to CGI-style variables read `X_Forwarded_For` as `X-Forwarded-For`.
    public var passUnderscoreHeaders: Bool = false
    /// The protocols (lower case, as in `Upgrade`) a client may switch to through this route; any other `Upgrade`
    /// is removed and the request forwarded as a plain one.
    public var upgrades: [String] = ["websocket"]
    /// Fields written into every request sent upstream, right after `Host` (`set_request_headers`); fields of the
    /// client with the same names are dropped, so a client cannot supply or forge them.
    public var setRequestHeaders: [HeaderField] = []

    public init(
        upstream: String,
        timeouts: ProxyTimeouts = ProxyTimeouts(),
        retries: RetryConfig = RetryConfig(),
        stripPrefix: String? = nil,
        addPrefix: String? = nil,
        hostHeader: String? = nil,
        passEncodedSlashes: Bool = false
    ) {
        self.upstream = upstream
        self.timeouts = timeouts
        self.retries = retries
        self.stripPrefix = stripPrefix
        self.addPrefix = addPrefix
        self.hostHeader = hostHeader
        self.passEncodedSlashes = passEncodedSlashes
    }
}

/// How long each phase of a proxied exchange may take.
public struct ProxyTimeouts: Sendable, Hashable {
    /// Establishing the TCP connection to a target.
    public var connect: Duration
    /// From sending the request (or its last body bytes) to the response head.
    public var response: Duration
    /// Longest silence in either direction while a body is streamed.
    public var idle: Duration
    /// Longest silence on a WebSocket or event stream; `nil`: none while both peers keep the connection open.
    public var streamIdle: Duration?

    public init(
        connect: Duration = .seconds(5),
        response: Duration = .seconds(60),
        idle: Duration = .seconds(60),
        streamIdle: Duration? = nil
    ) {
        self.connect = connect
        self.response = response
        self.idle = idle
        self.streamIdle = streamIdle
    }
}

/// When a failed attempt is tried again on another target.
public struct RetryConfig: Sendable, Hashable {
    /// Conditions under which a request is sent to another target.
    public enum Condition: Sendable, Hashable, CustomStringConvertible {
        /// The target could not be connected to: the request never reached it (safe for every method).
        case connectFailure
        /// The connection closed or reset before a response arrived.
        case reset
        /// No response head within `timeouts.response`.
        case timeout
        /// The target answered with this status.
        case status(Int)

        public var description: String {
            switch self {
            case .connectFailure: "connect_failure"
            case .reset: "reset"
            case .timeout: "timeout"
            case .status(let code): String(code)
            }
        }
    }

    /// Tries in all, the first included (1 = no retries).
    public var attempts: Int
    public var on: Set<Condition>

    public init(attempts: Int = 2, on: Set<Condition> = [.connectFailure, .reset]) {
        self.attempts = attempts
        self.on = on
    }
}

/// The status listener for operators.
public struct AdminConfig: Sendable, Hashable {
    /// A loopback address.
    public var listen: SocketAddressSpec

    public init(listen: SocketAddressSpec) {
        self.listen = listen
    }
}
