import Crypto
import Foundation
import Logging
import PierCore
import PierTesting
import PierTokens
import Synchronization
import Testing

@testable import PierEdge

/// Tokens as the board issues them: PASETO v4.public over JSON claims with RFC 3339 times.
enum TestTokens {
    static let assertion = "pier.access.v1"

    static func make(
        _ key: Curve25519.Signing.PrivateKey, subject: String = "user-1", role: String? = "supervisor",
        expiresIn: Int = 900, notBefore: Int = 0, assertion: String = TestTokens.assertion,
        extra: [String: String] = [:]
    ) throws -> String {
        let now = Date()
        var claims: [String: String] = [
            "sub": subject,
            "iat": now.addingTimeInterval(Double(min(0, notBefore))).formatted(.iso8601),
            "nbf": now.addingTimeInterval(Double(notBefore)).formatted(.iso8601),
            "exp": now.addingTimeInterval(Double(expiresIn)).formatted(.iso8601),
        ]
        if let role { claims["role"] = role }
        for (name, value) in extra { claims[name] = value }
        let message = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        return try PASETOv4Public.sign(Array(message), with: key, implicitAssertion: Array(assertion.utf8))
    }
}

@Suite("Edge token checks: claims and times")
struct EdgeTokenLogicTests {
    @Test("RFC 3339 times are read with fractions and offsets; anything else is refused")
    func rfc3339() {
        #expect(RFC3339.seconds("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.seconds("2026-12-04T18:50:57Z") == 1_796_410_257)
        #expect(RFC3339.seconds("2026-12-04T18:50:57.123456Z") == 1_796_410_257)
        #expect(RFC3339.seconds("2026-12-04t18:50:57z") == 1_796_410_257)
        #expect(RFC3339.seconds("2026-12-04T20:50:57+02:00") == 1_796_410_257)
        #expect(RFC3339.seconds("2026-12-04T16:20:57-02:30") == 1_796_410_257)
        #expect(RFC3339.seconds("2024-02-29T00:00:00Z") == 1_709_164_800)
        for bad in [
            "", "2026-12-04", "2026-12-04T18:50:57", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
            "2026-12-04T24:00:00Z", "2026-12-04T18:50:57.Z", "2026-12-04T18:50:57+0200", "2026-12-04T18:50:57Zx",
            "２026-12-04T18:50:57Z", "1796410257",
        ] {
            #expect(RFC3339.seconds(bad) == nil, "\(bad)")
        }
        // Agrees with Foundation on what the board writes.
        let now = Date()
        #expect(RFC3339.seconds(now.formatted(.iso8601)) == Int64(now.timeIntervalSince1970))
    }

    static func authenticator(_ key: Curve25519.Signing.PublicKey, leeway: Duration = .seconds(30))
        -> EdgeAuthenticator
    {
        let config = PASETOAuthConfig(
            key: .inline(PASERK.encode(key)), implicitAssertion: TestTokens.assertion, leeway: leeway)
        return EdgeAuthenticator(
            keys: TokenKeySet(config: config, logger: Logger(label: "test")), capacityPerShard: 16)
    }

