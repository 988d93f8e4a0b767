import Foundation
import PierTesting
import Testing

@Suite("pier config check")
struct ConfigCheckTests {
    @Test("a valid file: exit 0 and a summary of the routes")
    func valid() async throws {
        try await TemporaryDirectory.with { directory in
            try FileManager.default.createDirectory(atPath: directory + "/web", withIntermediateDirectories: true)
            try TemporaryDirectory.write(
                """
                listen:
                  - address: 127.0.0.1:8080
                routes:
                  - match: { path_prefix: / }
                    cors: { allow_origins: ["https://app.example.com"], allow_credentials: true }
                    static: { root: ./web, spa_fallback: index.html }
                """,
                to: "edge.yaml",
                under: directory
            )
            let result = try await PierBinary.run(["config", "check", directory + "/edge.yaml"])
            #expect(result.status == 0)
            #expect(result.output.contains("\(directory)/edge.yaml: OK"))
            #expect(
                result.output.contains(
                    "1. host any, path /, methods any -> static \(directory)/web (spa_fallback index.html); cors https://app.example.com with credentials"
                ))
        }
    }

    @Test("an invalid file: exit 1 and every error with file and line")
    func invalid() async throws {
        try await TemporaryDirectory.with { directory in
            try TemporaryDirectory.write(
                "routes:\n  - match: { path_prefix: nope }\n    static: { root: ./absent }\n",
                to: "bad.yaml",
                under: directory
            )
            let path = directory + "/bad.yaml"
            let result = try await PierBinary.run(["config", "check", path])
            #expect(result.status == 1)
            #expect(result.error.contains("\(path):2: routes[0].match.path_prefix: \"nope\" must start with /"))
            #expect(
                result.error.contains(
                    "\(path):3: routes[0].static.root: the directory \(directory)/absent does not exist"))
            #expect(result.error.contains("\(path): 2 errors"))
            let missing = try await PierBinary.run(["config", "check", directory + "/nothing.yaml"])
            #expect(missing.status == 1)
            #expect(missing.error.contains("cannot read the file"))
        }
    }
}
