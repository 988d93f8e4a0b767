import Foundation
import NIOCore
import PierTesting
import Testing

@testable import PierEdge

@Suite("Edge: CORS, limits, framing, request ids, access log, shutdown")
struct EdgeProtocolTests {
    static let files = ["web/index.html": "<!doctype html>", "web/a.txt": "A", "site/docs/x.txt": "docs"]

    /// The issue's contract configuration, with a low header timeout and connection limit to test them quickly
    /// (not so low that a busy machine, slow to read a request just sent, would see a timeout).
    static func config(
        limits: String =
            "{ max_header_bytes: 2048, max_uri_bytes: 512, max_body_bytes: 64, header_timeout: 1s, idle_timeout: 2s, max_connections: 50 }",
        accessLog: String = "{ path: off }"
    ) -> String {
        """
        listen:
          - address: 127.0.0.1:8080
        access_log: \(accessLog)
        limits: \(limits)
        routes:
          - match: { host: "*.example.org", path_prefix: /docs/ }
            static: { root: ./site }
          - match: { path_prefix: /, methods: [GET, HEAD, OPTIONS, POST] }
            cors:
              allow_origins: ["https://app.example.com", "https://*.example.org"]
              allow_credentials: true
              allow_methods: [GET, POST, PATCH, DELETE]
              allow_headers: [Content-Type, Authorization]
              max_age: 600
            static: { root: ./web, spa_fallback: index.html }
        """
    }