    @Test("valid, expired, not yet valid, forged, other-key, other-assertion and malformed tokens")
    func outcomes() throws {
        let key = Curve25519.Signing.PrivateKey()
        let other = Curve25519.Signing.PrivateKey()
        let auth = Self.authenticator(key.publicKey)
        let now = Int64(Date().timeIntervalSince1970)
        func check(_ token: String) -> EdgeAuthenticator.Outcome {
            auth.check(token: token, now: now, shard: 0, mayFetch: true)
        }
        #expect(try check(TestTokens.make(key)) == .allowed(.init(user: "user-1", role: "supervisor")))
        #expect(try check(TestTokens.make(key, role: nil)) == .allowed(.init(user: "user-1", role: nil)))
        #expect(try check(TestTokens.make(key, expiresIn: -1)) == .refused(.expired))
        // nbf within the leeway passes; beyond it does not.
        #expect(try check(TestTokens.make(key, notBefore: 20)) == .allowed(.init(user: "user-1", role: "supervisor")))
        #expect(try check(TestTokens.make(key, notBefore: 120)) == .refused(.invalid))
        #expect(try check(TestTokens.make(other)) == .refused(.invalid))
        #expect(try check(TestTokens.make(key, assertion: "another.purpose")) == .refused(.invalid))
        let good = try TestTokens.make(key)
        // A flipped byte in the signed message.
        var bytes = Array(good.utf8)
        bytes[20] = bytes[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(check(String(decoding: bytes, as: UTF8.self)) == .refused(.invalid))
        #expect(check("v4.local.abc") == .refused(.invalid))
        #expect(check("not a token") == .refused(.invalid))
        #expect(check(String(repeating: "v", count: 5000)) == .refused(.invalid))
        // Claims the edge cannot forward, or times it cannot read.
        #expect(try check(TestTokens.make(key, subject: "a\r\nX-Evil: 1")) == .refused(.invalid))
        #expect(try check(TestTokens.make(key, extra: ["exp": "tomorrow"])) == .refused(.invalid))
        #expect(try check(TestTokens.make(key, extra: ["nbf": "1700000000"])) == .refused(.invalid))
    }

    @Test("a remembered token is still checked for expiry, and forgotten when the key changes")
    func remembered() async throws {
        let key = Curve25519.Signing.PrivateKey()
        let auth = Self.authenticator(key.publicKey)
        let token = try TestTokens.make(key, expiresIn: 60)
        let now = Int64(Date().timeIntervalSince1970)
        #expect(
            auth.check(token: token, now: now, shard: 3, mayFetch: true)
                == .allowed(.init(user: "user-1", role: "supervisor")))
        #expect(
            auth.check(token: token, now: now, shard: 3, mayFetch: true)
                == .allowed(.init(user: "user-1", role: "supervisor")))
        #expect(auth.check(token: token, now: now + 61, shard: 3, mayFetch: true) == .refused(.expired))

        // A fetched key that changes: what was remembered under the old one is checked anew, and refused.
        let next = Curve25519.Signing.PrivateKey()
        let served = Mutex(key.publicKey)
        let keys = TokenKeySet(
            config: PASETOAuthConfig(key: .url(["http://127.0.0.1:9/key"])), logger: Logger(label: "test"),
            fetcher: { _ in (PASERK.encode(served.withLock { $0 }), TestTokens.assertion) })
        let fetched = EdgeAuthenticator(keys: keys)
        await keys.refreshIfDue()
        #expect(keys.currentGeneration == 1)
        #expect(
            fetched.check(token: token, now: now, shard: 0, mayFetch: false)
                == .allowed(.init(user: "user-1", role: "supervisor")))
        served.withLock { $0 = next.publicKey }
        await keys.refreshIfDue(now: .now + .seconds(301))
        #expect(keys.currentGeneration == 2)
        #expect(fetched.check(token: token, now: now, shard: 0, mayFetch: false) == .refused(.invalid))
        #expect(
            fetched.check(token: try TestTokens.make(next), now: now, shard: 0, mayFetch: false)
                == .allowed(.init(user: "user-1", role: "supervisor")))
    }

    @Test("the verified-token memory stays bounded under many distinct tokens")
    func bounded() {
        var memory = VerifiedTokens(capacity: 100)
        let claims = TokenClaims(identity: .init(user: "u", role: nil), expiresAt: 0)
        for index in 0..<10_000 { memory.insert("token-\(index)", .init(claims: claims, generation: 0)) }
        #expect(memory.count <= 100)
        #expect(memory.lookup("token-9999") != nil)
        #expect(memory.lookup("token-0") == nil)
    }

    @Test("the key document: the board's JSON, or a bare PASERK; other purposes are refused")
    func document() throws {
        let key = Curve25519.Signing.PrivateKey().publicKey
        let paserk = PASERK.encode(key)
        let json = #"{"paserk":"\#(paserk)","version":"v4","purpose":"public","implicit_assertion":"pier.access.v1"}"#
        let parsed = try TokenKeySet.parseDocument(Array(json.utf8))
        #expect(parsed.paserk == paserk && parsed.implicitAssertion == "pier.access.v1")
        #expect(try TokenKeySet.parseDocument(Array("\(paserk)\n".utf8)).paserk == paserk)
        #expect(throws: TokenKeySet.FetchError.self) {
            try TokenKeySet.parseDocument(Array(#"{"paserk":"x","purpose":"local"}"#.utf8))
        }
        #expect(throws: TokenKeySet.FetchError.self) { try TokenKeySet.parseDocument(Array("<html>".utf8)) }
    }

    @Test("auth is read with its defaults, and bad values are named by line and field")
    func parse() throws {
        let key = PASERK.encode(Curve25519.Signing.PrivateKey().publicKey)
        let good = try EdgeConfig.parse(
            """
            routes:
              - static: { root: . }
                auth: { paseto: { public_key_url: "http://127.0.0.1:9/api/v1/auth/public-key" } }
              - static: { root: . }
                auth:
                  paseto: { public_key: \(key), implicit_assertion: x, cookie: sid, refresh: 1m, leeway: 5s }
            """, file: "edge.yaml", baseDirectory: NSTemporaryDirectory())
        #expect(
            good.routes[0].auth?.paseto
                == PASETOAuthConfig(key: .url(["http://127.0.0.1:9/api/v1/auth/public-key"])))
        #expect(
            good.routes[1].auth?.paseto
                == PASETOAuthConfig(
                    key: .inline(key), implicitAssertion: "x", cookie: "sid", refresh: .seconds(60),
                    leeway: .seconds(5)))
        do {
            _ = try EdgeConfig.parse(
                """
                routes:
                  - static: { root: . }
                    auth: { paseto: { public_key_url: "ftp://x/key" } }
                  - static: { root: . }
                    auth: { paseto: { public_key: "k4.public.short" } }
                  - static: { root: . }
                    auth: { paseto: { public_key: \(key), public_key_url: "http://a/k" } }
                  - static: { root: . }
                    auth: { paseto: { cookie: "a b" } }
                  - static: { root: . }
                    auth: { paseto: { public_key: \(key), leeway: 10m, refresh: 1s, color: red } }
                  - static: { root: . }
                    auth: { jwt: {} }
                """, file: "edge.yaml", baseDirectory: NSTemporaryDirectory())
            Issue.record("expected errors")
        } catch {
            let lines = error.diagnostics.map(\.description)
            for expected in [
                "edge.yaml:3: routes[0].auth.paseto.public_key_url: must be the http:// or https:// URL",
                "edge.yaml:5: routes[1].auth.paseto.public_key: must be a k4.public. PASERK",
                "edge.yaml:7: routes[2].auth.paseto: has both public_key_url and public_key",
                "edge.yaml:9: routes[3].auth.paseto: needs public_key_url",
                "edge.yaml:9: routes[3].auth.paseto.cookie: must be a cookie name",
                "edge.yaml:11: routes[4].auth.paseto.leeway: must be at most 5m",
                "edge.yaml:11: routes[4].auth.paseto.refresh: 1s is shorter than the minimum 10s",
                "edge.yaml:11: routes[4].auth.paseto: unknown field \"color\"",
                "edge.yaml:13: routes[5].auth: unknown field \"jwt\"",
            ] {
                #expect(
                    lines.contains { $0.hasPrefix(expected) },
                    "missing: \(expected)\nin:\n\(lines.joined(separator: "\n"))")
            }
        }
    }
}

