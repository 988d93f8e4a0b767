import PierCore

/// The edge's whole configuration, as read from its YAML file.
///
/// Every field has a default except `routes`; see the README's configuration reference for each one.
public struct EdgeConfig: Sendable, Hashable {
    /// Addresses to accept connections on.
    public var listen: [ListenConfig]
    /// Where and how each request is logged.
    public var accessLog: AccessLogConfig
    /// Protective limits on connections and requests.
    public var limits: LimitsConfig
    /// How long in-flight requests may finish after a shutdown signal.
    public var shutdownTimeout: Duration
    /// Event-loop threads; `nil` means one per CPU this process may run on.
    public var workers: Int?
    /// The routes, tried in order; the first match wins.
    public var routes: [RouteConfig]
    /// Named pools of back-end servers that proxy routes send requests to.
    public var upstreams: [String: UpstreamConfig]
    /// The loopback-only status listener; off when `nil`.
    public var admin: AdminConfig?

    public init(
        listen: [ListenConfig] = [ListenConfig(address: SocketAddressSpec(host: "127.0.0.1", port: 8080))],
        accessLog: AccessLogConfig = AccessLogConfig(),
        limits: LimitsConfig = LimitsConfig(),
        shutdownTimeout: Duration = .seconds(30),
        workers: Int? = nil,
        routes: [RouteConfig],
        upstreams: [String: UpstreamConfig] = [:],
        admin: AdminConfig? = nil
    ) {
        self.workers = workers
        self.listen = listen
        self.accessLog = accessLog
        self.limits = limits
        self.shutdownTimeout = shutdownTimeout
        self.routes = routes
        self.upstreams = upstreams
        self.admin = admin
    }
}

/// One listening socket.
public struct ListenConfig: Sendable, Hashable {
    public var address: SocketAddressSpec

    public init(address: SocketAddressSpec) {
        self.address = address
    }
}

/// The access log: one line per response.
public struct AccessLogConfig: Sendable, Hashable {
    /// Line format.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// The nginx/Apache combined format, followed by the request id and duration.
        case combined
        /// One JSON object per line.
        case json
    }

    /// Destination.
    public enum Destination: Sendable, Hashable, CustomStringConvertible {
        case standardOutput
        case standardError
        case file(String)
        case off

        public var description: String {
            switch self {
            case .standardOutput: "stdout"
            case .standardError: "stderr"
            case .file(let path): path
            case .off: "off"
            }
        }
    }

    public var format: Format
    public var destination: Destination

    public init(format: Format = .combined, destination: Destination = .standardOutput) {
        self.format = format
        self.destination = destination
    }
}

/// Limits that protect the edge from oversized or slow requests and connection floods.
public struct LimitsConfig: Sendable, Hashable {
    /// Largest request line plus header section, in bytes (431 beyond).
    public var maxHeaderBytes: Int
    /// Longest request target, in bytes (414 beyond).
    public var maxURIBytes: Int
    /// Largest request body, in bytes (413 beyond).
    public var maxBodyBytes: Int
    /// Time allowed to receive a complete request head (408 and close beyond).
    public var headerTimeout: Duration
    /// Time a keep-alive connection may stay idle between requests.
    public var idleTimeout: Duration
    /// Most connections open at once over all listeners; further ones are closed on accept.
    public var maxConnections: Int

    public init(
        maxHeaderBytes: Int = 16384,
        maxURIBytes: Int = 8192,
        maxBodyBytes: Int = 10_485_760,
        headerTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(75),
        maxConnections: Int = 10000
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxURIBytes = maxURIBytes
        self.maxBodyBytes = maxBodyBytes
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }
}

/// One route: what requests it matches and what answers them.
public struct RouteConfig: Sendable, Hashable {
    public var match: RouteMatch
    public var action: RouteAction
    public var cors: CORSConfig?
    /// Fields added to every answer of the route (`headers:`); on proxied answers they replace the upstream's
    /// fields of the same name.
    public var responseHeaders: [HeaderField]
    /// The 1-based line of the route in its file, for logs and `pier config check`.
    public var line: Int?

    public init(
        match: RouteMatch, action: RouteAction, cors: CORSConfig? = nil, responseHeaders: [HeaderField] = [],
        line: Int? = nil
    ) {
        self.match = match
        self.action = action
        self.cors = cors
        self.responseHeaders = responseHeaders
        self.line = line
    }
}

/// One header field, as configured.
public struct HeaderField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Fields a route may not set: the edge frames, dates and identifies its answers itself.
    static let reserved: Set<String> = [
        "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "date",
        "x-request-id", "content-type", "content-encoding", "content-range",
    ]
}

/// What answers a route's requests.
public enum RouteAction: Sendable, Hashable {
    case `static`(StaticConfig)
    case proxy(ProxyRouteConfig)
}

/// Static file hosting from a directory.
public struct StaticConfig: Sendable, Hashable {
    /// The directory served, absolute after loading.
    public var root: String
    /// Served (200) for navigation requests that match no file, for single-page apps.
    public var spaFallback: String?
    /// The file served for a directory request.
    public var index: String
    /// Whether names starting with a dot may be served.
    public var allowDotfiles: Bool

    public init(root: String, spaFallback: String? = nil, index: String = "index.html", allowDotfiles: Bool = false) {
        self.root = root
        self.spaFallback = spaFallback
        self.index = index
        self.allowDotfiles = allowDotfiles
    }
}

/// Cross-origin resource sharing for a route.
public struct CORSConfig: Sendable, Hashable {
    /// Exact origins (`https://app.example.com`), subdomain patterns (`https://*.example.org`) or `*`.
    public var allowOrigins: [String]
    public var allowCredentials: Bool
    public var allowMethods: [String]
    public var allowHeaders: [String]
    public var exposeHeaders: [String]
    /// How long a browser may cache a preflight answer.
    public var maxAge: Int?

    public init(
        allowOrigins: [String],
        allowCredentials: Bool = false,
        allowMethods: [String] = ["GET", "HEAD", "POST"],
        allowHeaders: [String] = [],
        exposeHeaders: [String] = [],
        maxAge: Int? = nil
    ) {
        self.allowOrigins = allowOrigins
        self.allowCredentials = allowCredentials
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAge = maxAge
    }
}
