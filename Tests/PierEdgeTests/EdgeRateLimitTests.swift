import Foundation
import NIOCore
import PierCore
import PierTesting
import Testing

@testable import PierEdge

@Suite("Rate limits: the bucket arithmetic")
struct RateLimitPolicyTests {
    /// 20 a second, 40 at once: intervals of 50 ms.
    let policy = RateLimitPolicy(interval: 50_000_000, burst: 40)

    @Test("a new key has a full bucket: burst requests at once, then one per interval")
    func burstThenRate() {
        var tat: Int64?
        let now: Int64 = 1_000_000_000
        for index in 0..<40 {
            let (decision, next) = policy.decide(tat: tat, now: now)
            guard case .allowed(let remaining, _) = decision else {
                Issue.record("request \(index) refused")
                return
            }
            #expect(remaining == 39 - index)
            tat = next
        }
        let (refused, unchanged) = policy.decide(tat: tat, now: now)
        #expect(refused == .limited(retryIn: 50_000_000, fullIn: 2_000_000_000))
        #expect(unchanged == nil)
        // One interval later exactly one more is allowed.
        let (later, _) = policy.decide(tat: tat, now: now + 50_000_000)
        #expect(later == .allowed(remaining: 0, fullIn: 2_000_000_000))
        let (tooSoon, _) = policy.decide(tat: tat, now: now + 49_999_999)
        guard case .limited(let retryIn, _) = tooSoon else {
            Issue.record("allowed before the interval passed")
            return
        }
        #expect(retryIn == 1)
    }

    @Test("a bucket idle long enough is full again, never fuller")
    func refill() {
        let (_, tat) = policy.decide(tat: nil, now: 0)
        let (decision, _) = policy.decide(tat: tat, now: 3_600_000_000_000)
        #expect(decision == .allowed(remaining: 39, fullIn: 50_000_000))
    }

    @Test("a sustained client gets the rate: 10 s of requests every millisecond allow burst + 10 s × rate")
    func sustained() {
        var tat: Int64?
        var allowed = 0
        for millisecond in 0..<10_000 {
            let (decision, next) = policy.decide(tat: tat, now: Int64(millisecond) * 1_000_000)
            if case .allowed = decision { allowed += 1 }
            if let next { tat = next }
        }
        #expect(allowed == 40 + 199)
    }
}

