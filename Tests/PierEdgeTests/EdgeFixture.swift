import Foundation
import Logging
import NIOCore
import NIOPosix
import PierCore
import PierEdge
import PierTesting
import ServiceLifecycle

/// A live edge server on a free loopback port, serving a temporary directory, for wire-level tests.
struct EdgeFixture: Sendable {
    let port: Int
    /// Every bound port, in the order of the file's `listen` (when `keepListeners` is set).
    let ports: [Int]
    /// The temporary directory; configuration paths are relative to it.
    let directory: String
    let server: EdgeServer
    let stack: EdgeStack
    /// Starts the server's graceful shutdown (the fixture also does this when the body returns).
    let shutdown: @Sendable () async -> Void

    /// Writes `files` (paths relative to the directory), starts an edge from `yaml` with `listen` forced to
    /// 127.0.0.1:0, runs `body`, then shuts the server down gracefully.
    /// - Parameter keepListeners: keep the file's `listen` section (its addresses must use port 0) instead of one
    ///   plain listener.
    static func run(
        _ yaml: String,
        files: [String: String] = [:],
        keepListeners: Bool = false,
        prepare: @Sendable (String) throws -> Void = { _ in },
        _ body: @Sendable (EdgeFixture) async throws -> Void
    ) async throws {
        try await TemporaryDirectory.with { directory in
            for (path, contents) in files {
                try TemporaryDirectory.write(contents, to: path, under: directory)
            }
            try prepare(directory)
            var config = try EdgeConfig.parse(yaml, file: "edge.yaml", baseDirectory: directory)
            if !keepListeners {
                config.listen = [ListenConfig(address: SocketAddressSpec(host: "127.0.0.1", port: 0))]
            }
            let logger = Logger(label: "pier.test.edge", factory: { _ in SwiftLogNoOpLogHandler() })
            let stack = try EdgeStack(
                config: config, configPath: nil, group: MultiThreadedEventLoopGroup.singleton, logger: logger,
                files: StaticFileStore(revalidateAfter: .milliseconds(50)), reloadPollInterval: .milliseconds(200))
            let server = stack.server
            let group = ServiceGroup(services: stack.services, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let result: Result<Void, any Error>
                do {
                    let ports = try await server.boundAddresses().map { $0.port ?? 0 }
                    try await body(
                        EdgeFixture(
                            port: ports.first ?? 0, ports: ports, directory: directory, server: server, stack: stack,
                            shutdown: { await group.triggerGracefulShutdown() })
                    )
                    result = .success(())
                } catch {
                    result = .failure(error)
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                try result.get()
            }
        }
    }

    /// Sends one request and returns the response.
    func get(_ target: String, headers: [(String, String)] = [], method: String = "GET", body: [UInt8] = [])
        async throws -> RawHTTPResponse
    {
        try await RawHTTPClient.request(port: port, method, target, headers: headers, body: body)
    }

    /// Sends raw bytes and returns what came back.
    func raw(
        _ text: String, expecting: Int = 1, closeWait: Duration = .milliseconds(300), halfClose: Bool = false
    ) async throws -> RawHTTPExchange {
        try await RawHTTPClient.exchange(
            port: port, send: Array(text.utf8), expecting: expecting, closeWait: closeWait, halfClose: halfClose)
    }
}
