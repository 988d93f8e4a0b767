import Foundation
import PierCore
import PierTesting
import Testing

@testable import PierEdge

@Suite("Edge configuration")
struct EdgeConfigTests {
    static let contract = """
        listen:
          - address: 127.0.0.1:8080
        access_log: { format: combined, path: stdout }     # combined | json ; stdout | stderr | a file path | off
        limits: { max_header_bytes: 16384, max_uri_bytes: 8192, max_body_bytes: 10485760, header_timeout: 10s, idle_timeout: 75s, max_connections: 10000 }
        routes:
          - match: { host: "*.example.org", path_prefix: /docs/ }
            static: { root: ./site }
          - match: { path_prefix: /, methods: [GET, HEAD, OPTIONS] }
            cors:
              allow_origins: ["https://app.example.com", "https://*.example.org"]
              allow_credentials: true
              allow_methods: [GET, POST, PATCH, DELETE]
              allow_headers: [Content-Type, Authorization]
              max_age: 600
            static: { root: ./web, spa_fallback: index.html }
        """

    static func withDirectories(_ body: (String) throws -> Void) async throws {
        try await TemporaryDirectory.with { directory in
            try FileManager.default.createDirectory(atPath: directory + "/site", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: directory + "/web", withIntermediateDirectories: true)
            try body(directory)
        }
    }

    @Test("the contract file from the issue works as written")
    func contract() async throws {
        try await Self.withDirectories { directory in
            let config = try EdgeConfig.parse(Self.contract, file: "edge.yaml", baseDirectory: directory)
            #expect(config.listen.map(\.address.description) == ["127.0.0.1:8080"])
            #expect(config.accessLog == AccessLogConfig(format: .combined, destination: .standardOutput))
            #expect(config.limits == LimitsConfig())
            #expect(config.routes.count == 2)
            #expect(config.routes[0].match.host?.description == "*.example.org")
            #expect(config.routes[0].action == .static(StaticConfig(root: directory + "/site")))
            #expect(config.routes[1].match.methods == ["GET", "HEAD", "OPTIONS"])
            #expect(config.routes[1].cors?.maxAge == 600)
            #expect(config.routes[1].cors?.allowCredentials == true)
            guard case .static(let web) = config.routes[1].action else { return }
            #expect(web.spaFallback == "index.html")
            #expect(web.root == directory + "/web")
        }
    }

    @Test("errors name file, line and field, and all are reported at once")
    func errors() async throws {
        let text = """
            listen:
              - address: localhost
            access_log: { format: xml }
            limits: { header_timeout: 10, max_connections: 0, max_uri_bytes: 9000, max_header_bytes: 4096 }
            routes:
              - match: { path_prefix: docs, methods: [get] }
                static: { root: ./missing }
                upstream: board
              - match: { host: "a.*.org" }
                cors:
                  allow_origins: ["*", "https://ok.example.com/", "ftp://x"]
                  allow_credentials: true
                  max_age: 100000
                static: { root: ./web, spa_fallback: ../escape.html }
              - match: { path_prefix: / }
              - { name: "say \\"hi\\"", static: { root: ./web } }
            """
        try await Self.withDirectories { directory in
            do {
                _ = try EdgeConfig.parse(text, file: "edge.yaml", baseDirectory: directory)
                Issue.record("expected errors")
            } catch let error as ConfigError {
                let lines = error.diagnostics.map(\.description)
                let expected = [
                    "edge.yaml:2: listen[0].address: \"localhost\" is not host:port",
                    "edge.yaml:3: access_log.format: \"xml\" is not one of combined, json",
                    "edge.yaml:4: limits.header_timeout: \"10\" is not a duration",
                    "edge.yaml:4: limits.max_connections: 0 is out of range",
                    "edge.yaml:6: routes[0].match.path_prefix: \"docs\" must start with /",
                    "edge.yaml:6: routes[0].match.methods[0]: \"get\" is not an HTTP method",
                    "edge.yaml:7: routes[0].static.root: the directory \(directory)/missing does not exist",
                    "edge.yaml:6: routes[0]: has two actions: use either static or upstream",
                    "edge.yaml:9: routes[1].match.host: \"a.*.org\" is not a host name",
                    "edge.yaml:10: routes[1].cors: allow_origins \"*\" cannot be combined with allow_credentials",
                    "edge.yaml:11: routes[1].cors.allow_origins[1]: origin \"https://ok.example.com/\" must not end with /",
                    "edge.yaml:11: routes[1].cors.allow_origins[2]: origin \"ftp://x\" must use http or https",
                    "edge.yaml:13: routes[1].cors.max_age: 100000 is out of range",
                    "edge.yaml:14: routes[1].static.spa_fallback: \"../escape.html\" must be a file path inside the root",
                    "edge.yaml:15: routes[2]: needs an action: static or upstream",
                    "edge.yaml:16: routes[3].name: must be 1 to 64 visible ASCII characters",
                ]
                for prefix in expected {
                    #expect(
                        lines.contains { $0.hasPrefix(prefix) },
                        "missing: \(prefix)\nin:\n\(lines.joined(separator: "\n"))")
                }
            }
        }
    }

    @Test("unknown keys and YAML syntax errors are reported with lines")
    func unknownAndSyntax() async throws {
        try await Self.withDirectories { directory in
            #expect(throws: ConfigError.self) {
                try EdgeConfig.parse(
                    "routes:\n  - match: { path_prefix: / }\n    statik: { root: ./web }\n", file: "e.yaml",
                    baseDirectory: directory)
            }
            do {
                _ = try EdgeConfig.parse(
                    "routes:\n  - match: { path_prefix: / }\n    statik: { root: ./web }\n", file: "e.yaml",
                    baseDirectory: directory)
            } catch let error as ConfigError {
                #expect(
                    error.diagnostics.map(\.description).contains(
                        "e.yaml:3: routes[0]: unknown field \"statik\" (did you mean \"static\"?)"))
            }
            do {
                _ = try EdgeConfig.parse("routes: [\n", file: "e.yaml", baseDirectory: directory)
                Issue.record("expected a syntax error")
            } catch let error as ConfigError {
                #expect(error.diagnostics.first?.line != nil)
            }
        }
    }
}