@Suite("Rate limits: buckets in memory")
struct RateLimiterTests {
    @Test("100 000 distinct keys never hold more buckets than max_keys, and a busy key keeps its bucket")
    func boundedUnderFlood() {
        let limiter = RateLimiter(
            config: RateLimitConfig(requests: 1, per: .seconds(60), burst: 1, maxKeys: 1000), name: "api")
        let busy: UInt64 = 0x1234_5678_9abc_def0
        var now: Int64 = 1_000_000_000
        #expect(limiter.admit(key: busy, now: now) == .allowed(remaining: 0, fullIn: 60_000_000_000))
        var generator = SystemRandomNumberGenerator()
        var busyRefused = 0
        for index in 0..<100_000 {
            now += 1000
            _ = limiter.admit(key: generator.next(), now: now)
            if index % 50 == 0, case .limited = limiter.admit(key: busy, now: now) { busyRefused += 1 }
            if index % 10_000 == 0 { #expect(limiter.keys <= 1000) }
        }
        #expect(limiter.keys <= 1000)
        #expect(limiter.keys >= 500)
        // The busy key was refused every time: the flood never handed it a fresh bucket.
        #expect(busyRefused == 2000)
        #expect(limiter.limited == 2000)
    }

    @Test("IPv6 clients share a bucket per /64; IPv4-mapped addresses are their IPv4 address")
    func addressKeys() {
        func key(_ address: String) -> Int {
            var hasher = Hasher()
            RateLimiter.combineAddress(address, into: &hasher)
            return hasher.finalize()
        }
        #expect(key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9"))
        #expect(key("2001:db8:1:2::1") != key("2001:db8:1:3::1"))
        #expect(key("::ffff:192.0.2.7") == key("192.0.2.7"))
        #expect(key("192.0.2.7") != key("192.0.2.8"))
    }

    @Test("the registry keeps a route's buckets across reloads while its label and limit stay")
    func registryKeeps() {
        let registry = RateLimiterRegistry()
        let limit = RateLimitConfig(requests: 5)
        let first = registry.limiters(for: [("api", limit), ("web", nil)])
        let second = registry.limiters(for: [("web", nil), ("api", limit)])
        #expect(first[0] != nil && first[0] === second[1])
        #expect(first[1] == nil && second[0] == nil)
        let changed = registry.limiters(for: [("api", RateLimitConfig(requests: 6))])
        #expect(changed[0] !== first[0])
        let twins = registry.limiters(for: [("api", limit), ("api", limit)])
        #expect(twins[0] !== twins[1])
    }
}

@Suite("Rate limits: configuration")
struct RateLimitConfigTests {
    @Test("rate_limit is read with its defaults, and bad values are named by line and field")
    func parse() throws {
        let good = try EdgeConfig.parse(
            """
            routes:
              - match: { path_prefix: /api/ }
                static: { root: . }
                rate_limit: { requests: 20, per: 1s, burst: 40, key: "header:X-Api-Key" }
              - static: { root: . }
                rate_limit: { requests: 100, per: 1m }
            """, file: "edge.yaml", baseDirectory: NSTemporaryDirectory())
        #expect(
            good.routes[0].rateLimit
                == RateLimitConfig(requests: 20, per: .seconds(1), burst: 40, key: .header("x-api-key")))
        #expect(good.routes[1].rateLimit == RateLimitConfig(requests: 100, per: .seconds(60), burst: 100))
        do {
            _ = try EdgeConfig.parse(
                """
                routes:
                  - static: { root: . }
                    rate_limit: { requests: 0, per: 1500ms, burst: -1, key: "ip", max_keys: 2 }
                  - static: { root: . }
                    headers: { RateLimit-Policy: x }
                    rate_limit: { per: 1s }
                  - static: { root: . }
                    headers: { RateLimit-Policy: x }
                    rate_limit: { requests: 1 }
                """, file: "edge.yaml", baseDirectory: NSTemporaryDirectory())
            Issue.record("expected errors")
        } catch {
            let lines = error.diagnostics.map(\.description)
            for expected in [
                "edge.yaml:3: routes[0].rate_limit.requests: 0 is out of range",
                "edge.yaml:6: routes[1].rate_limit: missing required field \"requests\"",
                "edge.yaml:8: routes[2].headers: RateLimit and RateLimit-Policy are set by the edge",
            ] {
                #expect(
                    lines.contains { $0.hasPrefix(expected) },
                    "missing: \(expected)\nin:\n\(lines.joined(separator: "\n"))")
            }
        }
        do {
            _ = try EdgeConfig.parse(
                """
                routes:
                  - static: { root: . }
                    rate_limit: { requests: 1, per: 1500ms, burst: -1, key: "ip", max_keys: 2 }
                """, file: "edge.yaml", baseDirectory: NSTemporaryDirectory())
            Issue.record("expected errors")
        } catch {
            let lines = error.diagnostics.map(\.description)
            for expected in [
                "edge.yaml:3: routes[0].rate_limit.per: must be a whole number of seconds",
                "edge.yaml:3: routes[0].rate_limit.burst: -1 is out of range",
                "edge.yaml:3: routes[0].rate_limit.key: \"ip\" is not client_ip, header:NAME or cookie:NAME",
                "edge.yaml:3: routes[0].rate_limit.max_keys: 2 is out of range",
            ] {
                #expect(
                    lines.contains { $0.hasPrefix(expected) },
                    "missing: \(expected)\nin:\n\(lines.joined(separator: "\n"))")
            }
        }
    }
}

@Suite("Rate limits on the wire", .serialized)
struct EdgeRateLimitTests {
    static let config = """
        admin: { listen: 127.0.0.1:0 }
        routes:
          - name: api
            match: { path_prefix: /api/ }
            static: { root: ./site }
            rate_limit: { requests: 1, per: 1m, burst: 3, key: "header:X-Api-Key" }
            cors: { allow_origins: ["https://app.example"] }
          - static: { root: ./site }
        """

