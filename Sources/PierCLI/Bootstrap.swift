import Crypto
import Foundation
import Logging
import Metrics
import PierBoard
import PierCore
import PierTokens
import Prometheus
import ServiceLifecycle
import UnixSignals

/// The one place where the process-wide logging and metrics systems are set up.
///
/// Libraries only ever receive a `Logger` and use the global `MetricsSystem`; bootstrapping twice traps, so only
/// the executable's commands call this, once, before building their `ServiceGroup`.
enum Bootstrap {
    /// Bootstraps logging and metrics and returns the Prometheus registry that a metrics endpoint exposes.
    static func observability(_ options: GlobalOptions) -> PrometheusCollectorRegistry {
        let format = options.logFormat
        let level = options.logLevel
        LoggingSystem.bootstrap { label in
            PierLogHandler(label: label, format: format, level: level)
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Libraries name metrics the OpenTelemetry way (`http.server.request.duration`); Prometheus gets the
        // catalogued names (`http_server_request_duration_seconds`), see PierMetric.
        factory.nameAndLabelSanitizer = { name, labels in (PierMetric.prometheusName(name), labels) }
        factory.defaultDurationHistogramBuckets = PierMetric.durationBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Runs the command's services in its one `ServiceGroup` until SIGTERM or SIGINT has shut them down gracefully
    /// (in reverse order); `cleanup` runs afterwards, also when a service failed.
    static func run(
        _ services: [any Service], logger: Logger, cleanup: @Sendable () async -> Void = {}
    ) async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }

    /// The token signing key: `PIER_SIGNING_KEY` (a k4.secret PASERK) when set, else the key file at `path`,
    /// created (mode 0600) when missing. Returns whether the file was created.
    static func signingKey(path: String) throws -> (key: Curve25519.Signing.PrivateKey, created: Bool) {
        if let text = ProcessInfo.processInfo.environment["PIER_SIGNING_KEY"], !text.isEmpty {
            return (try PASERK.secretKey(text.trimmingCharacters(in: .whitespacesAndNewlines)), false)
        }
        return try SigningKeyFile.loadOrCreate(path: path)
    }
}

/// Keeps SIGHUP (`systemctl reload`, a closed terminal) from ending a process that has nothing to reload on it: the
/// signal is logged and otherwise ignored. Processes that reload on SIGHUP (the edge's configuration and
/// certificates) do not need it.
struct HangupNotice: Service {
    let logger: Logger
    let message: Logger.Message

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals { logger.notice(message) }
        }
    }
}
