import Hummingbird
import Logging
import NIOCore
import PierCore
import Prometheus

/// `GET /metrics` of a board instance (`pier board serve --metrics-listen`): the Prometheus text exposition of the
/// process's registry. Only that path; no state to change.
enum MetricsServer {
    static func application(
        registry: PrometheusCollectorRegistry, listen: SocketAddressSpec, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(string: PierMetric.addingHelp(to: registry.emitToString()))))
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: onServerRunning,
            logger: logger)
    }
}