    @Test("a client over its bucket gets 429 problem+json with Retry-After, RateLimit fields and CORS")
    func refusal() async throws {
        try await EdgeFixture.run(Self.config, files: ["site/api/x": "data"]) { edge in
            let key = [("X-Api-Key", "alpha")]
            for expected in 0..<3 {
                let response = try await edge.get("/api/x", headers: key)
                #expect(response.status == 200)
                #expect(response.header("RateLimit-Policy") == "\"api\";q=1;w=60")
                #expect(response.header("RateLimit")?.hasPrefix("\"api\";r=\(2 - expected);t=") == true)
            }
            let refused = try await edge.get("/api/x", headers: key + [("Origin", "https://app.example")])
            #expect(refused.status == 429)
            #expect(refused.header("Content-Type") == "application/problem+json")
            // 60 s after the first request (less what the machine took for the three), the bucket full 120 s later.
            let retryAfter = try #require(refused.header("Retry-After").flatMap { Int($0) })
            #expect((50...60).contains(retryAfter))
            #expect(refused.header("RateLimit") == "\"api\";r=0;t=\(retryAfter + 120)")
            #expect(refused.header("Access-Control-Allow-Origin") == "https://app.example")
            let problem = try JSONSerialization.jsonObject(with: Data(refused.body)) as? [String: Any]
            #expect(problem?["code"] as? String == "rate_limited")
            #expect(problem?["status"] as? Int == 429)
            // Another key, and requests without the header (counted by address), have their own buckets.
            #expect(try await edge.get("/api/x", headers: [("X-Api-Key", "beta")]).status == 200)
            #expect(try await edge.get("/api/x").status == 200)
            // A preflight is answered at the edge and is not counted; other routes are not limited.
            let preflight = try await edge.get(
                "/api/x", headers: key + [("Origin", "https://app.example"), ("Access-Control-Request-Method", "GET")],
                method: "OPTIONS")
            #expect(preflight.status == 204)
            #expect(try await edge.get("/x", headers: key).status == 404)
            // A body sent with a refused request is read, and the connection stays usable.
            let pipelined = try await edge.raw(
                "POST /api/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: alpha\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", expecting: 2)
            #expect(pipelined.responses.map(\.status) == [429, 404])

            let admin = try #require(edge.stack.admin)
            let port = try await admin.boundAddress().port ?? 0
            let metrics = try await RawHTTPClient.request(port: port, "GET", "/metrics")
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(text.contains("pier_edge_rate_limited_requests_total{route=\"api\"} 2"))
            #expect(text.contains("pier_edge_rate_limit_keys{route=\"api\"} 3"))
        }
    }

    static let heavy = ProcessInfo.processInfo.environment["PIER_TEST_HEAVY"] == "1"

    // Heavy: 10 s of requests as fast as the client can send them keep the shared test event loops busy, which
    // would upset the timing of the suites running beside it; scripts/test runs it alone.
    @Test("over 10 s a hurried client gets burst + 10 × rate answers, within 5 %", .enabled(if: Self.heavy))
    func rateLimitAccuracy() async throws {
        let yaml = """
            access_log: off
            routes:
              - match: { path_prefix: /api/ }
                static: { root: ./site }
                rate_limit: { requests: 20, per: 1s, burst: 40 }
            """
        try await EdgeFixture.run(yaml, files: ["site/api/x": "data"]) { edge in
            let batch = String(repeating: "GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n", count: 20)
            var allowed = 0
            var refused = 0
            var other: [Int] = []
            let start = ContinuousClock.now
            var firstAnswered: ContinuousClock.Instant?
            var lastSent = start
            // Time in which the client sent nothing beyond what a full bucket holds (burst / rate = 2 s): a stalled
            // client (or test machine) leaves that refill unused, and a bucket never holds more than its burst.
            var unusedRefill = Duration.zero
            while ContinuousClock.now - start < .seconds(10) {
                let now = ContinuousClock.now
                if now - lastSent > .seconds(2) { unusedRefill += now - lastSent - .seconds(2) }
                lastSent = now
                let exchange = try await edge.raw(batch, expecting: 20, closeWait: .zero)
                firstAnswered = firstAnswered ?? ContinuousClock.now
                for response in exchange.responses {
                    switch response.status {
                    case 200: allowed += 1
                    case 429: refused += 1
                    default: other.append(response.status)
                    }
                }
            }
            let end = ContinuousClock.now
            func seconds(_ duration: Duration) -> Double {
                Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            }
            // The edge saw the first request between `start` and the first answer and the last ones between the
            // last batch's sending and its answers; what it admitted lies between the two extremes (less any refill
            // the client left unused), each widened by 5 %. On an idle machine a batch takes a millisecond, and this
            // is burst + rate × 10 s ± 5 %.
            let fewest = 40 + 20 * (seconds(lastSent - (firstAnswered ?? start)) - seconds(unusedRefill))
            let most = 40 + 20 * seconds(end - start)
            #expect(other.isEmpty, "answers other than 200 and 429: \(other)")
            #expect(
                Double(allowed) >= fewest * 0.95 && Double(allowed) <= most * 1.05,
                "allowed \(allowed), expected \(fewest)…\(most) (unused refill \(unusedRefill))")
            #expect(refused > allowed, "the client was not held back: \(refused) refused")
        }
    }
}
