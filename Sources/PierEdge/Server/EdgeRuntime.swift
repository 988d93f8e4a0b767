import Logging
import NIOCore
import PierACME
import PierCore
import Synchronization

/// A configuration compiled for serving: route table, CORS policies, parser limits and shared caches.
///
/// Immutable; a reload builds a new one and swaps it in, so requests in flight keep the one they started with.
public final class EdgeRuntime: Sendable {
    /// One route, ready to match. A class: handing the matched route down the request path is one retain, not a
    /// copy of every field.
    final class Route: Sendable {
        let match: RouteMatch
        let action: RouteAction
        let cors: CORSPolicy?
        /// The route's `headers`, rendered as field lines once, or `nil` when it has none.
        let renderedHeaders: ByteBuffer?
        /// Their names, lowercased: proxied answers drop the upstream's fields of these names.
        let headerNames: [String]
        /// The fields themselves, names lowercased, for HTTP/2.
        let headerFields: [(String, String)]
        /// A proxy route's `set_request_headers`, rendered once for every request sent upstream, or `nil`.
        let renderedRequestHeaders: ByteBuffer?
        /// Their names, lowercased: the client's fields of these names are not forwarded.
        let requestHeaderNames: [String]
        /// Where the route's answers are counted.
        let metrics: RequestDurations
        /// The buckets of the route's `rate_limit`, if it has one.
        let rateLimiter: RateLimiter?
        /// Whether compressible answers are sent compressed.
        let compress: Bool
        /// The token check of the route's `auth:`, if it has one.
        let authenticator: EdgeAuthenticator?

        init(
            match: RouteMatch, action: RouteAction, cors: CORSPolicy?, responseHeaders: [HeaderField] = [],
            metrics: RequestDurations, rateLimiter: RateLimiter? = nil, compress: Bool = true,
            authenticator: EdgeAuthenticator? = nil
        ) {
            self.compress = compress
            self.authenticator = authenticator
            self.match = match
            self.action = action
            self.cors = cors
            self.rateLimiter = rateLimiter
            var responseHeaders = responseHeaders
            if let rateLimiter { responseHeaders.append(HeaderField("RateLimit-Policy", rateLimiter.policyField)) }
            renderedHeaders = Self.render(responseHeaders)
            headerNames = responseHeaders.map { $0.name.lowercased() }
            headerFields = responseHeaders.map { ($0.name.lowercased(), $0.value) }
            var requestHeaders: [HeaderField] = []
            if case .proxy(let config) = action { requestHeaders = config.setRequestHeaders }
            renderedRequestHeaders = Self.render(requestHeaders)
            requestHeaderNames = requestHeaders.map { $0.name.lowercased() }
            self.metrics = metrics
        }

        /// Configured fields as HTTP/1 field lines, or `nil` when there are none.
        static func render(_ fields: [HeaderField]) -> ByteBuffer? {
            guard !fields.isEmpty else { return nil }
            var buffer = ByteBuffer()
            for field in fields { buffer.writeString("\(field.name): \(field.value)\r\n") }
            return buffer
        }
    }

    public let config: EdgeConfig
    let routes: [Route]
    let parserLimits: HTTP1RequestParser.Limits
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let files: StaticFileStore
    let accessLog: AccessLogWriter?
    let logger: Logger
    /// The upstream pools by name, and the registry that keeps their targets across reloads.
    let upstreams: [String: UpstreamPool]
    let registry: UpstreamRegistry
    /// Whether any route matches on host, or the access log records it; otherwise the Host header is not read.
    let needsHost: Bool
    /// `Strict-Transport-Security`, rendered, for answers on TLS listeners.
    let hstsLine: ByteBuffer?
    /// The pending ACME http-01 challenges, answered on plain listeners; `nil` without `acme:`.
    let acmeChallenges: HTTP01Challenges?
    /// The request-duration series, kept across reloads; answers without a route count as route `none`.
    let durations: RequestDurationRegistry
    let unroutedMetrics: RequestDurations

