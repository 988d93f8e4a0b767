import Foundation
import PierCore
import PierTesting
import Testing

@testable import PierEdge

/// Runs an edge with a TLS listener (certificates for `app.test` and `*.other.test`), a plain redirecting listener and
/// a plain h2c listener, in front of a stub upstream; `ports` are in that order.
func withTLSEdge(
    extraYAML: String = "",
    _ body:
        @Sendable (EdgeFixture, _ caPath: String, _ authority: TestCertificateAuthority, StubUpstream) async throws ->
        Void
) async throws {
    let authority = try TestCertificateAuthority()
    let stub = try await StubUpstream.start(name: "a")
    defer { Task { await stub.kill() } }
    let prepare: @Sendable (String) throws -> Void = { directory in
        try authority.write(["app.test", "www.app.test"], as: "app", under: directory)
        try authority.write(["*.other.test"], as: "other", under: directory)
        _ = try authority.writeAuthority(under: directory)
        // A large file, sent from disk: over TLS it cannot go by sendfile.
        let big = String(repeating: "0123456789abcdef", count: 64 * 1024 * 3)
        try big.write(toFile: directory + "/site/big.bin", atomically: true, encoding: .utf8)
    }
    try await EdgeFixture.run(
        """
        listen:
          - address: 127.0.0.1:0
            tls:
              certificates:
                - { cert: ./app.pem, key: ./app.key }
                - { cert: ./other.pem, key: ./other.key }
          - address: 127.0.0.1:0
            redirect_https: true
          - address: 127.0.0.1:0
            http2: true
        hsts: { max_age: 600 }
        access_log: { format: json, path: ./access.log }
        \(extraYAML)
        routes:
          - match: { path_prefix: /api/ }
            upstream: app
            strip_prefix: /api
          - match: { path_prefix: / }
            static: { root: ./site, spa_fallback: index.html }
            cors: { allow_origins: ["https://app.test"] }
        upstreams:
          app: { targets: [\(stub.address)] }
        """,
        files: ["site/index.html": "<p>app</p>", "site/a.txt": String(repeating: "a", count: 3000)],
        keepListeners: true,
        prepare: prepare
    ) { edge in
        try await body(edge, edge.directory + "/ca.pem", authority, stub)
    }
}

/// `curl` against the edge, resolving the test names to 127.0.0.1.
func curl(_ arguments: [String], port: Int, ca: String) async throws -> CommandLineTool.Result {
    try await CommandLineTool.run(
        "curl",
        [
            "-sS", "--cacert", ca, "--resolve", "app.test:\(port):127.0.0.1", "--resolve",
            "x.other.test:\(port):127.0.0.1",
        ]
            + arguments)
}

