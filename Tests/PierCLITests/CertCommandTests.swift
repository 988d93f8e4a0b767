import Foundation
import PierCore
import PierTesting
import Testing

/// `pier edge` with `acme:` and `pier cert` as operators run them, against Debian's pebble.
@Suite("pier cert and ACME in pier edge", .enabled(if: PebbleCA.isInstalled))
struct CertCommandTests {
    @Test(
        "pier edge obtains certificates; pier cert status lists them; pier cert renew --force renews and waits; a name outside acme.domains is refused; bad acme settings name file, line and field"
    )
    func statusAndRenew() async throws {
        try await TemporaryDirectory.with { directory in
            let plainPort = try LoopbackPort.reserve()
            let tlsPort = try LoopbackPort.reserve()
            let adminPort = try LoopbackPort.reserve()
            try await PebbleCA.with(httpPort: plainPort, under: directory) { pebble in
                try TemporaryDirectory.write("<p>hello</p>", to: "site/index.html", under: directory)
                let path = directory + "/edge.yaml"
                try """
                listen:
                  - { address: 127.0.0.1:\(plainPort), redirect_https: true }
                  - { address: 127.0.0.1:\(tlsPort), tls: { acme: true } }
                admin: { listen: 127.0.0.1:\(adminPort) }
                access_log: off
                acme:
                  directory: \(pebble.directoryURL)
                  domains: [app.pier.test]
                  trusted_roots: \(pebble.trustedRoots)
                  storage: ./acme
                routes:
                  - static: { root: ./site }
                """.write(toFile: path, atomically: true, encoding: .utf8)
                let edge = try RunningProcess(executable: PierBinary.url, arguments: ["edge", "--config", path])
                try await edge.waitForOutput(
                    containing: "ACME certificate obtained", inStandardError: true, timeout: .seconds(90))

                let status = try await PierBinary.run(["cert", "status", "--config", path])
                #expect(status.status == 0, "\(status.output + status.error)")
                #expect(status.output.contains("app.pier.test"), "\(status.output)")
                #expect(status.output.contains("acme") && status.output.contains("valid"), "\(status.output)")

                let refused = try await PierBinary.run(["cert", "renew", "--config", path, "--name", "evil.pier.test"])
                #expect(refused.status == 1)
                #expect(
                    (refused.output + refused.error).contains("name_not_allowed"), "\((refused.output + refused.error))"
                )
                #expect(pebble.orders == 1)

                let notDue = try await PierBinary.run(["cert", "renew", "--config", path])
                #expect(notDue.status == 0)
                #expect(notDue.output.contains("nothing is due"), "\((notDue.output + notDue.error))")

                let renewed = try await PierBinary.run(["cert", "renew", "--config", path, "--force"])
                #expect(renewed.status == 0, "\((renewed.output + renewed.error))")
                #expect(renewed.output.contains("app.pier.test: renewed"), "\((renewed.output + renewed.error))")
                #expect(pebble.orders == 2)
                #expect(await edge.stop() == 0)

                // Offline: the storage is read.
                let offline = try await PierBinary.run(["cert", "status", "--config", path])
                #expect(offline.status == 0)
                #expect(offline.output.contains("app.pier.test") && offline.error.contains("not reachable"))

                try """
                listen:
                  - { address: 127.0.0.1:8443, tls: { acme: true } }
                acme:
                  domains: ["*.pier.test", app.pier.test]
                  challenges: [tls-alpn-01]
                routes:
                  - static: { root: ./site }
                """.write(toFile: path, atomically: true, encoding: .utf8)
                let bad = try await PierBinary.run(["config", "check", path])
                #expect(bad.status == 1)
                #expect(bad.error.contains("edge.yaml:4: acme.domains[0]: wildcard names need dns-01"), "\(bad.error)")
                #expect(
                    bad.error.contains("edge.yaml:5: acme.challenges[0]: tls-alpn-01 is not offered"), "\(bad.error)")
            }
        }
    }

    @Test("pier up --domain serves the board over HTTPS with a certificate from the CA, and redirects plain HTTP")
    func upWithDomain() async throws {
        try await TemporaryDirectory.with { directory in
            let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../web")
                .standardized.path
            let plainPort = try LoopbackPort.reserve()
            try await PebbleCA.with(httpPort: plainPort, under: directory) { pebble in
                let process = try RunningProcess(
                    executable: PierBinary.url,
                    arguments: [
                        "up", "--listen", "127.0.0.1:0", "--redirect-from", "127.0.0.1:\(plainPort)", "--data-dir",
                        directory + "/data", "--web-root", web, "--bcrypt-cost", "10", "--domain", "board.pier.test",
                        "--acme-directory", pebble.directoryURL, "--acme-trusted-roots", pebble.trustedRoots,
                    ])
                try await process.waitForOutput(containing: "pier up: open https://")
                let port = try #require(process.firstMatch(#"open https://127\.0\.0\.1:(\d+)/"#).flatMap { Int($0) })
                try await process.waitForOutput(
                    containing: "ACME certificate obtained", inStandardError: true, timeout: .seconds(90))
                let root = try await pebble.rootPEM(under: directory)
                let page = try await CommandLineTool.run(
                    "curl",
                    [
                        "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--cacert", root, "--resolve",
                        "board.pier.test:\(port):127.0.0.1", "https://board.pier.test:\(port)/",
                    ])
                #expect(page.output == "200 2", "\(page.all)")
                let redirect = try await CommandLineTool.run(
                    "curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(plainPort)/"])
                #expect(redirect.output == "308")
                #expect(
                    FileManager.default.fileExists(
                        atPath: directory + "/data/acme/certificates/board.pier.test/certificate.pem"))
                #expect(await process.stop() == 0)

                let bad = try await PierBinary.run(["up", "--domain", "*.pier.test"])
                #expect(bad.status != 0)
                #expect(bad.error.contains("--domain"), "\(bad.error)")
            }
        }
    }
}