@Suite("Edge token checks on the wire")
struct EdgeAuthWireTests {
    /// An edge with `/api/` behind `auth` (CORS for https://app.example) and `/open/` without it, both to one
    /// stub with the prefix stripped.
    static func withAuthEdge(
        auth: String, _ body: @Sendable (StubUpstream, EdgeFixture) async throws -> Void
    ) async throws {
        let yaml: @Sendable ([StubUpstream]) -> String = { stubs in
            """
            access_log: off
            routes:
              - match: { path_prefix: /api/ }
                upstream: app
                strip_prefix: /api
                cors: { allow_origins: ["https://app.example"] }
                auth: \(auth)
              - match: { path_prefix: /open/ }
                upstream: app
                strip_prefix: /open
            \(pool(stubs))
            """
        }
        try await withUpstreams(["a"], yaml) { stubs, edge in try await body(stubs[0], edge) }
    }

    /// The edge of ``withAuthEdge(auth:_:)`` with the key inline.
    func withAuthEdge(
        _ key: Curve25519.Signing.PublicKey,
        _ body: @Sendable (StubUpstream, EdgeFixture) async throws -> Void
    ) async throws {
        try await Self.withAuthEdge(
            auth: "{ paseto: { public_key: \(PASERK.encode(key)), implicit_assertion: \(TestTokens.assertion) } }", body
        )
    }

