import Foundation
import PierTesting
import Testing

/// `pier up` as a newcomer runs it: one process, the edge in front of the board and the web app.
@Suite("pier up")
struct UpCommandTests {
    @Test("the web app and the API are served with a strict security policy")
    func securityHeaders() async throws {
        try await TemporaryDirectory.with { directory in
            let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../web")
                .standardized.path
            let process = try RunningProcess(
                executable: PierBinary.url,
                arguments: [
                    "up", "--listen", "127.0.0.1:0", "--data-dir", directory + "/data", "--web-root", web,
                    "--bcrypt-cost", "10",
                ])
            try await process.waitForOutput(containing: "pier up: open http://")
            let port = try #require(process.firstMatch(#"open http://127\.0\.0\.1:(\d+)/"#).flatMap { Int($0) })

            let page = try await RawHTTPClient.request(port: port, "GET", "/", headers: [("Accept", "text/html")])
            #expect(page.status == 200)
            let policy = try #require(page.header("Content-Security-Policy"))
            for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]
            {
                #expect(policy.contains(directive), "\(policy)")
            }
            #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
            #expect(page.header("X-Content-Type-Options") == "nosniff")
            #expect(page.header("Referrer-Policy") == "same-origin")
            // A client-side route gets the app with the same policy.
            let route = try await RawHTTPClient.request(
                port: port, "GET", "/boards/some-board", headers: [("Accept", "text/html")])
            #expect(route.status == 200)
            #expect(route.header("Content-Security-Policy") == policy)

            let api = try await RawHTTPClient.request(port: port, "GET", "/api/v1/me")
            #expect(api.status == 401)
            #expect(api.header("X-Content-Type-Options") == "nosniff")
            #expect(api.headerValues("Content-Security-Policy") == ["default-src 'none'; frame-ancestors 'none'"])
            #expect(api.header("RateLimit-Policy") == nil)
            #expect(api.header("WWW-Authenticate") == "Bearer")
            // The edge checks tokens on /api/ (a forged one never reaches the board), except where none is needed.
            let forged = try await RawHTTPClient.request(
                port: port, "GET", "/api/v1/boards", headers: [("Authorization", "Bearer v4.public.forged")])
            #expect(forged.status == 401)
            #expect(forged.header("WWW-Authenticate") == "Bearer error=\"invalid_token\"")
            for open in ["/api/v1/auth/public-key", "/api/v1/openapi.json"] {
                let answer = try await RawHTTPClient.request(port: port, "GET", open)
                #expect(answer.status == 200, "\(open)")
            }
            // Sign-in attempts have a rate limit of their own at the edge.
            let signIn = try await RawHTTPClient.request(
                port: port, "POST", "/api/v1/auth/login", headers: [("Content-Type", "application/json")],
                body: Array(#"{"email":"nobody@example.com","password":"not the password"}"#.utf8))
            #expect(signIn.status == 401)
            #expect(signIn.header("RateLimit-Policy") == "\"signin\";q=120;w=60")
            #expect(signIn.header("RateLimit")?.hasPrefix("\"signin\";r=29;t=") == true)
            #expect(signIn.header("X-Content-Type-Options") == "nosniff")
            // SIGHUP (systemctl reload, a closed terminal) is noted and does not end it.
            kill(process.pid, SIGHUP)
            try await process.waitForOutput(containing: "SIGHUP: pier up has nothing to reload", inStandardError: true)
            #expect(process.isRunning)
            #expect(
                try await RawHTTPClient.request(port: port, "GET", "/", headers: [("Accept", "text/html")]).status
                    == 200)
            #expect(await process.stop() == 0)
        }
    }

    @Test("--tls-cert and --tls-key serve the board over HTTPS with HTTP/2; a bad key is refused with the file named")
    func https() async throws {
        try await TemporaryDirectory.with { directory in
            let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../web")
                .standardized.path
            let authority = try TestCertificateAuthority()
            let (certificate, key) = try authority.write(["board.test"], as: "board", under: directory)
            let ca = try authority.writeAuthority(under: directory)
            let process = try RunningProcess(
                executable: PierBinary.url,
                arguments: [
                    "up", "--listen", "127.0.0.1:0", "--data-dir", directory + "/data", "--web-root", web,
                    "--bcrypt-cost", "10", "--tls-cert", certificate, "--tls-key", key,
                ])
            try await process.waitForOutput(containing: "pier up: open https://")
            let port = try #require(process.firstMatch(#"open https://127\.0\.0\.1:(\d+)/"#).flatMap { Int($0) })
            let page = try await CommandLineTool.run(
                "curl",
                [
                    "-sS", "-i", "--http2", "--cacert", ca, "--resolve", "board.test:\(port):127.0.0.1",
                    "https://board.test:\(port)/",
                ])
            #expect(page.output.hasPrefix("HTTP/2 200"), "\(page.all)")
            #expect(page.output.lowercased().contains("content-security-policy: default-src 'self'"))
            let api = try await CommandLineTool.run(
                "curl",
                [
                    "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "--resolve",
                    "board.test:\(port):127.0.0.1", "https://board.test:\(port)/api/v1/me",
                ])
            #expect(api.output == "401", "\(api.all)")
            #expect(await process.stop() == 0)

            // The certificate with another key: refused at start, naming the key file.
            let (_, otherKey) = try authority.write(["other.test"], as: "other", under: directory)
            let refused = try await CommandLineTool.run(
                PierBinary.url.path,
                [
                    "up", "--listen", "127.0.0.1:0", "--data-dir", directory + "/data", "--web-root", web,
                    "--tls-cert", certificate, "--tls-key", otherKey,
                ])
            #expect(refused.status != 0)
            #expect(refused.all.contains(otherKey), "\(refused.all)")
        }
    }
}
