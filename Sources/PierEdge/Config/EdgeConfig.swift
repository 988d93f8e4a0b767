import PierACME
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
    /// `Strict-Transport-Security` on TLS listeners; off when `nil`.
    public var hsts: HSTSConfig?
    /// Automatic certificates (RFC 8555) for `tls: { acme: true }` listeners; off when `nil`.
    public var acme: ACMESettings?

    public init(
        listen: [ListenConfig] = [ListenConfig(address: SocketAddressSpec(host: "127.0.0.1", port: 8080))],
        accessLog: AccessLogConfig = AccessLogConfig(),
        limits: LimitsConfig = LimitsConfig(),
        shutdownTimeout: Duration = .seconds(30),
        workers: Int? = nil,
        routes: [RouteConfig],
        upstreams: [String: UpstreamConfig] = [:],
        admin: AdminConfig? = nil,
        hsts: HSTSConfig? = nil,
        acme: ACMESettings? = nil
    ) {
        self.hsts = hsts
        self.acme = acme
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
    /// TLS termination on this listener; plain HTTP when `nil`.
    public var tls: TLSListenerConfig?
    /// HTTP/2: offered by ALPN next to HTTP/1.1 on TLS listeners (default on), or with prior knowledge (h2c) on a
    /// plain listener (default off; for use behind another load balancer).
    public var http2: Bool
    /// Answer everything but ACME http-01 challenges with `308` to the `https://` address of the request.
    public var redirectHTTPS: Bool

    public init(
        address: SocketAddressSpec, tls: TLSListenerConfig? = nil, http2: Bool? = nil, redirectHTTPS: Bool = false
    ) {
        self.address = address
        self.tls = tls
        self.http2 = http2 ?? (tls != nil)
        self.redirectHTTPS = redirectHTTPS
    }
}

/// TLS termination on a listener.
public struct TLSListenerConfig: Sendable, Hashable {
    /// The lowest protocol version accepted.
    public enum MinimumVersion: String, Sendable, Hashable, CaseIterable {
        case tls12 = "1.2"
        case tls13 = "1.3"
    }

    /// Certificate chains with their keys; chosen by SNI from each certificate's names, the first for clients that
    /// send no SNI (or a name none of them has).
    public var certificates: [CertificateFiles]
    public var minimumVersion: MinimumVersion
    /// Also serve the certificates of `acme.domains`, obtained and renewed automatically.
    public var acme: Bool

    public init(certificates: [CertificateFiles], minimumVersion: MinimumVersion = .tls12, acme: Bool = false) {
        self.certificates = certificates
        self.minimumVersion = minimumVersion
        self.acme = acme
    }
}

/// A certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, RSA or EC), as absolute paths.
public struct CertificateFiles: Sendable, Hashable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }
}

/// `Strict-Transport-Security` on every answer of a TLS listener.
public struct HSTSConfig: Sendable, Hashable {
    public var maxAge: Int
    public var includeSubdomains: Bool
    public var preload: Bool

    public init(maxAge: Int = 31_536_000, includeSubdomains: Bool = false, preload: Bool = false) {
        self.maxAge = maxAge
        self.includeSubdomains = includeSubdomains
        self.preload = preload
    }

    /// The field's value.
    var value: String {
        "max-age=\(maxAge)" + (includeSubdomains ? "; includeSubDomains" : "") + (preload ? "; preload" : "")
    }
}

/// The limits of HTTP/2 connections, announced in SETTINGS and enforced.
public struct HTTP2LimitsConfig: Sendable, Hashable {
    /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var maxConcurrentStreams: Int
    /// Largest header list, decoded (SETTINGS_MAX_HEADER_LIST_SIZE).
    public var maxHeaderListBytes: Int
    /// Flow-control window of each request stream (SETTINGS_INITIAL_WINDOW_SIZE).
    public var initialWindowBytes: Int
    /// Largest frame the edge accepts (SETTINGS_MAX_FRAME_SIZE).
    public var maxFrameBytes: Int

    public init(
        maxConcurrentStreams: Int = 100, maxHeaderListBytes: Int = 16384, initialWindowBytes: Int = 65535,
        maxFrameBytes: Int = 16384
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListBytes = maxHeaderListBytes
        self.initialWindowBytes = initialWindowBytes
        self.maxFrameBytes = maxFrameBytes
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
    /// HTTP/2 connection limits.
    public var http2: HTTP2LimitsConfig = HTTP2LimitsConfig()

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
    /// `name:`, the route's label in metrics; without it the label is the host and path prefix (`/api/`).
    public var name: String?
    /// `rate_limit:`, a token bucket per client (or header) for the route's requests; none when `nil`.
    public var rateLimit: RateLimitConfig?
    /// `compress:` (default on): answers of compressible types of at least 1 KiB are sent compressed (Brotli,
    /// Zstandard or gzip, as the client prefers).
    public var compress: Bool
    /// `auth:`, the token every request must carry (checked at the edge); none when `nil`.
    public var auth: AuthConfig?
    /// The 1-based line of the route in its file, for logs and `pier config check`.
    public var line: Int?

    public init(
        match: RouteMatch, action: RouteAction, cors: CORSConfig? = nil, responseHeaders: [HeaderField] = [],
        name: String? = nil, rateLimit: RateLimitConfig? = nil, compress: Bool = true, auth: AuthConfig? = nil,
        line: Int? = nil
    ) {
        self.auth = auth
        self.rateLimit = rateLimit
        self.compress = compress
        self.match = match
        self.action = action
        self.cors = cors
        self.responseHeaders = responseHeaders
        self.name = name
        self.line = line
    }

    /// The route's label in metrics: `name:`, else the host pattern and the path prefix.
    public var metricsLabel: String {
        if let name { return name }
        let host = match.host.map { ($0.isWildcard ? "*." : "") + $0.domain } ?? ""
        return host + match.pathPrefix
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

    /// Request fields a proxy route may not set: the edge frames requests and writes the forwarding fields itself.
    static let reservedRequest: Set<String> = [
        "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "host",
        "expect", "x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip",
        "forwarded", "proxy-connection",
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
