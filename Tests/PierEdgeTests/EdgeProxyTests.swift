import Foundation
import Logging
import NIOCore
import NIOPosix
import PierCore
import PierTesting
import ServiceLifecycle
import Synchronization
import Testing

@testable import PierEdge

/// Starts stub upstreams, runs an edge whose configuration names them, and stops everything afterwards.
func withUpstreams(
    _ names: [String],
    _ yaml: @Sendable ([StubUpstream]) -> String,
    _ body: @Sendable ([StubUpstream], EdgeFixture) async throws -> Void
) async throws {
    var stubs: [StubUpstream] = []
    for name in names { stubs.append(try await StubUpstream.start(name: name)) }
    let started = stubs
    defer { Task { for stub in started { await stub.kill() } } }
    try await EdgeFixture.run(yaml(started)) { edge in
        try await body(started, edge)
    }
}

/// Runs an edge that sends everything to stub upstreams of the given names.
func withProxiedStubs(
    _ names: [String] = ["a"], _ body: @Sendable ([StubUpstream], EdgeFixture) async throws -> Void
) async throws {
    try await withUpstreams(names, { proxyEverything($0) }, body)
}

/// A pool section for the given stubs.
func pool(_ stubs: [StubUpstream], _ extra: String = "") -> String {
    """
    upstreams:
      app:
        targets: [\(stubs.map(\.address).joined(separator: ", "))]
    \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
    """
}

/// One route sending everything to a pool of the given stubs.
func proxyEverything(_ stubs: [StubUpstream], _ extra: String = "") -> String {
    """
    routes:
      - match: { path_prefix: / }
        upstream: app
    \(pool(stubs, extra))
    """
}