@Suite("Edge: TLS and HTTP/2")
struct EdgeTLSTests {
    @Test("TLS 1.2 and 1.3 are accepted with AEAD ciphers, 1.1 is refused; SNI picks the certificate")
    func versionsAndSNI() async throws {
        try await withTLSEdge { edge, ca, _, _ in
            let port = edge.ports[0]
            func handshake(_ flags: [String]) async throws -> CommandLineTool.Result {
                try await CommandLineTool.run(
                    "openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", ca] + flags, input: "",
                    timeout: .seconds(10))
            }
            // s_client says "Cipher is (NONE)" when no session was established.
            let old = try await handshake(["-servername", "app.test", "-tls1_1"])
            #expect(old.all.contains("Cipher is (NONE)"), "\(old.all)")
            for (flag, name) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
                let result = try await handshake(["-servername", "app.test", flag])
                #expect(result.all.contains("New, \(name), Cipher is"), "\(flag): \(result.all)")
                #expect(result.all.contains("Verify return code: 0 (ok)"), "\(flag)")
                #expect(result.all.contains("subject=CN = app.test"), "\(flag)")
                #expect(!result.all.contains("Cipher is (NONE)"))
            }
            for weak in ["AES128-SHA", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA"] {
                let result = try await handshake(["-servername", "app.test", "-tls1_2", "-cipher", weak])
                #expect(result.all.contains("Cipher is (NONE)"), "\(weak) must be refused")
            }
            let other = try await handshake(["-servername", "x.other.test", "-tls1_3"])
            #expect(other.all.contains("subject=CN = *.other.test"), "\(other.all)")
            #expect(other.all.contains("Verify return code: 0 (ok)"))
            // No SNI, or a name no certificate has: the first certificate.
            let none = try await handshake(["-noservername", "-tls1_3"])
            #expect(none.all.contains("subject=CN = app.test"))
        }
    }

    @Test("TLS sessions resume (session tickets)")
    func resumption() async throws {
        try await withTLSEdge { edge, ca, _, _ in
            let port = edge.ports[0]
            let session = edge.directory + "/session.pem"
            let first = try await CommandLineTool.run(
                "openssl",
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "app.test", "-CAfile", ca, "-tls1_2",
                    "-sess_out", session,
                ],
                input: "", timeout: .seconds(10))
            #expect(first.all.contains("New, TLSv1.2"), "\(first.all)")
            let second = try await CommandLineTool.run(
                "openssl",
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "app.test", "-CAfile", ca, "-tls1_2",
                    "-sess_in", session,
                ],
                input: "", timeout: .seconds(10))
            #expect(second.all.contains("Reused, TLSv1.2"), "\(second.all)")
        }
    }

    @Test("HTTP/2 by ALPN and HTTP/1.1 over TLS serve the same answers: static, ranges, 304, SPA fallback, CORS, HSTS")
    func sameAnswers() async throws {
        try await withTLSEdge { edge, ca, _, _ in
            let port = edge.ports[0]
            for version in ["--http2", "--http1.1"] {
                let base = "https://app.test:\(port)"
                let plain = try await curl([version, "-i", base + "/a.txt"], port: port, ca: ca)
                #expect(plain.output.contains(version == "--http2" ? "HTTP/2 200" : "HTTP/1.1 200"), "\(plain.all)")
                #expect(plain.output.lowercased().contains("strict-transport-security: max-age=600"))
                #expect(plain.output.hasSuffix(String(repeating: "a", count: 3000)))
                let ranged = try await curl([version, "-i", "-r", "10-19", base + "/a.txt"], port: port, ca: ca)
                #expect(ranged.output.contains(" 206"), "\(ranged.all)")
                #expect(ranged.output.hasSuffix("aaaaaaaaaa"))
                let etag =
                    plain.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }
                    .map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) } ?? ""
                let conditional = try await curl(
                    [version, "-i", "-H", "If-None-Match: \(etag)", base + "/a.txt"], port: port, ca: ca)
                #expect(conditional.output.contains(" 304"), "\(conditional.all)")
                let fallback = try await curl(
                    [version, "-i", "-H", "Accept: text/html", base + "/some/route"], port: port, ca: ca)
                #expect(fallback.output.contains(" 200") && fallback.output.hasSuffix("<p>app</p>"))
                let missing = try await curl([version, "-i", base + "/missing.js"], port: port, ca: ca)
                #expect(missing.output.contains(" 404"))
                let preflight = try await curl(
                    [
                        version, "-i", "-X", "OPTIONS", "-H", "Origin: https://app.test", "-H",
                        "Access-Control-Request-Method: GET", base + "/a.txt",
                    ],
                    port: port, ca: ca)
                #expect(preflight.output.contains(" 204"))
                #expect(preflight.output.lowercased().contains("access-control-allow-origin: https://app.test"))
                let big = try await curl(
                    [
                        version, "-o", edge.directory + "/got.bin", "-w", "%{http_code} %{size_download}",
                        base + "/big.bin",
                    ], port: port, ca: ca)
                #expect(big.output == "200 \(16 * 64 * 1024 * 3)", "\(big.all)")
            }
            edge.server.runtime.accessLog?.flush()
            let log = try String(contentsOfFile: edge.directory + "/access.log", encoding: .utf8)
            #expect(log.contains("\"protocol\":\"HTTP/2.0\"") && log.contains("\"alpn\":\"h2\""))
            #expect(log.contains("\"tls\":\"TLSv1.3\"") && log.contains("\"alpn\":\"http/1.1\""))
        }
    }

    @Test("proxying over HTTP/2: forwarding fields say https, bodies stream both ways, SSE arrives unbuffered")
    func proxyOverHTTP2() async throws {
        try await withTLSEdge { edge, ca, _, stub in
            let port = edge.ports[0]
            let base = "https://app.test:\(port)/api"
            let headers = try await curl(
                ["--http2", base + "/headers", "-H", "Cookie: a=1", "-H", "Cookie: b=2"], port: port, ca: ca)
            #expect(headers.status == 0)
            let seen = try #require(stub.requests.last)
            #expect(seen.header("X-Forwarded-Proto") == "https")
            #expect(seen.header("Forwarded")?.contains("proto=https") == true)
            #expect(seen.header("Host") == "app.test:\(port)")
            #expect(seen.headers.filter { $0.name.lowercased() == "cookie" }.map(\.value) == ["a=1; b=2"])
            let upload = try await curl(
                ["--http2", "-X", "POST", "--data-binary", "@" + edge.directory + "/site/big.bin", base + "/count"],
                port: port, ca: ca)
            #expect(upload.output == String(16 * 64 * 1024 * 3), "\(upload.all)")
            let events = try await curl(["--http2", "-N", base + "/sse"], port: port, ca: ca)
            #expect(events.output.components(separatedBy: "data:").count == 4, "\(events.all)")
            let sent = stub.eventsSent
            #expect(sent.count >= 3)
        }
    }

    @Test("h2c with prior knowledge on a plain listener with http2: true; HTTP/1.1 still works there")
    func priorKnowledge() async throws {
        try await withTLSEdge { edge, _, _, _ in
            let port = edge.ports[2]
            let h2 = try await CommandLineTool.run(
                "curl", ["-sS", "-i", "--http2-prior-knowledge", "http://127.0.0.1:\(port)/a.txt"])
            #expect(h2.output.hasPrefix("HTTP/2 200"), "\(h2.all)")
            let h1 = try await CommandLineTool.run("curl", ["-sS", "-i", "http://127.0.0.1:\(port)/a.txt"])
            #expect(h1.output.hasPrefix("HTTP/1.1 200"), "\(h1.all)")
            #expect(!h1.output.lowercased().contains("strict-transport-security"), "HSTS only on TLS")
            // No h2c upgrade: the Upgrade is ignored and the answer is HTTP/1.1.
            let upgrade = try await CommandLineTool.run(
                "curl", ["-sS", "-i", "--http2", "http://127.0.0.1:\(port)/a.txt"])
            #expect(upgrade.output.hasPrefix("HTTP/1.1 200"), "\(upgrade.all)")
        }
    }

    @Test("redirect_https sends everything to the TLS listener with 308, except ACME http-01 challenges")
    func redirect() async throws {
        try await withTLSEdge { edge, _, _, _ in
            let redirected = try await RawHTTPClient.request(
                port: edge.ports[1], "GET", "/some/path?q=1", headers: [("Host", "app.test:8080")])
            #expect(redirected.status == 308)
            #expect(redirected.header("Location") == "https://app.test:\(edge.ports[0])/some/path?q=1")
            let challenge = try await RawHTTPClient.request(
                port: edge.ports[1], "GET", "/.well-known/acme-challenge/token", headers: [("Host", "app.test")])
            #expect(challenge.status != 308)
        }
    }

    @Test("certificate files are reloaded on change without dropping connections; a bad file keeps the old one")
    func certificateReload() async throws {
        try await withTLSEdge { edge, ca, authority, _ in
            let port = edge.ports[0]
            @Sendable func serial() async throws -> String {
                let result = try await CommandLineTool.run(
                    "sh",
                    [
                        "-c",
                        "openssl s_client -connect 127.0.0.1:\(port) -servername app.test -CAfile \(ca) </dev/null 2>/dev/null | openssl x509 -noout -serial",
                    ])
                return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let before = try await serial()
            #expect(before.hasPrefix("serial="))
            // A keep-alive connection opened before the change keeps working after it, with its certificate.
            let kept = try await TLSTestClient.connect(port: port, serverName: "app.test", caPEMFile: ca)
            defer { Task { await kept.close() } }
            let request = "GET /a.txt HTTP/1.1\r\nHost: app.test\r\n\r\n"
            #expect(try await kept.exchange(request, until: "aaaa").hasPrefix("HTTP/1.1 200"))
            try authority.write(["app.test", "www.app.test"], as: "app", under: edge.directory)
            try await eventually("the new certificate is served", within: .seconds(10)) {
                try await serial() != before
            }
            #expect(try await kept.exchange(request, until: "aaaa").hasPrefix("HTTP/1.1 200"))
            let fresh = try await TLSTestClient.connect(port: port, serverName: "app.test", caPEMFile: ca)
            #expect(fresh.serverCertificate != kept.serverCertificate)
            await fresh.close()
            let after = try await serial()
            try "not a certificate".write(toFile: edge.directory + "/app.pem", atomically: true, encoding: .utf8)
            try await Task.sleep(for: .seconds(1))
            #expect(try await serial() == after, "a broken file must leave the served certificate as it was")
        }
    }

    @Test("TLS configuration errors name the file, line and field")
    func configurationErrors() throws {
        let yaml = """
            listen:
              - address: 127.0.0.1:8443
                tls: { certificates: [{ cert: ./missing.pem, key: ./missing.key }], min_version: "1.1" }
                redirect_https: true
            hsts: { max_age: 600, preload: true }
            routes:
              - static: { root: /tmp }
            """
        do {
            _ = try EdgeConfig.parse(yaml, file: "edge.yaml", baseDirectory: "/tmp")
            Issue.record("expected errors")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(
                lines.contains { $0.contains("edge.yaml:3") && $0.contains("cannot read /tmp/missing.pem") }, "\(lines)"
            )
            #expect(lines.contains { $0.contains("min_version") && $0.contains("1.1") }, "\(lines)")
            #expect(lines.contains { $0.contains("redirect_https") && $0.contains("plain listeners") }, "\(lines)")
            #expect(lines.contains { $0.contains("hsts.preload") }, "\(lines)")
        }
    }

    // Heavy: floods of 200,000 frames keep the shared test event loops busy, which would upset the timing of the
    // suites running beside it; scripts/test runs it alone.
    @Test(
        "hostile HTTP/2 frame sequences (rapid reset, CONTINUATION and control-frame floods, oversized headers, window abuse) are cut off and the edge serves others",
        .enabled(if: Self.heavy)
    )
    func hostileFrames() async throws {
        guard let python = TestPython.interpreter else {
            Issue.record("the Python venv (scripts/test prepares it) is missing at \(TestPython.venv)")
            return
        }
        let script = TestPython.probe("h2_probes.py")
        try await withTLSEdge { edge, _, _, _ in
            for arguments in [["--port", "\(edge.ports[2])"], ["--port", "\(edge.ports[0])", "--tls"]] {
                let result = try await CommandLineTool.run(
                    python, [script, "--path", "/a.txt"] + arguments, timeout: .seconds(120))
                print(result.output)
                #expect(result.status == 0, "\(arguments): \(result.all)")
                #expect(result.output.split(separator: "\n").filter { $0.hasPrefix("ok") }.count == 9)
            }
        }
    }

    @Test("shutdown sends GOAWAY on HTTP/2 connections, lets the streams in flight finish, then closes")
    func gracefulGoAway() async throws {
        try await withTLSEdge { edge, _, _, _ in
            let probe = try RunningProcess(
                executable: URL(fileURLWithPath: TestPython.venv + "/bin/python"),
                arguments: [
                    TestPython.probe("h2_probes.py"), "--port", "\(edge.ports[0])", "--tls",
                    "--graceful", "/api/slow/800",
                ])
            try await probe.waitForOutput(containing: "sent")
            try await Task.sleep(for: .milliseconds(200))
            await edge.shutdown()
            try await probe.waitForOutput(containing: "closed", timeout: .seconds(15))
            #expect(
                probe.standardOutput.contains("goaway (0, 1) status 200 ended True closed True"),
                "\(probe.standardOutput) \(probe.standardError)")
            _ = await probe.stop()
        }
    }

    static let heavy = ProcessInfo.processInfo.environment["PIER_TEST_HEAVY"] == "1"

    @Test("testssl.sh finds nothing of severity MEDIUM or higher on a TLS listener", .enabled(if: Self.heavy))
    func testsslGrade() async throws {
        let authority = try TestCertificateAuthority()
        let prepare: @Sendable (String) throws -> Void = {
            try authority.write(["app.test"], as: "app", under: $0, validFor: 365)
        }
        try await EdgeFixture.run(
            """
            listen:
              - address: 127.0.0.1:0
                tls:
                  certificates: [{ cert: ./app.pem, key: ./app.key }]
            hsts: { max_age: 31536000 }
            access_log: off
            routes:
              - static: { root: ./site }
            """,
            files: ["site/index.html": "<p>app</p>"], keepListeners: true, prepare: prepare
        ) { edge in
            let ca = try authority.writeAuthority(under: edge.directory)
            let report = edge.directory + "/testssl.json"
            let result = try await CommandLineTool.run(
                "testssl",
                [
                    "--quiet", "--color", "0", "--add-ca", ca, "--ip", "127.0.0.1", "--jsonfile", report,
                    "app.test:\(edge.port)",
                ],
                timeout: .seconds(600))
            let data = try Data(contentsOf: URL(fileURLWithPath: report))
            let findings = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            let serious = findings.filter { ["MEDIUM", "HIGH", "CRITICAL"].contains($0["severity"] as? String ?? "") }
            var counts: [String: Int] = [:]
            for finding in findings { counts[finding["severity"] as? String ?? "?", default: 0] += 1 }
            print(
                "testssl: \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
            for finding in findings where ["LOW", "WARN"].contains(finding["severity"] as? String ?? "") {
                print("testssl \(finding["severity"] ?? ""): \(finding["id"] ?? "") \(finding["finding"] ?? "")")
            }
            #expect(serious.isEmpty, "\(serious.map { "\($0["id"] ?? ""): \($0["finding"] ?? "")" }) \(result.errors)")
            #expect(findings.count > 50, "testssl ran its checks")
        }
    }
}
