import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import PierCore
import PierEdge
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `pier edge`: runs the front door from a configuration file.
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "Run the edge: static hosting, routing and CORS from a YAML configuration file (reloaded on change).",
        discussion: """
            SIGTERM or SIGINT stops accepting connections and lets in-flight requests finish (shutdown_timeout). \
            SIGHUP, or saving the configuration file, reloads it without dropping connections; an invalid file is \
            refused with a logged error and the running configuration keeps serving.
            """
    )

    @Option(name: [.short, .long], help: "The edge configuration file (YAML).")
    var config: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let edgeConfig = try ConfigCheckCommand.loadOrExit(config)
        let registry = Bootstrap.observability(global)
        let logger = Logger(label: "pier.edge")
        let workers = EdgeWorkers.count(configured: edgeConfig.workers)
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: workers)
        let stack: EdgeStack
        do {
            stack = try EdgeStack(
                config: edgeConfig, configPath: config, group: eventLoops, logger: logger,
                metrics: { registry.emitToBuffer() })
        } catch {
            try? await eventLoops.shutdownGracefully()
            printError("pier: \(error)")
            throw ExitCode(1)
        }
        logger.debug("event loops", metadata: ["pier.workers": "\(workers)"])
        try await Bootstrap.run(stack.services, logger: logger) {
            try? await eventLoops.shutdownGracefully()
        }
    }
}