/// Waits until `condition` holds, polling; fails after `limit`.
func eventually(
    _ what: String, within limit: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool
) async throws {
    let start = ContinuousClock.now
    while ContinuousClock.now - start < limit {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting for: \(what)")
    throw RawHTTPClient.Failure(description: "timed out waiting for: \(what)")
}

@Suite("Proxy: forwarding")
struct ProxyForwardingTests {
    @Test("forwards with X-Forwarded-*, drops hop-by-hop fields, keeps Host, passes the answer through")
    func forwarding() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - match: { path_prefix: /headers }
                upstream: app
            \(pool(stubs))
            """
        } _: { stubs, edge in
            let response = try await edge.get(
                "/headers?x=1",
                headers: [
                    ("Host", "board.example"), ("X-Forwarded-For", "203.0.113.9"), ("Connection", "X-Secret"),
                    ("X-Secret", "hop"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
                    ("Proxy-Authorization", "Basic eA=="), ("X-Real-IP", "198.51.100.1"), ("Accept", "text/plain"),
                ])
            #expect(response.status == 200)
            #expect(response.header("X-Upstream") == "a")
            let lines = Set(response.text.split(separator: "\n").map(String.init))
            #expect(lines.contains("host: board.example"))
            #expect(lines.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"))
            #expect(lines.contains("x-forwarded-proto: http"))
            #expect(lines.contains("x-forwarded-host: board.example"))
            #expect(lines.contains("x-real-ip: 127.0.0.1"))
            #expect(lines.contains("accept: text/plain"))
            let requestID = try #require(response.header("X-Request-ID"))
            #expect(lines.contains("x-request-id: \(requestID)"))
            for dropped in ["x-secret", "keep-alive", "te", "proxy-authorization", "connection"] {
                #expect(!lines.contains { $0.hasPrefix(dropped + ":") }, "\(dropped) must not be forwarded")
            }
            #expect(stubs[0].requests.last?.uri == "/headers?x=1")
        }
    }

    @Test("strip_prefix and add_prefix rewrite the path, query kept")
    func rewriting() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - match: { path_prefix: /ws/ }
                upstream: app
                strip_prefix: /ws
              - match: { path_prefix: /v2/ }
                upstream: app
                strip_prefix: /v2
                add_prefix: /api/v2
              - match: { path_prefix: /repos/ }
                upstream: app
                encoded_slashes: pass
              - match: { path_prefix: /files/ }
                upstream: app
                strip_prefix: /files
                encoded_slashes: pass
            \(pool(stubs))
            """
        } _: { stubs, edge in
            let answer = try await edge.get("/ws/whoami?q=%20a").text
            #expect(answer == "a")
            #expect(stubs[0].requests.last?.uri == "/whoami?q=%20a")
            _ = try await edge.get("/v2/items/caf%C3%A9")
            #expect(stubs[0].requests.last?.uri == "/api/v2/items/caf%C3%A9")

            // Encoded slashes: forwarded as sent where the route passes them, still encoded through a rewrite,
            // refused (400, nothing forwarded) where it does not.
            // (The stub answers these paths with its own 404, marked X-Upstream.)
            let passed = try await edge.get("/repos/group%2fproject/issues?x=%2F")
            #expect(passed.header("X-Upstream") == "a")
            #expect(stubs[0].requests.last?.uri == "/repos/group%2fproject/issues?x=%2F")
            let rewritten = try await edge.get("/files/a%2Fb%25c%20d")
            #expect(rewritten.header("X-Upstream") == "a")
            #expect(stubs[0].requests.last?.uri == "/a%2Fb%25c%20d")
            let forwarded = stubs[0].requests.count
            let refused = try await edge.get("/v2/group%2Fproject")
            #expect(refused.status == 400)
            #expect(refused.header("Content-Type") == "application/problem+json")
            #expect(stubs[0].requests.count == forwarded)
        }
    }

    @Test("request bodies stream upstream: fixed length, chunked, and after 100-continue")
    func bodies() async throws {
        try await withProxiedStubs { _, edge in
            let fixed = try await edge.get("/count", method: "POST", body: Array(repeating: 65, count: 100_000))
            #expect(fixed.status == 200)
            #expect(fixed.text == "100000")

            let chunked = try await edge.raw(
                "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    + "GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                expecting: 2)
            #expect(chunked.responses.map(\.status) == [200, 200])
            #expect(chunked.responses.first?.text == "11")
            #expect(chunked.responses.last?.text == "a")

            let continued = try await edge.raw(
                "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
                expecting: 2)
            #expect(continued.responses.map(\.status) == [100, 200])
            #expect(continued.responses.last?.text == "3")
        }
    }

    @Test("pipelined requests are proxied one after another and answered in order, also past the read-ahead bound")
    func pipelining() async throws {
        try await withProxiedStubs { _, edge in
            // The first answer is slow, so the rest arrive while it is on its way.
            let few = try await edge.raw(
                "GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                expecting: 3, closeWait: .seconds(5))
            #expect(few.responses.map(\.status) == [200, 200, 200])
            #expect(few.responses.map(\.text) == ["a", "5", "a"])
            #expect(few.closedByServer)

            // A client that closes its sending side after pipelining still gets every answer, then the close.
            let halfClosed = try await edge.raw(
                "GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\nGET /whoami HTTP/1.1\r\nHost: x\r\n\r\n", expecting: 2,
                closeWait: .seconds(3), halfClose: true)
            #expect(halfClosed.responses.map(\.status) == [200, 200])
            #expect(halfClosed.responses.map(\.text) == ["a", "a"])
            #expect(halfClosed.closedByServer)

            // About 200 KiB of requests behind a slow one: more than the edge reads ahead, so reading pauses and
            // resumes, and every request is still answered, in order.
            let bodies = (0..<100).map { index in
                "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nX-Index: \(index)\r\n\r\n"
                    + String(repeating: "b", count: 2000)
            }
            let many = try await edge.raw(
                "GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\n" + bodies.joined()
                    + "GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                expecting: 102)
            #expect(many.responses.count == 102)
            #expect(many.responses.allSatisfy { $0.status == 200 })
            #expect(many.responses.dropFirst().dropLast().allSatisfy { $0.text == "2000" })
            #expect(many.responses.last?.text == "a")
        }
    }

    @Test("chunked answers are re-chunked for HTTP/1.1 and close-delimited for HTTP/1.0; HEAD has no body")
    func responseFraming() async throws {
        try await withProxiedStubs { _, edge in
            let modern = try await edge.raw(
                "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\nGET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                expecting: 2)
            #expect(modern.responses.first?.header("Transfer-Encoding") == "chunked")
            #expect(modern.responses.first?.text == "one two three")
            #expect(modern.responses.last?.text == "a")

            let old = try await edge.raw("GET /chunked HTTP/1.0\r\n\r\n", expecting: 1, closeWait: .seconds(2))
            #expect(old.responses.first?.text == "one two three")
            #expect(old.responses.first?.header("Transfer-Encoding") == nil)
            #expect(old.closedByServer)

            let head = try await edge.get("/whoami", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "1")
            #expect(head.body.isEmpty)
        }
    }

    @Test("an upstream that does not answer in time gets 504 as a problem document")
    func responseTimeout() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - match: { path_prefix: / }
                upstream: app
                timeouts: { response: 1s }
            \(pool(stubs))
            """
        } _: { _, edge in
            // 1 s, not less: the request after the timeout must not itself take longer in a loaded parallel run.
            let response = try await edge.get("/slow/3000")
            #expect(response.status == 504)
            #expect(response.header("Content-Type") == "application/problem+json")
            #expect(response.text.contains("\"code\":\"upstream_timeout\""))
            // The edge keeps serving.
            let after = try await edge.get("/whoami").status
            #expect(after == 200)
        }
    }

    @Test("server-sent events arrive one by one, not buffered")
    func serverSentEvents() async throws {
        try await withProxiedStubs { stubs, edge in
            let arrivals = try await StreamProbe.arrivals(
                port: edge.port, request: "GET /sse HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                markers: ["data: event 1", "data: event 2", "data: event 3"])
            let sent = stubs[0].eventsSent
            #expect(arrivals.count == 3)
            #expect(sent.count == 3)
            // Causal, not a stopwatch: each event reached the client before the upstream even sent the next one,
            // which a buffering proxy cannot do.
            if arrivals.count == 3 && sent.count == 3 {
                #expect(arrivals[0] < sent[1])
                #expect(arrivals[1] < sent[2])
            }
        }
    }

    @Test("a client that closes its sending side before the upgrade is answered does not leave a tunnel open")
    func upgradeAfterHalfClose() async throws {
        try await withProxiedStubs { _, edge in
            let upgrade = try await edge.raw(
                "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                closeWait: .seconds(5), halfClose: true)
            #expect(upgrade.responses.first?.status == 101)
            #expect(upgrade.closedByServer)
        }
    }

    @Test("a WebSocket upgrade becomes a two-way byte stream")
    func webSocket() async throws {
        try await withProxiedStubs { _, edge in
            let echoed = try await WebSocketProbe.echo(port: edge.port, path: "/ws", messages: ["hello", "안녕하세요"])
            #expect(echoed == ["hello", "안녕하세요"])
        }
    }
}

@Suite("Proxy: balancing")
struct ProxyBalancingTests {
    @Test("round robin spreads evenly, and by weight")
    func roundRobin() async throws {
        try await withUpstreams(["a", "b", "c"]) { stubs in
            """
            routes:
              - upstream: app
            upstreams:
              app:
                targets: [\(stubs[0].address), \(stubs[1].address), { address: \(stubs[2].address), weight: 2 }]
            """
        } _: { stubs, edge in
            for _ in 0..<40 {
                let status = try await edge.get("/whoami").status
                #expect(status == 200)
            }
            #expect(stubs.map(\.requestCount) == [10, 10, 20])
        }
    }

    @Test("least_requests avoids the busy target")
    func leastRequests() async throws {
        try await withUpstreams(["a", "b"]) { stubs in
            """
            routes:
              - upstream: app
            \(pool(stubs, "balance: least_requests"))
            """
        } _: { stubs, edge in
            // While one slow request occupies a target, every quick request goes to the other one.
            let slowOne = Task { try await edge.get("/slow/10000") }
            try await eventually("the slow request reached a target") {
                stubs[0].requestCount + stubs[1].requestCount == 1
            }
            let busy = stubs[0].requestCount == 1 ? 0 : 1
            for _ in 0..<6 {
                let answer = try await edge.get("/whoami").text
                #expect(answer == stubs[1 - busy].name)
            }
            slowOne.cancel()
        }
    }

    @Test("p2c uses every target")
    func powerOfTwo() async throws {
        try await withUpstreams(["a", "b", "c"]) { stubs in
            """
            routes:
              - upstream: app
            \(pool(stubs, "balance: p2c"))
            """
        } _: { stubs, edge in
            for _ in 0..<60 { _ = try await edge.get("/whoami") }
            #expect(stubs.allSatisfy { $0.requestCount >= 5 }, "\(stubs.map(\.requestCount))")
        }
    }

    @Test("hash keeps a header, a cookie or a client address on one target")
    func consistentHashing() async throws {
        try await withUpstreams(["a", "b", "c"]) { stubs in
            """
            routes:
              - match: { path_prefix: /h/ }
                upstream: app
              - upstream: cookies
            \(pool(stubs, "balance: hash\nhash_on: header:X-User"))
              cookies:
                targets: [\(stubs.map(\.address).joined(separator: ", "))]
                balance: hash
                hash_on: cookie:session
            """
        } _: { _, edge in
            var owners: [String: Set<String>] = [:]
            for user in 0..<20 {
                for _ in 0..<3 {
                    let answer = try await edge.get("/h/whoami", headers: [("X-User", "user-\(user)")]).text
                    owners["user-\(user)", default: []].insert(answer)
                }
            }
            #expect(owners.values.allSatisfy { $0.count == 1 })
            #expect(Set(owners.values.flatMap { $0 }).count >= 2)

            var sessions: Set<String> = []
            for _ in 0..<5 {
                sessions.insert(try await edge.get("/whoami", headers: [("Cookie", "theme=dark; session=s-42")]).text)
            }
            #expect(sessions.count == 1)
        }
    }
}

@Suite("Proxy: health, retries, failures")
struct ProxyHealthTests {
    @Test("active checks take a failing target out and bring it back; the admin listener reports it")
    func activeChecks() async throws {
        try await withUpstreams(["a", "b"]) { stubs in
            """
            admin: { listen: 127.0.0.1:0 }
            routes:
              - upstream: app
            \(pool(stubs, "health_check: { path: /healthz, interval: 300ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2 }"))
            """
        } _: { stubs, edge in
            // Checks with room for a loaded test machine: an event loop held up for 80 ms would fail a tighter one.
            try await eventually("both targets healthy") {
                Set(try await (0..<4).asyncMap { _ in try await edge.get("/whoami").text }) == ["a", "b"]
            }
            stubs[1].setHealth(503)
            try await eventually("b taken out") {
                let answers = try await (0..<4).asyncMap { _ in try await edge.get("/whoami").text }
                return answers.allSatisfy { $0 == "a" }
            }
            let adminPort = try #require(try await edge.stack.admin?.boundAddress().port)
            let status = try await RawHTTPClient.request(port: adminPort, "GET", "/status")
            #expect(status.header("Content-Type") == "application/json")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any])
            let app = try #require((json["upstreams"] as? [String: Any])?["app"] as? [String: Any])
            let targets = try #require(app["targets"] as? [[String: Any]])
            #expect(targets.map { $0["health"] as? String } == ["healthy", "unhealthy"])

            stubs[1].setHealth(200)
            try await eventually("b back") {
                Set(try await (0..<4).asyncMap { _ in try await edge.get("/whoami").text }) == ["a", "b"]
            }
        }
    }

    @Test("no healthy target: 503 problem at once")
    func noHealthyTarget() async throws {
        try await withUpstreams(["a"]) { stubs in
            """
            routes:
              - upstream: app
            \(pool(stubs, "health_check: { interval: 100ms, timeout: 50ms }"))
            """
        } _: { stubs, edge in
            stubs[0].setHealth(500)
            try await eventually("503 from the edge") {
                let response = try await edge.get("/whoami")
                guard response.status == 503 else { return false }
                #expect(response.header("Content-Type") == "application/problem+json")
                #expect(response.header("Retry-After") == "1")
                #expect(response.text.contains("no_healthy_upstream"))
                return true
            }
        }
    }

    @Test("connect failures are retried elsewhere, eject the target, and it is re-admitted later")
    func passiveEjection() async throws {
        // A free port outside the kernel's ephemeral range, handed out once: no server of another test, all bound
        // to port 0, can be given it meanwhile, so nothing listens there until this test starts a stub on it.
        let port = try LoopbackPort.reserve()
        try await withUpstreams(["a"]) { stubs in
            """
            admin: { listen: 127.0.0.1:0 }
            routes:
              - upstream: app
            upstreams:
              app:
                targets: [\(stubs[0].address), 127.0.0.1:\(port)]
                passive: { consecutive_failures: 2, eject_for: 1s }
            """
        } _: { stubs, edge in
            for _ in 0..<10 {
                let response = try await edge.get("/whoami")
                #expect(response.status == 200)
                #expect(response.text == "a")
            }
            let adminPort = try #require(try await edge.stack.admin?.boundAddress().port)
            let status = try await RawHTTPClient.request(port: adminPort, "GET", "/status")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any])
            let app = try #require((json["upstreams"] as? [String: Any])?["app"] as? [String: Any])
            let targets = try #require(app["targets"] as? [[String: Any]])
            #expect((targets.last?["ejections"] as? Int ?? 0) >= 1, "\(status.text)")
            let revived = try await StubUpstream.start(name: "revived", port: port)
            defer { Task { await revived.kill() } }
            try await eventually("the revived target receives requests again") {
                _ = try await edge.get("/whoami")
                return revived.requestCount > 0
            }
        }
    }

    @Test("graceful shutdown lets in-flight responses finish, and cuts the ones still running at shutdown_timeout")
    func shutdownInFlight() async throws {
        try await withUpstreams(["a"]) { stubs in
            "shutdown_timeout: 1500ms\n" + proxyEverything(stubs)
        } _: { stubs, edge in
            async let quick = edge.raw("GET /slow/700 HTTP/1.1\r\nHost: x\r\n\r\n", closeWait: .seconds(10))
            async let stuck = edge.raw("GET /slow/30000 HTTP/1.1\r\nHost: x\r\n\r\n", closeWait: .seconds(20))
            try await eventually("both requests forwarded") { stubs[0].requests.count == 2 }
            let started = ContinuousClock.now
            await edge.shutdown()
            let finished = try await quick
            #expect(finished.responses.first?.status == 200)
            #expect(finished.responses.first?.text == "a")
            #expect(finished.closedByServer)
            let cut = try await stuck
            #expect(cut.responses.isEmpty)
            #expect(cut.closedByServer)
            // Cut at the deadline: after the quick one was answered, long before the upstream would have answered.
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(600) && waited < .seconds(15), "closed after \(waited)")
        }
    }

    @Test("5xx answers are retried for idempotent requests only, within the retry budget")
    func statusRetries() async throws {
        try await withUpstreams(["a", "b"]) { stubs in
            """
            routes:
              - upstream: app
                retries: { attempts: 2, on: [connect_failure, "503"] }
            \(pool(stubs, "passive: off\nretry_budget: { ratio: 0, min_per_second: 1 }"))
            """
        } _: { stubs, edge in
            stubs[0].setFailing(503)
            // GETs: a 503 from a goes to b (as long as the budget lasts: 10 retries in 10 s).
            var statuses: [Int] = []
            for _ in 0..<8 { statuses.append(try await edge.get("/whoami").status) }
            #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
            // POSTs are not repeated: half of them see a's 503.
            var posts: [Int] = []
            for _ in 0..<4 { posts.append(try await edge.get("/count", method: "POST", body: [1]).status) }
            #expect(posts.sorted() == [200, 200, 503, 503])
            // Both failing: the budget stops the edge from doubling the load.
            stubs[1].setFailing(503)
            let before = stubs[0].requestCount + stubs[1].requestCount
            for _ in 0..<30 {
                let status = try await edge.get("/whoami").status
                #expect(status == 503)
            }
            let sent = stubs[0].requestCount + stubs[1].requestCount - before
            #expect(sent >= 30 && sent <= 40, "\(sent) upstream requests for 30 client requests")
        }
    }

    @Test("a target killed mid-load: GETs see no errors; POSTs get problem documents, never hangs")
    func killedMidLoad() async throws {
        try await withUpstreams(["a", "b"]) { stubs in
            """
            routes:
              - upstream: app
            \(pool(stubs, "passive: { consecutive_failures: 1, eject_for: 30s }"))
            """
        } _: { stubs, edge in
            let failures = Recorder<String>()
            let postStatuses = Recorder<Int>()
            let stop = StopFlag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        while !stop.isSet {
                            if worker == 3 {
                                let response = try await edge.get("/count", method: "POST", body: [1, 2, 3])
                                postStatuses.append(response.status)
                                if response.status != 200 {
                                    #expect(response.header("Content-Type") == "application/problem+json")
                                }
                            } else {
                                let response = try await edge.get("/slow/20")
                                if response.status != 200 {
                                    failures.append("\(response.status) \(response.text)")
                                }
                            }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(600))
                await stubs[1].kill()
                try await Task.sleep(for: .milliseconds(900))
                stop.set()
                try await group.waitForAll()
            }
            #expect(failures.all == [])
            let posts = postStatuses.all
            #expect(posts.allSatisfy { $0 == 200 || $0 == 502 }, "\(posts)")
            print("killed mid-load: POST outcomes \(Dictionary(grouping: posts, by: { $0 }).mapValues(\.count))")
        }
    }
}

/// Tells load loops to end.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Collects values from concurrent tasks.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

@Suite("Proxy: reload")
struct ProxyReloadTests {
    @Test("swapping targets under load fails no request; a removed target finishes what it has and gets nothing new")
    func reloadUnderLoad() async throws {
        let stubs = [
            try await StubUpstream.start(name: "a"), try await StubUpstream.start(name: "b"),
            try await StubUpstream.start(name: "c"),
        ]
        defer { Task { for stub in stubs { await stub.kill() } } }
        try await TemporaryDirectory.with { directory in
            let path = directory + "/edge.yaml"
            func write(_ targets: [StubUpstream]) throws {
                try """
                listen: [{ address: 127.0.0.1:0 }]
                access_log: off
                routes:
                  - upstream: app
                upstreams:
                  app:
                    targets: [\(targets.map(\.address).joined(separator: ", "))]
                """.write(toFile: path, atomically: true, encoding: .utf8)
            }
            try write([stubs[0], stubs[1]])
            let logger = Logger(label: "pier.test.proxy", factory: { _ in SwiftLogNoOpLogHandler() })
            let stack = try EdgeStack(
                config: try EdgeConfig.load(path: path), configPath: path,
                group: MultiThreadedEventLoopGroup.singleton, logger: logger, reloadPollInterval: .seconds(3600))
            let group = ServiceGroup(services: stack.services, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let port = try await stack.server.boundAddresses().first?.port ?? 0
                let failures = Recorder<String>()
                let stop = StopFlag()
                // Requests begun after the reload use another path, so the removed target's log tells them apart
                // from requests that were already on their way to it.
                let reloaded = StopFlag()
                let load = Task {
                    try await withThrowingTaskGroup(of: Void.self) { workers in
                        for _ in 0..<4 {
                            workers.addTask {
                                while !stop.isSet {
                                    let path = reloaded.isSet ? "/slow/11" : "/slow/10"
                                    let response = try await RawHTTPClient.request(port: port, "GET", path)
                                    if response.status != 200 { failures.append("\(response.status)") }
                                }
                            }
                        }
                        try await workers.waitForAll()
                    }
                }
                try await Task.sleep(for: .milliseconds(400))
                // A slow request on a is in flight while a is removed: it must still complete.
                let inFlightOnA = Task { try await RawHTTPClient.request(port: port, "GET", "/slow/800") }
                try await eventually("a slow request reached a") {
                    stubs[0].requests.contains { $0.uri == "/slow/800" }
                        || stubs[1].requests.contains { $0.uri == "/slow/800" }
                }
                try write([stubs[1], stubs[2]])
                #expect(stack.reloader?.reload(reason: "test") == .applied)
                reloaded.set()
                // Load goes on until the added target has answered some of it (on a loaded machine the four workers
                // may get through only a few requests in a fixed pause), then a little longer.
                try? await eventually("the added target receives requests") {
                    stubs[2].requests.contains { $0.uri == "/slow/11" }
                }
                try await Task.sleep(for: .milliseconds(300))
                stop.set()
                try await load.value
                let slow = try await inFlightOnA.value
                #expect(slow.status == 200)
                #expect(failures.all == [])
                #expect(!stubs[0].requests.contains { $0.uri == "/slow/11" }, "the removed target got new requests")
                #expect(stubs[2].requests.contains { $0.uri == "/slow/11" }, "the added target got no requests")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
