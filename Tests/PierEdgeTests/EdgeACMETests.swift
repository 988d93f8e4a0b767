import Foundation
import PierACME
import PierCore
import PierTesting
import Synchronization
import Testing
import X509

@testable import PierEdge

/// An edge with ACME against Pebble: a plain listener on `plainPort` (where Pebble validates http-01, and which
/// redirects everything else), a TLS listener serving the certificates, and the ACME storage in `storage`.
func withACMEEdge(
    pebble: PebbleCA, plainPort: Int, storage: String, domains: [String],
    _ body: @Sendable (EdgeFixture) async throws -> Void
) async throws {
    try await EdgeFixture.run(
        """
        listen:
          - address: 127.0.0.1:\(plainPort)
            redirect_https: true
          - address: 127.0.0.1:0
            tls: { acme: true }
        acme:
          directory: \(pebble.directoryURL)
          email: ops@pier.test
          domains: [\(domains.joined(separator: ", "))]
          trusted_roots: \(pebble.trustedRoots)
          storage: \(storage)
        access_log: { path: ./access.log }
        routes:
          - match: { path_prefix: / }
            static: { root: ./site }
        """,
        files: ["site/index.html": "<p>served over ACME</p>"],
        keepListeners: true, body)
}

extension EdgeFixture {
    /// Waits until ACME has a certificate for every name (obtained after `since`), or fails with the last errors.
    func waitForCertificates(since: Date = .distantPast, timeout: Duration = .seconds(90)) async throws
        -> [ACMECertificateManager.Status]
    {
        let manager = try #require(stack.acme)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let statuses = manager.statuses()
            if statuses.allSatisfy({ ($0.certificate?.obtainedAt ?? .distantPast) > since && !$0.ordering }) {
                return statuses
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("no certificates in time: \(manager.statuses().map { "\($0.name): \($0.lastError ?? "-")" })")
        return manager.statuses()
    }
}

/// The serial number of the certificate the TLS listener presents for `name`.
func servedSerial(port: Int, name: String) async throws -> String {
    let result = try await CommandLineTool.run(
        "sh",
        [
            "-c",
            "openssl s_client -connect 127.0.0.1:\(port) -servername \(name) </dev/null 2>/dev/null | openssl x509 -noout -serial",
        ],
        timeout: .seconds(15))
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("Edge: automatic certificates (ACME against Pebble)", .enabled(if: PebbleCA.isInstalled), .serialized)
struct EdgeACMETests {
    @Test(
        "certificates are obtained with http-01, verify against Pebble's root, are stored 0600 in 0700 directories, survive a restart without a new order, and a forced renewal swaps them while a connection stays open"
    )
    func issuanceRenewalRestart() async throws {
        try await TemporaryDirectory.with { directory in
            let plainPort = try LoopbackPort.reserve()
            // A third of good nonces refused: the client must send those requests again.
            let pebble = try await PebbleCA.start(httpPort: plainPort, under: directory, nonceRejectPercent: 30)
            let storage = directory + "/acme"
            let domains = ["app.pier.test", "www.pier.test"]
            let served = Mutex("")
            do {
                try await withACMEEdge(pebble: pebble, plainPort: plainPort, storage: storage, domains: domains) {
                    edge in
                    let statuses = try await edge.waitForCertificates()
                    #expect(statuses.count == 2)
                    for status in statuses {
                        #expect(status.certificate?.names == [status.name])
                        #expect(status.lastError == nil)
                    }
                    #expect(pebble.orders == 2)
                    #expect(try #require(edge.stack.acme).badNonceRetries > 0)
                    let tlsPort = edge.ports[1]
                    let root = try await pebble.rootPEM(under: directory)

                    // The chain as served verifies against Pebble's root, for each name by SNI.
                    for name in domains {
                        let result = try await CommandLineTool.run(
                            "curl",
                            [
                                "-sS", "--cacert", root, "--resolve", "\(name):\(tlsPort):127.0.0.1",
                                "https://\(name):\(tlsPort)/",
                            ])
                        #expect(result.status == 0, "\(name): \(result.all)")
                        #expect(result.output.contains("served over ACME"))
                        let stored = try #require(statuses.first { $0.name == name }?.certificate)
                        let verify = try await CommandLineTool.run(
                            "openssl",
                            ["verify", "-CAfile", root, "-untrusted", stored.certificatePath, stored.certificatePath])
                        #expect(verify.output.contains(": OK"), "\(verify.all)")
                    }

                    // Storage: owner only.
                    func mode(_ path: String) throws -> Int {
                        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?
                            .intValue ?? -1
                    }
                    let stored = try #require(statuses[0].certificate)
                    #expect(try mode(storage) == 0o700)
                    #expect(try mode(storage + "/certificates") == 0o700)
                    #expect(try mode(stored.keyPath) == 0o600)
                    #expect(try mode(stored.certificatePath) == 0o600)
                    let accountKeys = try FileManager.default.subpathsOfDirectory(atPath: storage + "/accounts")
                        .filter { $0.hasSuffix("account.key") }
                    #expect(accountKeys.count == 1)
                    #expect(try mode(storage + "/accounts/" + accountKeys[0]) == 0o600)

                    // The plain listener redirects everything but the challenge path.
                    let redirect = try await edge.get("/x")
                    #expect(redirect.status == 308)

                    // A name outside the allow-list is refused before anything reaches the CA.
                    let manager = try #require(edge.stack.acme)
                    #expect(throws: ACMEError.self) { try manager.renew(names: ["evil.pier.test"], force: true) }
                    #expect(pebble.orders == 2)

                    // A forced renewal: new connections get the new certificate, an open one keeps working.
                    let firstSerial = try await servedSerial(port: tlsPort, name: "app.pier.test")
                    #expect(firstSerial.hasPrefix("serial="))
                    let client = try await TLSTestClient.connect(
                        port: tlsPort, serverName: "app.pier.test", caPEMFile: root)
                    let before = try await client.exchange(
                        "GET / HTTP/1.1\r\nHost: app.pier.test\r\n\r\n", until: "</p>")
                    #expect(before.hasPrefix("HTTP/1.1 200"))
                    let renewedAt = Date()
                    #expect(try manager.renew(names: ["app.pier.test"], force: true) == ["app.pier.test"])
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline,
                        (manager.statuses().first { $0.name == "app.pier.test" }?.certificate?.obtainedAt
                            ?? .distantPast)
                            < renewedAt
                    {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    #expect(pebble.orders == 3)
                    let secondSerial = try await servedSerial(port: tlsPort, name: "app.pier.test")
                    #expect(secondSerial.hasPrefix("serial=") && secondSerial != firstSerial)
                    served.withLock { $0 = secondSerial }
                    let after = try await client.exchange(
                        "GET / HTTP/1.1\r\nHost: app.pier.test\r\n\r\n", until: "</p>")
                    #expect(after.hasPrefix("HTTP/1.1 200"), "the open connection keeps working")
                    await client.close()

                    // What the admin listener and `pier cert status` read.
                    let json = EdgeAdminServer.certificatesJSON(server: edge.server, acme: manager)
                    #expect(json.contains("\"name\":\"app.pier.test\"") && json.contains("\"state\":\"valid\""))
                    #expect(json.contains("\"days_to_expiry\":"))
                }

                // A restart with the stored certificates: served at once, no new order.
                try await withACMEEdge(pebble: pebble, plainPort: plainPort, storage: storage, domains: domains) {
                    edge in
                    #expect(edge.stack.acme?.storedCertificates.count == 2)
                    try await Task.sleep(for: .seconds(2))
                    #expect(pebble.orders == 3, "no order for names with a stored certificate")
                    let serial = try await servedSerial(port: edge.ports[1], name: "app.pier.test")
                    #expect(serial == served.withLock { $0 })
                }
            } catch {
                await pebble.stop()
                throw error
            }
            await pebble.stop()
        }
    }

    @Test(
        "a failed order is logged with the CA's problem and retried with back-off; the TLS listener serves nothing meanwhile"
    )
    func failureIsLoud() async throws {
        try await TemporaryDirectory.with { directory in
            let plainPort = try LoopbackPort.reserve()
            // Pebble validates on a port where nothing listens: every http-01 challenge fails.
            let pebble = try await PebbleCA.start(httpPort: try LoopbackPort.reserve(), under: directory)
            do {
                try await withACMEEdge(
                    pebble: pebble, plainPort: plainPort, storage: directory + "/acme", domains: ["app.pier.test"]
                ) { edge in
                    let manager = try #require(edge.stack.acme)
                    let deadline = ContinuousClock.now + .seconds(60)
                    while ContinuousClock.now < deadline, manager.statuses()[0].failures == 0 {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    let status = manager.statuses()[0]
                    #expect(status.failures == 1)
                    #expect(status.certificate == nil)
                    let error = try #require(status.lastError)
                    #expect(error.contains("http-01 app.pier.test"), "\(error)")
                    #expect(
                        error.contains("connection") || error.contains("Connection"),
                        "Pebble's problem detail: \(error)")
                    let retry = try #require(status.nextAttempt)
                    #expect(retry.timeIntervalSinceNow > 20 && retry.timeIntervalSinceNow <= 61)
                    // Without a certificate the TLS listener serves nothing (no self-signed stand-in); the plain
                    // listener keeps answering.
                    let result = try await CommandLineTool.run(
                        "curl", ["-sSk", "https://127.0.0.1:\(edge.ports[1])/"])
                    #expect(result.status != 0, "\(result.all)")
                    #expect(!result.output.contains("served over ACME"))
                    #expect(try await edge.get("/x").status == 308)
                }
            } catch {
                await pebble.stop()
                throw error
            }
            await pebble.stop()
        }
    }
}