    @Test(
        "valid tokens pass with X-Pier-User and X-Pier-Role; missing, expired, forged and other-key ones get 401 before any upstream traffic; spoofed identity fields are stripped"
    )
    func wire() async throws {
        let key = Curve25519.Signing.PrivateKey()
        try await withAuthEdge(key.publicKey) { stub, edge in
            let spoofed = [("X-Pier-User", "admin"), ("X-Pier-Role", "supervisor")]
            // No token.
            let missing = try await edge.get("/api/headers", headers: spoofed + [("Origin", "https://app.example")])
            #expect(missing.status == 401)
            #expect(missing.header("Content-Type") == "application/problem+json")
            #expect(missing.header("WWW-Authenticate") == "Bearer")
            #expect(missing.header("Access-Control-Allow-Origin") == "https://app.example")
            let problem = try JSONSerialization.jsonObject(with: Data(missing.body)) as? [String: Any]
            #expect(problem?["code"] as? String == "unauthenticated")
            #expect(stub.requestCount == 0)

            let cases: [(String, [(String, String)], String, String)] = [
                (
                    "expired", [("Authorization", "Bearer " + (try TestTokens.make(key, expiresIn: -5)))],
                    "token_expired",
                    "Bearer error=\"invalid_token\""
                ),
                (
                    "other key",
                    [("Authorization", "Bearer " + (try TestTokens.make(Curve25519.Signing.PrivateKey())))],
                    "unauthenticated", "Bearer error=\"invalid_token\""
                ),
                (
                    "forged", [("Authorization", "Bearer v4.public.AAAA" + String(repeating: "A", count: 120))],
                    "unauthenticated", "Bearer error=\"invalid_token\""
                ),
                (
                    "not bearer", [("Authorization", "Basic dXNlcjpwYXNz")], "unauthenticated",
                    "Bearer error=\"invalid_request\""
                ),
                (
                    "bad cookie", [("Cookie", "pier_access=v4.public.xyz")], "unauthenticated",
                    "Bearer error=\"invalid_token\""
                ),
            ]
            for (name, headers, code, challenge) in cases {
                let refused = try await edge.get("/api/headers", headers: headers + spoofed)
                #expect(refused.status == 401, "\(name)")
                #expect(refused.header("WWW-Authenticate") == challenge, "\(name)")
                let problem = try JSONSerialization.jsonObject(with: Data(refused.body)) as? [String: Any]
                #expect(problem?["code"] as? String == code, "\(name)")
            }
            #expect(stub.requestCount == 0, "refused requests reached the upstream")

            // A valid token, in the header or the cookie: the upstream learns who, and only from the edge.
            let token = try TestTokens.make(key, subject: "u-42", role: "member")
            for headers in [[("Authorization", "Bearer \(token)")], [("Cookie", "theme=dark; pier_access=\(token)")]] {
                let allowed = try await edge.get("/api/headers", headers: headers + spoofed)
                #expect(allowed.status == 200)
                let lines = allowed.text.split(separator: "\n").map(String.init)
                #expect(lines.filter { $0.hasPrefix("x-pier-user:") } == ["x-pier-user: u-42"])
                #expect(lines.filter { $0.hasPrefix("x-pier-role:") } == ["x-pier-role: member"])
            }
            // Without auth: the client's identity fields are still never forwarded.
            let open = try await edge.get("/open/headers", headers: spoofed)
            #expect(open.status == 200)
            #expect(!open.text.contains("x-pier-user") && !open.text.contains("x-pier-role"))

            // A preflight needs no token; a refused request's body is read and the connection goes on.
            let preflight = try await edge.get(
                "/api/headers",
                headers: [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")],
                method: "OPTIONS")
            #expect(preflight.status == 204)
            let pipelined = try await edge.raw(
                "POST /api/count HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /api/whoami HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n",
                expecting: 2)
            #expect(pipelined.responses.map(\.status) == [401, 200])
            #expect(stub.requests.map(\.uri).filter { $0 == "/count" }.isEmpty)
        }
    }

    /// A key server for `public_key_url`: answers the board's JSON document with the current key, or an error.
    final class KeyServer: Sendable {
        final class State: Sendable {
            let value = Mutex<(key: Curve25519.Signing.PublicKey?, fetches: Int)>((nil, 0))
        }
        let state = State()
        let server: ScriptedUpstream

        init(_ key: Curve25519.Signing.PublicKey?) async throws {
            let state = self.state
            state.value.withLock { $0.key = key }
            server = try await ScriptedUpstream.start { _ in
                let key = state.value.withLock { state -> Curve25519.Signing.PublicKey? in
                    state.fetches += 1
                    return state.key
                }
                guard let key else {
                    return .bytes(
                        Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".utf8), close: false)
                }
                let body =
                    #"{"paserk":"\#(PASERK.encode(key))","version":"v4","purpose":"public","implicit_assertion":"pier.access.v1","footer":""}"#
                return .bytes(
                    Array(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                            .utf8), close: false)
            }
        }

        var fetches: Int { state.value.withLock { $0.fetches } }
        func set(_ key: Curve25519.Signing.PublicKey?) { state.value.withLock { $0.key = key } }
        var url: String { "http://\(server.address)/api/v1/auth/public-key" }
    }

    /// The edge of ``withAuthEdge(auth:_:)`` with the key from `urls` (the key server's by default).
    func withFetchedKeyEdge(
        _ keys: KeyServer, urls: [String]? = nil, _ body: @Sendable (StubUpstream, EdgeFixture) async throws -> Void
    ) async throws {
        let urls = (urls ?? [keys.url]).map { "\"\($0)\"" }.joined(separator: ", ")
        try await Self.withAuthEdge(auth: "{ paseto: { public_key_url: [\(urls)] } }", body)
    }

    @Test(
        "a key from public_key_url: requests wait for the first fetch, a new key is fetched when a token needs it, forged tokens fetch at most once per 10 s"
    )
    func fetchedKey() async throws {
        let first = Curve25519.Signing.PrivateKey()
        let keys = try await KeyServer(first.publicKey)
        defer { Task { await keys.server.stop() } }
        try await withFetchedKeyEdge(keys) { stub, edge in
            // At once after start: the request waits for the key instead of being refused.
            let early = try await edge.get(
                "/api/whoami", headers: [("Authorization", "Bearer \(try TestTokens.make(first))")])
            #expect(early.status == 200)
            #expect(early.text == "a")
            #expect(keys.fetches == 1)

            // The publisher moves to another key: a token signed with it makes the edge fetch again (once the last
            // fetch is 10 s old), and passes.
            try await Task.sleep(for: .seconds(10))
            let second = Curve25519.Signing.PrivateKey()
            keys.set(second.publicKey)
            let rotated = try await edge.get(
                "/api/whoami", headers: [("Authorization", "Bearer \(try TestTokens.make(second))")])
            #expect(rotated.status == 200)
            #expect(keys.fetches == 2)
            // Forged tokens right after do not fetch again: the last fetch was less than 10 s ago.
            for _ in 0..<20 {
                let forged = try await edge.get(
                    "/api/whoami",
                    headers: [("Authorization", "Bearer \(try TestTokens.make(Curve25519.Signing.PrivateKey()))")])
                #expect(forged.status == 401)
            }
            #expect(keys.fetches == 2)
            // Tokens of the old key no longer pass.
            let old = try await edge.get(
                "/api/whoami", headers: [("Authorization", "Bearer \(try TestTokens.make(first))")])
            #expect(old.status == 401)
            #expect(stub.requests.count == 2)
        }
    }

    @Test("a list of key URLs is tried in order: one instance down does not keep the key from the edge")
    func keyURLList() async throws {
        let key = Curve25519.Signing.PrivateKey()
        let keys = try await KeyServer(key.publicKey)
        defer { Task { await keys.server.stop() } }
        let closed = try LoopbackPort.reserve()
        try await withFetchedKeyEdge(keys, urls: ["http://127.0.0.1:\(closed)/api/v1/auth/public-key", keys.url]) {
            stub, edge in
            let allowed = try await edge.get(
                "/api/whoami", headers: [("Authorization", "Bearer \(try TestTokens.make(key))")])
            #expect(allowed.status == 200)
            #expect(keys.fetches == 1)
        }
    }

    @Test("without a key (the publisher is down), requests get 503 auth_unavailable and nothing reaches the upstream")
    func unavailable() async throws {
        let keys = try await KeyServer(nil)
        defer { Task { await keys.server.stop() } }
        try await withFetchedKeyEdge(keys) { stub, edge in
            let key = Curve25519.Signing.PrivateKey()
            let refused = try await edge.get(
                "/api/whoami", headers: [("Authorization", "Bearer \(try TestTokens.make(key))")])
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            let problem = try JSONSerialization.jsonObject(with: Data(refused.body)) as? [String: Any]
            #expect(problem?["code"] as? String == "auth_unavailable")
            // Once the publisher answers, the edge catches up by itself (at most 10 s later) or on the next request
            // after the 1 s back-off.
            keys.set(key.publicKey)
            try await Task.sleep(for: .milliseconds(1100))
            let allowed = try await edge.get(
                "/api/whoami", headers: [("Authorization", "Bearer \(try TestTokens.make(key))")])
            #expect(allowed.status == 200)
            #expect(stub.requests.count == 1)
        }
    }
}