    @Test("routes by host wildcard first, then by path")
    func hostRouting() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let docs = try await edge.get("/docs/x.txt", headers: [("Host", "Team.Example.org:8443")])
            #expect(docs.text == "docs")
            let other = try await edge.get("/docs/x.txt", headers: [("Host", "example.com")])
            #expect(other.status == 404)
            // The path is served, just not for this method (RFC 9110 §15.5.6).
            let refused = try await edge.get("/a.txt", method: "DELETE")
            #expect(refused.status == 405)
            #expect(refused.header("Allow") == "GET, HEAD, OPTIONS, POST")
            #expect(refused.header("content-type") == "application/problem+json")
        }
    }

    @Test("CORS preflight at the edge, actual responses, and disallowed origins")
    func cors() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let preflight = try await edge.get(
                "/a.txt",
                headers: [
                    ("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "PATCH"),
                    ("Access-Control-Request-Headers", "Content-Type"),
                ],
                method: "OPTIONS"
            )
            #expect(preflight.status == 204)
            #expect(preflight.header("access-control-allow-origin") == "https://app.example.com")
            #expect(preflight.header("access-control-allow-methods") == "GET, POST, PATCH, DELETE")
            #expect(preflight.header("access-control-allow-headers") == "Content-Type")
            #expect(preflight.header("access-control-allow-credentials") == "true")
            #expect(preflight.header("access-control-max-age") == "600")

            let actual = try await edge.get("/a.txt", headers: [("Origin", "https://x.example.org")])
            #expect(actual.status == 200)
            #expect(actual.header("access-control-allow-origin") == "https://x.example.org")
            #expect(actual.header("vary")?.contains("Origin") == true)
            #expect(actual.header("access-control-allow-credentials") == "true")

            for response in [
                try await edge.get("/a.txt", headers: [("Origin", "https://evil.example.com")]),
                try await edge.get(
                    "/a.txt",
                    headers: [("Origin", "https://evil.example.com"), ("Access-Control-Request-Method", "GET")],
                    method: "OPTIONS"
                ),
            ] {
                #expect(!response.headers.contains { $0.name.lowercased().hasPrefix("access-control-") })
            }
        }
    }

    @Test("limits: 431, 414, 413 and 408, each closing the connection")
    func limits() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let big = try await edge.raw(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 3000))\r\n\r\n")
            #expect(big.responses.first?.status == 431)
            #expect(big.responses.first?.header("content-type") == "application/problem+json")
            #expect(big.closedByServer)

            let long = try await edge.raw("GET /\(String(repeating: "u", count: 600)) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(long.responses.first?.status == 414)
            #expect(long.closedByServer)

            let body = try await edge.raw("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n")
            #expect(body.responses.first?.status == 413)
            #expect(body.closedByServer)

            let slow = try await edge.raw("GET / HTTP/1.1\r\nHost: x\r\n", closeWait: .seconds(3))
            #expect(slow.responses.first?.status == 408)
            #expect(slow.closedByServer)

            let idle = try await edge.raw("", expecting: 0, closeWait: .seconds(3))
            #expect(idle.closedByServer)
        }
    }

    @Test(
        "RFC 9112 framing violations get 400 and a closed connection",
        arguments: [
            "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc",
            "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nXYZ\r\nabc\r\n0\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nUser-Agent: probe\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            "GET /a.txt HTTP/1.1\nHost: x\n\n",
        ]
    )
    func framing(request: String) async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            // The close is waited for up to 3 s: in a loaded parallel run it came after the default 300 ms.
            let exchange = try await edge.raw(
                request + "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", expecting: 1, closeWait: .seconds(8))
            #expect(exchange.responses.count == 1)
            #expect(exchange.responses.first?.status == 400)
            #expect(exchange.responses.first?.header("connection") == "close")
            #expect(exchange.closedByServer)
        }
    }

    @Test("a valid chunked body to a static route is read and answered, keeping the connection")
    func chunkedBodyKeepsConnection() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let exchange = try await edge.raw(
                "POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                    + "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                expecting: 2
            )
            #expect(exchange.responses.map(\.status) == [405, 200])
            #expect(exchange.responses.last?.text == "A")
        }
    }

    @Test("pipelined requests are answered in order, including ones that need the disk")
    func pipelining() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let requests = ["/a.txt", "/missing.txt", "/index.html", "/a.txt"]
                .map { "GET \($0) HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n" }.joined()
            let exchange = try await edge.raw(
                requests + "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", expecting: 5,
                closeWait: .seconds(5))
            #expect(exchange.responses.map(\.status) == [200, 404, 200, 200, 200])
            #expect(exchange.responses[2].text == "<!doctype html>")
            #expect(exchange.closedByServer)
        }
    }

    @Test("HTTP/1.0 closes unless keep-alive is asked for")
    func http10() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let closing = try await edge.raw("GET /a.txt HTTP/1.0\r\n\r\n", closeWait: .seconds(5))
            #expect(closing.responses.first?.status == 200)
            #expect(closing.closedByServer)
            let kept = try await edge.raw("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(kept.responses.first?.header("connection") == "keep-alive")
            #expect(!kept.closedByServer)
        }
    }

    @Test("every response carries X-Request-ID: kept when valid, generated otherwise")
    func requestIDs() async throws {
        try await EdgeFixture.run(Self.config(), files: Self.files) { edge in
            let generated = try #require(try await edge.get("/a.txt").header("x-request-id"))
            #expect(generated.count == 32)
            #expect(generated.allSatisfy { $0.isHexDigit })
            let other = try await edge.get("/a.txt").header("x-request-id")
            #expect(other != generated)
            #expect(
                try await edge.get("/a.txt", headers: [("X-Request-ID", "abc-123")]).header("x-request-id") == "abc-123"
            )
            let replaced = try await edge.get("/a.txt", headers: [("X-Request-ID", "bad id <script>")]).header(
                "x-request-id")
            #expect(replaced?.count == 32)
            let problem = try await edge.get("/nope.txt")
            #expect(problem.text.contains("\"request_id\":\"\(problem.header("x-request-id") ?? "?")\""))
        }
    }

    @Test("access log lines in combined and JSON formats")
    func accessLog() async throws {
        for format in ["combined", "json"] {
            try await EdgeFixture.run(
                Self.config(accessLog: "{ format: \(format), path: ./access.log }"), files: Self.files
            ) { edge in
                _ = try await edge.get(
                    "/a.txt?x=1",
                    headers: [
                        ("User-Agent", "probe \"quoted\""), ("Referer", "https://r.example/"),
                        ("X-Request-ID", "rid-1"),
                    ])
                edge.server.runtime.accessLog?.flush()
                let text = try String(contentsOfFile: edge.directory + "/access.log", encoding: .utf8)
                let line = try #require(text.split(separator: "\n").first.map(String.init))
                if format == "combined" {
                    let pattern =
                        #/^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /a\.txt\?x=1 HTTP/1\.1" 200 1 "https://r\.example/" "probe \\"quoted\\"" rid-1 \d+\.\d{3}$/#
                    #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
                } else {
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    #expect(object["method"] as? String == "GET")
                    #expect(object["path"] as? String == "/a.txt?x=1")
                    #expect(object["status"] as? Int == 200)
                    #expect(object["bytes"] as? Int == 1)
                    #expect(object["remote_addr"] as? String == "127.0.0.1")
                    #expect(object["user_agent"] as? String == "probe \"quoted\"")
                    #expect(object["request_id"] as? String == "rid-1")
                    #expect(object["duration"] is Double)
                }
            }
        }
    }

    @Test("connection limit: connections beyond max_connections are closed at once")
    func connectionLimit() async throws {
        let limits = "{ max_connections: 2, idle_timeout: 5s }"
        try await EdgeFixture.run(Self.config(limits: limits), files: Self.files) { edge in
            async let first = edge.raw("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", closeWait: .seconds(1))
            async let second = edge.raw("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", closeWait: .seconds(1))
            try await eventually("both connections accepted") { edge.server.openConnections == 2 }
            // Refused at once: closed without an answer, or reset if the close raced the request being sent.
            do {
                let third = try await edge.raw("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", expecting: 1)
                #expect(third.responses.isEmpty)
                #expect(third.closedByServer)
            } catch {
                #expect("\(error)".contains("reset"), "\(error)")
            }
            let statuses = try await [first.responses.first?.status, second.responses.first?.status]
            #expect(statuses == [200, 200])
        }
    }

    @Test("graceful shutdown closes idle keep-alive connections and stops accepting")
    func gracefulShutdown() async throws {
        try await EdgeFixture.run(Self.config(limits: "{ idle_timeout: 30s }"), files: Self.files) { edge in
            // The connection is idle only once its answer has arrived: wait for it before shutting down (on a busy
            // machine a fixed pause is not enough, and closing a connection whose request is still unread is a reset).
            let idle = try await ByteStreamConnection.connect(port: edge.port)
            defer { Task { await idle.close() } }
            try await idle.send(Array("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let (answer, after, waited) = try await withTimeout(.seconds(20)) {
                var pieces = idle.received.makeAsyncIterator()
                var answer = ""
                while !answer.hasSuffix("\r\n\r\nA"), let piece = await pieces.next() {
                    answer += String(buffer: piece)
                }
                let started = ContinuousClock.now
                await edge.shutdown()
                var after = ""
                while let piece = await pieces.next() { after += String(buffer: piece) }
                return (answer, after, ContinuousClock.now - started)
            }
            #expect(answer.hasPrefix("HTTP/1.1 200 "))
            #expect(after.isEmpty, "nothing more is sent before the close")
            #expect(waited < .seconds(5))
            let refused: Bool
            do {
                _ = try await RawHTTPClient.exchange(
                    port: edge.port, send: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                refused = false
            } catch {
                refused = true
            }
            #expect(refused)
        }
    }
}

@Suite("Edge: keep-alive bookkeeping")
struct EdgeKeepAliveTests {
    @Test("an exchange on a keep-alive connection is logged as soon as it is answered")
    func loggedPromptly() async throws {
        try await EdgeFixture.run(
            EdgeProtocolTests.config(accessLog: "{ format: json, path: ./access.log }"),
            files: EdgeProtocolTests.files
        ) { edge in
            for target in ["/a.txt", "/not-cached-yet.txt"] {
                let exchange = try await edge.raw("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(!exchange.closedByServer)
                edge.server.runtime.accessLog?.flush()
                let text = try String(contentsOfFile: edge.directory + "/access.log", encoding: .utf8)
                #expect(text.contains("\"path\":\"\(target)\""), "\(target) not logged: \(text)")
            }
        }
    }
}
