import NIOCore
import PierCore
import Testing

@testable import PierEdge

@Suite("Proxy logic")
struct ProxyLogicTests {
    @Test("health: unknown until the thresholds are met, then flips only after enough results in a row")
    func healthThresholds() {
        var health = TargetHealth(checked: true)
        #expect(health.active == .unknown)
        #expect(health.recordCheck(passed: true, healthyThreshold: 2, unhealthyThreshold: 3) == nil)
        #expect(health.recordCheck(passed: true, healthyThreshold: 2, unhealthyThreshold: 3) == .healthy)
        #expect(health.recordCheck(passed: false, healthyThreshold: 2, unhealthyThreshold: 3) == nil)
        #expect(health.recordCheck(passed: true, healthyThreshold: 2, unhealthyThreshold: 3) == nil)
        for _ in 0..<2 { #expect(health.recordCheck(passed: false, healthyThreshold: 2, unhealthyThreshold: 3) == nil) }
        #expect(health.recordCheck(passed: false, healthyThreshold: 2, unhealthyThreshold: 3) == .unhealthy)
        #expect(health.recordCheck(passed: false, healthyThreshold: 2, unhealthyThreshold: 3) == nil)
        #expect(TargetHealth(checked: false).active == .healthy)
    }

    @Test("ejections double in a row, capped at ten times, and reset after a success")
    func ejectionBackOff() {
        var health = TargetHealth(checked: false)
        let durations = (0..<6).map { _ in health.eject(base: .seconds(1)) }
        #expect(durations == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        health.recovered()
        #expect(health.eject(base: .seconds(1)) == .seconds(1))
    }

    @Test("the retry budget allows min_per_second over ten seconds, or the ratio of requests")
    func retryBudget() {
        var budget = RetryBudgetState()
        var allowed = 0
        for _ in 0..<50 {
            if budget.tryRetry(now: 100, requestsSoFar: 0, ratio: 0.2, minPerSecond: 2) { allowed += 1 }
        }
        #expect(allowed == 20)
        // Ten seconds later the window is empty again; with many requests the ratio dominates.
        var later = 0
        _ = budget.tryRetry(now: 111, requestsSoFar: 1000, ratio: 0.5, minPerSecond: 0)
        for _ in 0..<1000 {
            if budget.tryRetry(now: 112, requestsSoFar: 2000, ratio: 0.5, minPerSecond: 0) { later += 1 }
        }
        #expect(later == 500)
    }

    @Test("weighted round robin interleaves targets in proportion")
    func interleaving() {
        #expect(UpstreamPool.interleave(weights: [1, 1, 1]) == [0, 1, 2])
        let order = UpstreamPool.interleave(weights: [5, 1, 1])
        #expect(order.count == 7)
        #expect(order.filter { $0 == 0 }.count == 5)
        #expect(order != [0, 0, 0, 0, 0, 1, 2], "not interleaved: \(order)")
    }

    @Test("the consistent hash is stable across processes")
    func stableHash() {
        #expect(UpstreamPool.hash("user-1") == UpstreamPool.hash("user-1"))
        #expect(UpstreamPool.hash("user-1") != UpstreamPool.hash("user-2"))
    }

    @Test("path rewriting strips and adds prefixes at segment boundaries and re-encodes")
    func rewriting() throws {
        func target(_ raw: String, strip: String? = nil, add: String? = nil) throws -> String {
            let config = ProxyRouteConfig(upstream: "x", stripPrefix: strip, addPrefix: add)
            return UpstreamRequestHead.upstreamTarget(raw, path: try RequestPath(target: raw), config: config)
        }
        #expect(try target("/api/items?x=%20") == "/api/items?x=%20")
        #expect(try target("/ws/chat?room=1", strip: "/ws") == "/chat?room=1")
        #expect(try target("/ws", strip: "/ws") == "/")
        #expect(try target("/wsx/chat", strip: "/ws") == "/wsx/chat")
        #expect(try target("/v2/caf%C3%A9", strip: "/v2", add: "/api") == "/api/caf%C3%A9")
        #expect(try target("http://example.org/a?b", add: "/p") == "/p/a?b")
        // Encoded slashes (and a %25 beside them) stay encoded through a rewrite; other escapes are normalised.
        #expect(try target("/v2/a%2fb%25c%41", strip: "/v2", add: "/api") == "/api/a%2Fb%25cA")
        #expect(try target("http://example.org/x%2Fy%25") == "/x%2Fy%25")
        #expect(try target("/files/%252F", strip: "/files") == "/%252F")  // a literal %2F, encoded again
    }

    @Test("response parsing: framing, interim answers skipped, bodyless statuses, close-delimited bodies")
    func responseParser() throws {
        func events(_ text: String, method: String = "GET", close: Bool = false) throws -> [String] {
            var parser = HTTP1ResponseParser()
            var buffer = ByteBuffer(string: text)
            var out: [String] = []
            while let event = try parser.next(&buffer, requestMethod: method) {
                switch event {
                case .head(let head): out.append("head \(head.status) keepAlive=\(head.keepAlive)")
                case .body(var bytes): out.append("body \(bytes.readString(length: bytes.readableBytes) ?? "")")
                case .end: out.append("end")
                }
                if case .end = event { break }
            }
            if close, let event = parser.connectionClosed(), case .end = event { out.append("end at close") }
            return out
        }
        #expect(
            try events("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
                == ["head 200 keepAlive=true", "body hi", "end"])
        #expect(
            try events("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n")
                == ["head 200 keepAlive=true", "body hi", "end"])
        #expect(
            try events("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: "HEAD") == [
                "head 200 keepAlive=true", "end",
            ])
        #expect(
            try events("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n") == ["head 304 keepAlive=true", "end"])
        #expect(
            try events("HTTP/1.0 200 OK\r\n\r\nall of it", close: true)
                == ["head 200 keepAlive=false", "body all of it", "end at close"])
        #expect(throws: HTTPParseError.self) {
            try events("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        }
        #expect(throws: HTTPParseError.self) { try events("HTTP/1.1 2x0 OK\r\n\r\n") }
        // A loosely read chunk size would silently empty the body (`0x5` as 0).
        #expect(throws: HTTPParseError.self) {
            try events("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n")
        }
        #expect(throws: HTTPParseError.self) { try events("SMTP ready\r\n\r\n") }
    }

    @Test("upstream configuration errors name the line and field")
    func configErrors() throws {
        let text = """
            routes:
              - upstream: missing
              - upstream: app
                strip_prefix: ws
                retries: { attempts: 20, on: [sometimes] }
                encoded_slashes: sometimes
              - static: { root: . }
                timeouts: { connect: 1s }
                encoded_slashes: pass
            upstreams:
              app:
                targets: [127.0.0.1, { address: "127.0.0.1:9001", weight: 0 }, 127.0.0.1:9002, 127.0.0.1:9002]
                balance: random
                hash_on: client_ip
                health_check: { path: healthz, interval: 1s, timeout: 2s, expect_status: [200, 7xx] }
            admin: { listen: 0.0.0.0:9901 }
            """
        do {
            _ = try EdgeConfig.parse(text, file: "edge.yaml", baseDirectory: "/tmp")
            Issue.record("expected errors")
        } catch {
            let lines = error.diagnostics.map(\.description)
            let expected = [
                "edge.yaml:4: routes[1].strip_prefix: \"ws\" must be a path",
                "edge.yaml:5: routes[1].retries.attempts: 20 is out of range",
                "edge.yaml:5: routes[1].retries.on[0]: \"sometimes\" is not connect_failure",
                "edge.yaml:6: routes[1].encoded_slashes: \"sometimes\" is not one of deny, pass",
                "edge.yaml:8: routes[2].timeouts: applies only to routes with an upstream",
                "edge.yaml:9: routes[2].encoded_slashes: applies only to routes with an upstream",
                "edge.yaml:12: upstreams.app.targets[0]: \"127.0.0.1\" is not host:port",
                "edge.yaml:12: upstreams.app.targets[1].weight: 0 is out of range",
                "edge.yaml:12: upstreams.app.targets[3]: 127.0.0.1:9002 is listed twice",
                "edge.yaml:13: upstreams.app.balance: \"random\" is not one of",
                "edge.yaml:14: upstreams.app.hash_on: applies only with balance: hash",
                "edge.yaml:15: upstreams.app.health_check.path: \"healthz\" must be a path",
                "edge.yaml:15: upstreams.app.health_check.expect_status[1]: \"7xx\" is not a status code",
                "edge.yaml:16: admin.listen: the admin listener must be on a loopback address",
            ]
            for prefix in expected {
                #expect(
                    lines.contains { $0.hasPrefix(prefix) }, "missing: \(prefix)\nin: \(lines.joined(separator: "\n"))")
            }
        }
        // A health check interval shorter than the default timeout is named (it was refused without a word).
        for (check, expected) in [
            (
                "{ path: /readyz, interval: 1s }",
                "edge.yaml:4: upstreams.app.health_check.interval: is shorter than the default timeout (2s)"
            ),
            (
                "{ path: /readyz, interval: 1s, timeout: 2s }",
                "edge.yaml:4: upstreams.app.health_check.timeout: cannot be longer than interval (1s)"
            ),
        ] {
            let short =
                "routes:\n  - upstream: app\nupstreams:\n  app: { targets: [127.0.0.1:9001], health_check: \(check) }\n"
            do {
                _ = try EdgeConfig.parse(short, file: "edge.yaml", baseDirectory: "/tmp")
                Issue.record("expected an error for \(check)")
            } catch {
                let lines = error.diagnostics.map(\.description)
                #expect(lines.contains { $0.hasPrefix(expected) }, "\(lines)")
            }
        }
        // With the pools valid, a route naming an unknown pool says which exist.
        let unknown = """
            routes:
              - upstream: nope
            upstreams:
              app: { targets: [127.0.0.1:9001] }
            """
        do {
            _ = try EdgeConfig.parse(unknown, file: "edge.yaml", baseDirectory: "/tmp")
            Issue.record("expected an error")
        } catch {
            #expect(
                error.diagnostics.map(\.description) == [
                    "edge.yaml:2: routes[0].upstream: no upstream named \"nope\" (defined: app)"
                ])
        }
    }
}
