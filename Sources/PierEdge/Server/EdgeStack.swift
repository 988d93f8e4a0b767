import Logging
import NIOCore
import PierACME
import ServiceLifecycle

/// Everything one edge runs, wired together: the runtime source, the server, active health checks, the reloader
/// (when there is a file to reload) and the admin listener (when configured). The executable puts `services` into
/// its one `ServiceGroup`, in this order.
public struct EdgeStack: Sendable {
    public let source: EdgeRuntimeSource
    public let server: EdgeServer
    public let admin: EdgeAdminServer?
    public let reloader: EdgeReloader?
    /// Obtains and renews the certificates of `acme:`, when configured.
    public let acme: ACMECertificateManager?
    /// In start order; the access log comes first so it stops last and flushes the final lines.
    public let services: [any Service]

    /// - Parameters:
    ///   - configPath: the file `config` was read from; given, the edge reloads on SIGHUP and when it changes.
    ///   - metrics: the Prometheus text of the process's metrics, for the admin listener's `/metrics`.
    public init(
        config: EdgeConfig,
        configPath: String?,
        group: any EventLoopGroup,
        logger: Logger,
        files: StaticFileStore = StaticFileStore(),
        reloadPollInterval: Duration = .seconds(1),
        metrics: (@Sendable () -> [UInt8])? = nil
    ) throws {
        let accessLog = try AccessLogWriter.open(config.accessLog)
        let registry = UpstreamRegistry(logger: logger)
        let durations = RequestDurationRegistry(group: group)
        let rateLimits = RateLimiterRegistry()
        let tokenKeys = TokenKeyRegistry()
        let challenges = config.acme.map { _ in HTTP01Challenges() }
        let runtime = EdgeRuntime(
            config: config, files: files, accessLog: accessLog, logger: logger, upstreams: registry,
            acmeChallenges: challenges, durations: durations, rateLimits: rateLimits,
            tokenKeys: tokenKeys)
        let source = EdgeRuntimeSource(runtime)
        var managed: [(name: String, certificate: TLSCertificate)] = []
        for stored in config.acme.map({ ACMEFileStorage(root: $0.storage).certificates(for: $0) }) ?? [] {
            do {
                managed.append((stored.name, try TLSCertificate.load(stored.files)))
            } catch {
                logger.error(
                    "a stored ACME certificate cannot be served",
                    metadata: ["pier.acme.name": "\(stored.name)", "pier.error": "\(error)"])
            }
        }
        let server = try EdgeServer(source: source, group: group, logger: logger, managedCertificates: managed)
        var services: [any Service] = []
        if let accessLog { services.append(accessLog) }
        services.append(server)
        services.append(HealthChecker(source: source, group: group, logger: logger))
        services.append(TokenKeyRefresher(registry: tokenKeys))
        if server.tls.contains(where: { $0 != nil }) {
            services.append(
                TLSCertificateWatcher(
                    source: source, listeners: server.tls, pollInterval: reloadPollInterval, logger: logger))
        }
        if let configPath {
            let reloader = EdgeReloader(
                path: configPath, loaded: config, source: source, pollInterval: reloadPollInterval, logger: logger
            ) { newConfig in
                if newConfig.acme != config.acme {
                    logger.warning("acme: changes take effect when the edge restarts; the running settings stay")
                }
                return EdgeRuntime(
                    config: newConfig, files: files, accessLog: accessLog, logger: logger, upstreams: registry,
                    acmeChallenges: challenges, durations: durations, rateLimits: rateLimits,
                    tokenKeys: tokenKeys)
            }
            services.append(reloader)
            self.reloader = reloader
        } else {
            self.reloader = nil
        }
        var manager: ACMECertificateManager?
        if let acme = config.acme, let challenges {
            let listeners = zip(config.listen, server.tls).compactMap { listen, context in
                listen.tls?.acme == true ? context : nil
            }
            let install: @Sendable (StoredCertificate) -> Void = { stored in
                do {
                    let certificate = try TLSCertificate.load(stored.files)
                    for context in listeners {
                        try context.install(name: stored.name, certificate: certificate, order: acme.domains)
                    }
                } catch {
                    logger.error(
                        "a new ACME certificate cannot be served; the one in use stays",
                        metadata: ["pier.acme.name": "\(stored.name)", "pier.error": "\(error)"])
                }
            }
            manager = ACMECertificateManager(
                settings: acme, solvers: [challenges], logger: logger,
                // Orders start once the listeners are bound: the CA's validation comes to them.
                startAfter: { _ = try await server.boundAddresses() }, install: install)
        }
        self.acme = manager
        if let adminConfig = config.admin {
            let admin = EdgeAdminServer(
                address: adminConfig.listen, source: source, server: server, acme: manager, group: group,
                logger: logger, metrics: metrics)
            services.append(admin)
            self.admin = admin
        } else {
            self.admin = nil
        }
        if let manager { services.append(manager) }
        self.source = source
        self.server = server
        self.services = services
    }
}