    public init(
        config: EdgeConfig, files: StaticFileStore, accessLog: AccessLogWriter?, logger: Logger,
        upstreams registry: UpstreamRegistry? = nil, acmeChallenges: HTTP01Challenges? = nil,
        durations: RequestDurationRegistry? = nil, rateLimits: RateLimiterRegistry? = nil,
        tokenKeys: TokenKeyRegistry? = nil
    ) {
        let durations = durations ?? RequestDurationRegistry(group: nil)
        self.durations = durations
        let limiters = (rateLimits ?? RateLimiterRegistry()).limiters(
            for: config.routes.map { ($0.metricsLabel, $0.rateLimit) })
        self.config = config
        self.acmeChallenges = acmeChallenges
        let registry = registry ?? UpstreamRegistry(logger: logger)
        self.registry = registry
        self.upstreams = registry.makePools(config.upstreams)
        let keySets = (tokenKeys ?? TokenKeyRegistry()).keySets(
            for: config.routes.map { $0.auth?.paseto }, logger: logger)
        self.routes = zip(zip(config.routes, limiters), keySets).map { pair, keySet in
            let (route, limiter) = pair
            var upstream = ""
            if case .proxy(let proxy) = route.action { upstream = proxy.upstream }
            return Route(
                match: route.match, action: route.action, cors: route.cors.map(CORSPolicy.init),
                responseHeaders: route.responseHeaders,
                metrics: durations.series(route: route.metricsLabel, upstream: upstream), rateLimiter: limiter,
                compress: route.compress, authenticator: keySet.map { EdgeAuthenticator(keys: $0) })
        }
        self.unroutedMetrics = durations.series(route: "none", upstream: "")
        self.parserLimits = HTTP1RequestParser.Limits(
            maxHeaderBytes: config.limits.maxHeaderBytes,
            maxURIBytes: config.limits.maxURIBytes,
            maxBodyBytes: config.limits.maxBodyBytes
        )
        self.headerTimeout = TimeAmount(config.limits.headerTimeout)
        self.idleTimeout = TimeAmount(config.limits.idleTimeout)
        self.files = files
        self.accessLog = accessLog
        self.logger = logger
        self.needsHost =
            accessLog != nil || config.routes.contains { $0.match.host != nil }
            || config.listen.contains { $0.redirectHTTPS }
        self.hstsLine = config.hsts.map { ByteBuffer(string: "Strict-Transport-Security: \($0.value)\r\n") }
    }

    /// The first route matching the request, if any.
    func route(host: String?, path: String, method: String) -> Route? {
        routes.first { $0.match.matches(host: host, path: path, method: method) }
    }

    /// When no route takes a request only because of its method: the methods routes for this host and path take
    /// (for `405` with `Allow`, RFC 9110 §15.5.6), sorted; `nil` when no route matches the host and path at all.
    func allowedMethods(host: String?, path: String) -> [String]? {
        var methods = Set<String>()
        for route in routes {
            var match = route.match
            let routeMethods = match.methods
            match.methods = []
            guard match.matches(host: host, path: path, method: "") else { continue }
            methods.formUnion(routeMethods)
        }
        guard !methods.isEmpty else { return nil }
        if methods.contains("GET") { methods.insert("HEAD") }
        return methods.sorted()
    }
}

/// The runtime in force: connections read it at the start of every request, so a reload takes effect on the next
/// request while requests in flight finish with the runtime they started with.
public final class EdgeRuntimeSource: Sendable {
    private let box: Mutex<EdgeRuntime>
    private let version = Atomic<Int>(0)

    public init(_ runtime: EdgeRuntime) {
        self.box = Mutex(runtime)
        runtime.registry.activate(runtime.upstreams)
    }

    public var current: EdgeRuntime { box.withLock { $0 } }

    /// Changes with every replacement: a connection compares it (one atomic load) before taking the lock.
    var generation: Int { version.load(ordering: .acquiring) }

    func replace(_ runtime: EdgeRuntime) {
        box.withLock { $0 = runtime }
        version.add(1, ordering: .releasing)
        runtime.registry.activate(runtime.upstreams)
    }
}

extension TimeAmount {
    /// Saturates instead of overflowing for durations beyond what nanoseconds in an `Int64` hold (about 292 years).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowAgain) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        self = .nanoseconds(overflow || overflowAgain ? (seconds < 0 ? .min : .max) : total)
    }
}

extension EdgeRuntimeSource {
    /// How many targets of the named upstream take requests now (0 when there is no such upstream).
    public func usableTargets(in upstream: String) -> Int {
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        return current.upstreams[upstream]?.targets.filter { $0.isUsable(now: now) }.count ?? 0
    }
}
