import Foundation
import NIOCore
import PierCore
import PierTesting
import Testing

@testable import PierEdge

/// Runs an edge in front of one scripted upstream (`app`), with `routeExtra` added to its one route.
func withScriptedUpstream(
    routeExtra: String = "",
    upstreamExtra: String = "",
    accessLog: String? = nil,
    _ reply: @escaping @Sendable (ScriptedUpstream.Request) -> ScriptedUpstream.Reply,
    _ body: @Sendable (ScriptedUpstream, EdgeFixture) async throws -> Void
) async throws {
    let upstream = try await ScriptedUpstream.start(reply)
    do {
        try await EdgeFixture.run(
            """
            \(accessLog.map { "access_log: \($0)" } ?? "access_log: off")
            routes:
              - match: { path_prefix: / }
                upstream: app
            \(routeExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            upstreams:
              app:
                targets: [\(upstream.address)]
            \(upstreamExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """
        ) { edge in
            try await body(upstream, edge)
        }
    } catch {
        await upstream.stop()
        throw error
    }
    await upstream.stop()
}

/// A complete `200 OK` keep-alive answer with this body.
func ok(_ body: String = "ok") -> ScriptedUpstream.Reply {
    .bytes(Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8), close: false)
}

/// The defects an outside review found with raw-socket probes, each shown on the wire.
@Suite("Edge hardening: framing, upgrades, forwarding")
struct EdgeHardeningTests {
    @Test("a chunk size that is not pure hexadecimal is 400 and close on a proxy route; nothing is smuggled through")
    func chunkSizeSmuggling() async throws {
        try await withProxiedStubs { stubs, edge in
            // Read as 0 with an "extension" (the old reading), the rest would be a second request to /admin.
            let exchange = try await edge.raw(
                "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x31\r\n\r\n"
                    + "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
                expecting: 1, closeWait: .seconds(2))
            #expect(exchange.responses.map(\.status) == [400], "\(exchange.responses.map(\.status))")
            #expect(exchange.responses.first?.header("Content-Type") == "application/problem+json")
            #expect(exchange.responses.first?.text.contains("invalid_chunk") == true)
            #expect(exchange.closedByServer)
            #expect(!stubs[0].requests.contains { $0.uri.hasPrefix("/admin") })
        }
    }

