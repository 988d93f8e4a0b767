import Foundation
import Logging
import NIOCore
import PierCore
import PierEdge
import PierTesting
import ServiceLifecycle
import Testing

@Suite("Edge configuration reload")
struct EdgeReloadTests {
    static func config(root: String, extra: String = "") -> String {
        """
        listen:
          - address: 127.0.0.1:0
        access_log: off
        routes:
          - match: { path_prefix: / }
            static: { root: \(root) }
        \(extra)
        """
    }

    @Test("a changed file is applied; an invalid or restart-only change is refused and the old one keeps serving")
    func reloadsFromFile() async throws {
        try await TemporaryDirectory.with { directory in
            try TemporaryDirectory.write("site A\n", to: "a/index.html", under: directory)
            try TemporaryDirectory.write("site B\n", to: "b/index.html", under: directory)
            let path = directory + "/edge.yaml"
            try Self.config(root: "./a").write(toFile: path, atomically: true, encoding: .utf8)
            let loaded = try EdgeConfig.load(path: path)
            let logger = Logger(label: "pier.test.reload", factory: { _ in SwiftLogNoOpLogHandler() })
            let files = StaticFileStore(revalidateAfter: .milliseconds(50))
            let source = EdgeRuntimeSource(EdgeRuntime(config: loaded, files: files, accessLog: nil, logger: logger))
            let server = try EdgeServer(source: source, logger: logger)
            let reloader = EdgeReloader(
                path: path, loaded: loaded, source: source, pollInterval: .milliseconds(100), logger: logger
            ) { config in
                EdgeRuntime(config: config, files: files, accessLog: nil, logger: logger)
            }
            let group = ServiceGroup(services: [server, reloader], logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                defer { tasks.cancelAll() }
                let port = try await server.boundAddresses().first?.port ?? 0
                func body() async throws -> String {
                    try await RawHTTPClient.request(port: port, "GET", "/").text
                }
                #expect(try await body() == "site A\n")

                try Self.config(root: "./b").write(toFile: path, atomically: true, encoding: .utf8)
                var served = ""
                for _ in 0..<100 {
                    served = try await body()
                    if served == "site B\n" { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(served == "site B\n", "the new root was not picked up")

                // A broken file: refused with the file, line and field; site B keeps serving.
                try Self.config(root: "./a", extra: "colour: blue").write(
                    toFile: path, atomically: true, encoding: .utf8)
                let refused = reloader.reload(reason: "test")
                guard case .refused(let message) = refused else {
                    Issue.record("an invalid configuration was not refused: \(refused)")
                    return
                }
                #expect(message.contains("edge.yaml:7") && message.contains("colour"), "\(message)")
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await body() == "site B\n")

                // Listen addresses need a restart.
                try Self.config(root: "./a").replacingOccurrences(of: "127.0.0.1:0", with: "127.0.0.1:1").write(
                    toFile: path, atomically: true, encoding: .utf8)
                let listen = reloader.reload(reason: "test")
                #expect(
                    listen == .refused("\(path): listen cannot change while running; restart pier edge to apply it"))
                #expect(try await body() == "site B\n")

                await group.triggerGracefulShutdown()
                try await tasks.next()
            }
        }
    }
}
