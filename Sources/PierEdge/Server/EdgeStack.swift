import Logging
import NIOCore
import ServiceLifecycle

/// Everything one edge runs, wired together: the runtime source, the server, active health checks, the reloader
/// (when there is a file to reload) and the admin listener (when configured). The executable puts `services` into
/// its one `ServiceGroup`, in this order.
public struct EdgeStack: Sendable {
    public let source: EdgeRuntimeSource
    public let server: EdgeServer
    public let admin: EdgeAdminServer?
    public let reloader: EdgeReloader?
    /// In start order; the access log comes first so it stops last and flushes the final lines.
    public let services: [any Service]

    /// - Parameters:
    ///   - configPath: the file `config` was read from; given, the edge reloads on SIGHUP and when it changes.
    public init(
        config: EdgeConfig,
        configPath: String?,
        group: any EventLoopGroup,
        logger: Logger,
        files: StaticFileStore = StaticFileStore(),
        reloadPollInterval: Duration = .seconds(1)
    ) throws {
        let accessLog = try AccessLogWriter.open(config.accessLog)
        let registry = UpstreamRegistry(logger: logger)
        let runtime = EdgeRuntime(
            config: config, files: files, accessLog: accessLog, logger: logger, upstreams: registry)
        let source = EdgeRuntimeSource(runtime)
        let server = try EdgeServer(source: source, group: group, logger: logger)
        var services: [any Service] = []
        if let accessLog { services.append(accessLog) }
        services.append(server)
        services.append(HealthChecker(source: source, group: group, logger: logger))
        if server.tls.contains(where: { $0 != nil }) {
            services.append(
                TLSCertificateWatcher(
                    source: source, listeners: server.tls, pollInterval: reloadPollInterval, logger: logger))
        }
        if let configPath {
            let reloader = EdgeReloader(
                path: configPath, loaded: config, source: source, pollInterval: reloadPollInterval, logger: logger
            ) { newConfig in
                EdgeRuntime(config: newConfig, files: files, accessLog: accessLog, logger: logger, upstreams: registry)
            }
            services.append(reloader)
            self.reloader = reloader
        } else {
            self.reloader = nil
        }
        if let adminConfig = config.admin {
            let admin = EdgeAdminServer(
                address: adminConfig.listen, source: source, server: server, group: group, logger: logger)
            services.append(admin)
            self.admin = admin
        } else {
            self.admin = nil
        }
        self.source = source
        self.server = server
        self.services = services
    }
}
