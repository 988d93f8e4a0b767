import Hummingbird
import Logging
import NIOCore
import PierCore

/// The board's HTTP server: a Hummingbird application (a `Service`) around ``BoardAPI``.
public enum BoardServer {
    public static func application(
        api: BoardAPI,
        listen: SocketAddressSpec,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: api.router(),
            configuration: ApplicationConfiguration(
                address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}
