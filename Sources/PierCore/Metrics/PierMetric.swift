/// Every metric Pier records: its OpenTelemetry-style name (the label code passes to swift-metrics), the name it has
/// in the Prometheus text format (`/metrics`), and what it means. The executable's metrics factory renames through
/// ``prometheusName(_:)``, so libraries only ever speak the OpenTelemetry names.
public struct PierMetric: Sendable, Hashable {
    public let name: String
    public let prometheusName: String
    public let help: String

    init(_ name: String, prometheus: String, help: String) {
        self.name = name
        self.prometheusName = prometheus
        self.help = help
    }

    // MARK: Both servers

    /// Duration of HTTP requests until the answer is complete, in seconds (dimensions: `server` `edge` | `board`,
    /// `route`, `status_class` `2xx`…, on the edge also `upstream`). The edge and each board instance record it for
    /// their own requests; `server` keeps them apart where one process runs both (`pier up`).
    public static let requestDuration = PierMetric(
        "http.server.request.duration", prometheus: "http_server_request_duration_seconds",
        help: "Duration of HTTP server requests, in seconds.")

    // MARK: The edge

    /// Open client connections, all listeners.
    public static let edgeConnections = PierMetric(
        "pier.edge.connections.active", prometheus: "pier_edge_connections_active",
        help: "Client connections the edge holds open.")
    /// Whether an upstream target takes requests now: 1 healthy and not ejected, 0 otherwise (`upstream`, `target`).
    public static let targetHealthy = PierMetric(
        "pier.edge.upstream.target.healthy", prometheus: "pier_edge_upstream_target_healthy",
        help: "1 when the upstream target takes requests (healthy, not ejected, not draining), else 0.")
    /// Requests in flight to an upstream target (`upstream`, `target`).
    public static let targetInFlight = PierMetric(
        "pier.edge.upstream.target.in_flight", prometheus: "pier_edge_upstream_target_in_flight",
        help: "Requests in flight to the upstream target.")
    /// Passive-health ejections of a target (`upstream`, `target`).
    public static let targetEjections = PierMetric(
        "pier.edge.upstream.ejections", prometheus: "pier_edge_upstream_ejections_total",
        help: "Times the upstream target was ejected after consecutive failures.")
    /// Failed attempts to a target, as passive health counts them: connect errors, resets, timeouts, malformed or
    /// cut-short answers, 5xx answers (`upstream`, `target`).
    public static let targetFailures = PierMetric(
        "pier.edge.upstream.failures", prometheus: "pier_edge_upstream_failures_total",
        help: "Failed attempts to the upstream target (connect errors, resets, timeouts, bad or 5xx answers).")
    /// Seconds until a served certificate expires (`name`, `source` `file` | `acme`); Prometheus wants base units.
    public static let certificateExpiry = PierMetric(
        "pier.edge.certificate.expiry", prometheus: "pier_edge_certificate_expiry_seconds",
        help: "Seconds until the served certificate expires.")
    /// ACME renewals that failed since the edge started (`name`).
    public static let certificateRenewalFailures = PierMetric(
        "pier.edge.certificate.renewal_failures", prometheus: "pier_edge_certificate_renewal_failures",
        help: "Consecutive failed ACME attempts for the name (0 after a success).")

    /// Requests a route's `rate_limit` refused with `429` (`route`).
    public static let rateLimited = PierMetric(
        "pier.edge.rate_limited", prometheus: "pier_edge_rate_limited_requests_total",
        help: "Requests refused with 429 by the route's rate limit.")
    /// Client buckets a route's `rate_limit` holds now (`route`); at most its `max_keys`.
    public static let rateLimitKeys = PierMetric(
        "pier.edge.rate_limit.keys", prometheus: "pier_edge_rate_limit_keys",
        help: "Client buckets the route's rate limit holds.")

    // MARK: The board

    /// Duration of database statements and transactions (`db_system`, `db_operation` `statement` | `transaction`),
    /// in seconds, the wait for a connection included.
    public static let databaseOperation = PierMetric(
        "db.client.operation.duration", prometheus: "db_client_operation_duration_seconds",
        help: "Duration of database operations, in seconds.")
    /// Outbox events not yet delivered.
    public static let outboxBacklog = PierMetric(
        "pier.board.outbox.backlog", prometheus: "pier_board_outbox_backlog",
        help: "Notification outbox events waiting to be turned into deliveries.")
    /// Deliveries waiting to be sent, by `channel`.
    public static let deliveryBacklog = PierMetric(
        "pier.board.delivery.backlog", prometheus: "pier_board_delivery_backlog",
        help: "Email and webhook deliveries waiting to be sent.")
    /// Delivery attempts by `channel` (`email`, `webhook`) and `outcome` (`sent`, `failed`, `dead`).
    public static let deliveries = PierMetric(
        "pier.board.deliveries", prometheus: "pier_board_deliveries_total",
        help: "Notification delivery attempts, by channel and outcome.")
    /// Sign-in attempts by `outcome` (`ok`, `failed`, `throttled`).
    public static let signIns = PierMetric(
        "pier.board.signins", prometheus: "pier_board_signins_total",
        help: "Sign-in attempts, by outcome.")

    public static let all: [PierMetric] = [
        requestDuration, edgeConnections, targetHealthy, targetInFlight, targetEjections, targetFailures,
        certificateExpiry, certificateRenewalFailures, rateLimited, rateLimitKeys, databaseOperation, outboxBacklog,
        deliveryBacklog, deliveries, signIns,
    ]

    private static let byName: [String: PierMetric] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The catalogued metric of this OpenTelemetry name, if any.
    public static func named(_ name: String) -> PierMetric? { byName[name] }

    /// The Prometheus name for a metric label: the catalogued one, else dots and dashes made underscores.
    public static func prometheusName(_ name: String) -> String {
        if let metric = byName[name] { return metric.prometheusName }
        return String(name.map { $0 == "." || $0 == "-" ? "_" : $0 })
    }

    /// `text` (Prometheus text format) with a `# HELP` line before the `# TYPE` line of each catalogued family
    /// that has none; the metrics registry writes types only.
    public static func addingHelp(to text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 2048)
        var previous: Substring = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), !previous.hasPrefix("# HELP ") {
                let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                if let metric = byPrometheusName[String(name)] { out += "# HELP \(name) \(metric.help)\n" }
            }
            out += line
            out += "\n"
            previous = line
        }
        if text.hasSuffix("\n") || text.isEmpty { out.removeLast() }
        return out
    }

    private static let byPrometheusName: [String: PierMetric] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.prometheusName, $0) })

    /// Histogram buckets for request and database durations: from half a millisecond (the edge answers from memory
    /// in far less than the 5 ms where the usual defaults start) to 10 s.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
}