    @Test("a malformed chunked body on a proxy route is answered 400 with a problem document and logged as 400")
    func malformedChunkedBodyOnProxyRoute() async throws {
        try await withScriptedUpstream(accessLog: "{ format: json, path: ./access.log }") { _ in
            .silence
        } _: { upstream, edge in
            let exchange = try await edge.raw(
                "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
                expecting: 1, closeWait: .seconds(2))
            #expect(exchange.responses.map(\.status) == [400])
            #expect(exchange.responses.first?.header("Content-Type") == "application/problem+json")
            #expect(exchange.responses.first?.text.contains("invalid_chunk") == true)
            #expect(exchange.closedByServer)
            edge.server.runtime.accessLog?.flush()
            let log = try String(contentsOfFile: edge.directory + "/access.log", encoding: .utf8)
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data((log.split(separator: "\n").last ?? "").utf8))
                    as? [String: Any])
            #expect(object["status"] as? Int == 400, "\(log)")
        }
    }

    @Test("an upstream chunk size that is not pure hexadecimal never reaches the client as a complete answer")
    func upstreamChunkSize() async throws {
        try await withScriptedUpstream { _ in
            .bytes(
                Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n".utf8),
                close: false)
        } _: { _, edge in
            let exchange = try await edge.raw(
                "GET / HTTP/1.1\r\nHost: x\r\n\r\n", expecting: 1, closeWait: .seconds(2))
            // Either refused before the head went out, or cut off (the client sees an incomplete body): never a
            // silently empty 200.
            if let response = exchange.responses.first {
                #expect(response.status == 502, "\(response.status) \(response.text)")
            } else {
                #expect(exchange.closedByServer)
            }
        }
    }

    @Test("only websocket upgrades pass by default: h2c and others are stripped, and a 101 nobody asked for is 502")
    func upgradesAreAllowListed() async throws {
        let switching = Array(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8)
        try await withScriptedUpstream { _ in
            .bytes(switching, close: false)
        } _: { upstream, edge in
            for protocolName in ["h2c", "foo/1"] {
                let exchange = try await edge.raw(
                    "GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: \(protocolName)\r\n"
                        + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nGET /inside HTTP/1.1\r\nHost: x\r\n\r\n",
                    expecting: 1, closeWait: .seconds(1))
                #expect(exchange.responses.first?.status == 502, "\(protocolName)")
                #expect(exchange.responses.first?.header("Content-Type") == "application/problem+json")
                let forwarded = try #require(upstream.requests.last).lowercased()
                #expect(!forwarded.contains("upgrade:"), "\(forwarded)")
                #expect(!forwarded.contains("http2-settings"), "\(forwarded)")
                // The pipelined request is an ordinary one: routed and forwarded by the edge, never tunnelled raw.
                #expect(
                    upstream.requests.filter { $0.contains("/inside") }.allSatisfy { $0.contains("X-Forwarded-For:") })
            }
        }
    }

    @Test("a route may allow another upgrade protocol by name; its 101 opens the tunnel")
    func upgradeOptIn() async throws {
        let switching = Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n".utf8)
        try await withScriptedUpstream(routeExtra: "upgrades: [websocket, foo]") { request in
            request.indexOnConnection == 0 ? .bytes(switching, close: false) : .silence
        } _: { upstream, edge in
            let exchange = try await edge.raw(
                "GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo, h2c\r\n\r\n",
                expecting: 1, closeWait: .milliseconds(300))
            #expect(exchange.responses.first?.status == 101)
            #expect(exchange.responses.first?.header("Upgrade") == "foo")
            let forwarded = try #require(upstream.requests.first)
            #expect(forwarded.contains("\r\nUpgrade: foo\r\n"), "\(forwarded)")
        }
    }

    @Test("upgrades: h2c is a configuration error")
    func h2cUpgradeRefusedInConfiguration() throws {
        let yaml = """
            routes:
              - upstream: app
                upgrades: [websocket, h2c]
            upstreams:
              app: { targets: [127.0.0.1:9] }
            """
        do {
            _ = try EdgeConfig.parse(yaml, file: "edge.yaml", baseDirectory: "/tmp")
            Issue.record("expected an error")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(
                lines.contains { $0.hasPrefix("edge.yaml:3: routes[0].upgrades[1]:") && $0.contains("h2c") }, "\(lines)"
            )
        }
    }

    @Test("Expect: 100-continue is answered at once, also before the first upstream connection exists")
    func continueAtOnce() async throws {
        try await withProxiedStubs { _, edge in
            let connection = try await ByteStreamConnection.connect(port: edge.port)
            defer { Task { await connection.close() } }
            // The body is sent only once the 100 arrived: an edge that holds the interim answer back makes this
            // wait until the test's time limit.
            let text = try await withTimeout(.seconds(10)) {
                try await connection.send(
                    Array("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n".utf8))
                var text = ""
                var sentBody = false
                for await var piece in connection.received {
                    text += piece.readString(length: piece.readableBytes) ?? ""
                    if !sentBody && text.contains("100 Continue\r\n\r\n") {
                        sentBody = true
                        try await connection.send(Array("abc".utf8))
                    }
                    if text.hasSuffix("\r\n\r\n3") { break }
                }
                return text
            }
            #expect(text.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), "\(text)")
        }
    }

    @Test("an absolute-form target's authority replaces Host upstream; other schemes and user info are 400")
    func absoluteForm() async throws {
        try await withProxiedStubs { stubs, edge in
            let response = try await edge.raw(
                "GET http://app.example:8080/headers HTTP/1.1\r\nHost: other.example\r\n\r\n")
            #expect(response.responses.first?.status == 200)
            let seen = try #require(stubs[0].requests.last)
            #expect(seen.header("Host") == "app.example:8080")
            #expect(seen.header("X-Forwarded-Host") == "app.example:8080")
            #expect(seen.headers.filter { $0.name.lowercased() == "host" }.count == 1)
            for target in ["http://user@app.example/headers", "ftp://app.example/headers", "http:///headers"] {
                let refused = try await edge.raw("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(refused.responses.first?.status == 400, "\(target)")
            }
        }
    }

    @Test("header names with underscores are dropped unless the route passes them")
    func underscoreHeaders() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - match: { path_prefix: /pass/ }
                upstream: app
                strip_prefix: /pass
                underscore_headers: pass
              - upstream: app
            \(pool(stubs))
            """
        } _: { stubs, edge in
            let headers = [("X_Forwarded_For", "6.6.6.6"), ("Transfer_Encoding", "chunked"), ("X-Fine", "1")]
            _ = try await edge.get("/headers", headers: headers)
            let dropped = try #require(stubs[0].requests.last)
            #expect(dropped.header("X_Forwarded_For") == nil)
            #expect(dropped.header("Transfer_Encoding") == nil)
            #expect(dropped.header("X-Fine") == "1")
            #expect(dropped.header("X-Forwarded-For") == "127.0.0.1")
            _ = try await edge.get("/pass/headers", headers: headers)
            let passed = try #require(stubs[0].requests.last)
            #expect(passed.header("X_Forwarded_For") == "6.6.6.6")
        }
    }

    @Test("set_request_headers writes its fields after Host and drops the client's fields of those names")
    func setRequestHeaders() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - match: { path_prefix: /plain/ }
                upstream: app
                strip_prefix: /plain
              - upstream: app
                set_request_headers: { Pier-Proxy-Secret: s3cret, X-Route: main }
            \(pool(stubs))
            """
        } _: { stubs, edge in
            let forged = [("pier-proxy-secret", "forged"), ("PIER-PROXY-SECRET", "forged too"), ("X-Fine", "1")]
            _ = try await edge.get("/headers", headers: forged)
            let seen = try #require(stubs[0].requests.last)
            #expect(seen.headers.filter { $0.name.lowercased() == "pier-proxy-secret" }.map(\.value) == ["s3cret"])
            #expect(seen.header("X-Route") == "main")
            #expect(seen.header("X-Fine") == "1")
            let names = seen.headers.map { $0.name.lowercased() }
            let host = try #require(names.firstIndex(of: "host"))
            #expect(try #require(names.firstIndex(of: "pier-proxy-secret")) > host)
            _ = try await edge.get("/plain/headers", headers: forged)
            let plain = try #require(stubs[0].requests.last)
            #expect(plain.headers.filter { $0.name.lowercased() == "pier-proxy-secret" }.count == 2)
        }
    }

    @Test("X-Forwarded-For named in Connection is the previous hop's: the chain starts at the edge")
    func forwardedForNamedInConnection() async throws {
        try await withProxiedStubs { stubs, edge in
            _ = try await edge.get(
                "/headers", headers: [("Connection", "X-Forwarded-For"), ("X-Forwarded-For", "6.6.6.6")])
            let seen = try #require(stubs[0].requests.last)
            #expect(seen.header("X-Forwarded-For") == "127.0.0.1")
            _ = try await edge.get("/headers", headers: [("X-Forwarded-For", "10.0.0.1")])
            #expect(stubs[0].requests.last?.header("X-Forwarded-For") == "10.0.0.1, 127.0.0.1")
        }
    }

    @Test("an idle upstream connection that resets when reused is replaced: the GET succeeds on a single target")
    func staleConnectionReplaced() async throws {
        // Each connection answers its first request and resets on the second, like a target that closed an idle
        // connection (or died) just as the edge took it from the pool.
        try await withScriptedUpstream { request in
            request.indexOnConnection == 0 ? ok("fresh \(request.index)") : .reset
        } _: { upstream, edge in
            for round in 0..<5 {
                let response = try await edge.get("/r\(round)")
                #expect(response.status == 200, "round \(round): \(response.status) \(response.text)")
            }
            #expect(upstream.requests.count >= 5)
        }
    }

    @Test("a target that resets before answering: GETs go to another target (also past stale connections), POSTs 502")
    func resetBeforeAnswer() async throws {
        let dying = try await ScriptedUpstream.start { _ in .reset }
        // Answers the first request of each connection and resets on reuse, like a server closing idle connections.
        let closingIdle = try await ScriptedUpstream.start { request in
            request.indexOnConnection == 0 ? ok() : .reset
        }
        defer {
            Task {
                await dying.stop()
                await closingIdle.stop()
            }
        }
        try await EdgeFixture.run(
            """
            access_log: off
            routes:
              - upstream: app
            upstreams:
              app:
                targets: [\(dying.address), \(closingIdle.address)]
                passive: off
            """
        ) { edge in
            for round in 0..<20 {
                let response = try await edge.get("/r\(round)")
                #expect(response.status == 200, "round \(round): \(response.status) \(response.text)")
            }
            var posts: [Int] = []
            for _ in 0..<10 { posts.append(try await edge.get("/count", method: "POST", body: [1]).status) }
            #expect(posts.allSatisfy { $0 == 200 || $0 == 502 } && posts.contains(502), "\(posts)")
        }
    }

    @Test("a route's headers go on every answer: cached files, others, problems, and proxied answers (replacing)")
    func routeHeaders() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - match: { path_prefix: /api/ }
                upstream: app
                strip_prefix: /api
                headers: { X-Frame-Options: DENY, Server: pier }
              - match: { path_prefix: / }
                static: { root: ., spa_fallback: index.html }
                headers:
                  Content-Security-Policy: "default-src 'self'"
                  X-Content-Type-Options: nosniff
            \(pool(stubs))
            """
        } _: { _, edge in
            try TemporaryDirectory.write("<p>app</p>", to: "index.html", under: edge.directory)
            try TemporaryDirectory.write("x", to: "a.txt", under: edge.directory)
            for (target, status) in [("/a.txt", 200), ("/a.txt", 200), ("/missing.js", 404), ("/route", 200)] {
                let response = try await edge.get(target, headers: [("Accept", "text/html")])
                #expect(response.status == status, "\(target)")
                #expect(response.headerValues("Content-Security-Policy") == ["default-src 'self'"], "\(target)")
                #expect(response.header("X-Content-Type-Options") == "nosniff", "\(target)")
            }
            let ranged = try await edge.get("/a.txt", headers: [("Range", "bytes=0-0")])
            #expect(ranged.status == 206)
            #expect(ranged.header("X-Content-Type-Options") == "nosniff")
            let proxied = try await edge.get("/api/whoami")
            #expect(proxied.status == 200)
            #expect(proxied.headerValues("X-Frame-Options") == ["DENY"])
            #expect(proxied.headerValues("Server") == ["pier"])
        }
    }

    @Test("route headers that the edge sets itself, or with control characters, are configuration errors")
    func routeHeaderErrors() {
        let yaml = """
            routes:
              - static: { root: /tmp }
                headers: { Content-Length: "5", "bad name": x, X-Ok: "a\\u0001b" }
            """
        do {
            _ = try EdgeConfig.parse(yaml, file: "edge.yaml", baseDirectory: "/tmp")
            Issue.record("expected errors")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(
                lines.contains { $0.contains("headers.Content-Length") && $0.contains("set by the edge") }, "\(lines)")
            #expect(lines.contains { $0.contains("is not a header field name") }, "\(lines)")
            #expect(lines.contains { $0.contains("control characters") }, "\(lines)")
        }
    }

    @Test("a path whose routes take other methods answers 405 with Allow; a path no route has is 404")
    func methodNotAllowed() async throws {
        try await EdgeFixture.run(
            """
            routes:
              - match: { path_prefix: /api/, methods: [GET, POST] }
                static: { root: . }
              - match: { path_prefix: /api/, methods: [PUT] }
                static: { root: . }
              - match: { path_prefix: /site/, methods: [GET] }
                static: { root: . }
            """
        ) { edge in
            let refused = try await edge.get("/api/things", method: "DELETE")
            #expect(refused.status == 405)
            #expect(refused.header("Allow") == "GET, HEAD, POST, PUT")
            #expect(refused.header("Content-Type") == "application/problem+json")
            let missing = try await edge.get("/elsewhere", method: "DELETE")
            #expect(missing.status == 404)
        }
    }
}
