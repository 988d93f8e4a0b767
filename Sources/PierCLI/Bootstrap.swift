import Logging
import Metrics
import PierCore
import Prometheus

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
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}
