import NIOCore
import NIOEmbedded
import Testing

@testable import PierEdge

@Suite("Request paths")
struct RequestPathTests {
    @Test(
        "refuses traversal and smuggled separators",
        arguments: [
            "/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/x", "/a/%2e%2e/%2e%2e/x", "/.%2e/x",
            "/a%5cb", "/a%2F..%2Fb", "/%2e%2e%2fsecret", "/x/..%2F", "/x/%2F.", "/a\\b", "/a%00b", "/a/./b", "/%zz",
            "/%2", "/a%c0%ae%c0%ae/x",
            "relative/path", "/a#frag",
        ]
    )
    func refuses(target: String) {
        #expect(throws: RequestPath.Problem.self) { try RequestPath(target: target) }
    }

    @Test("decodes, merges slashes and keeps the query")
    func decodes() throws {
        let path = try RequestPath(target: "/docs//%ED%95%9C%EA%B8%80%20x.txt?q=%2e%2e")
        #expect(path.path == "/docs/한글 x.txt")
        #expect(path.query == "q=%2e%2e")
        #expect(try RequestPath(target: "/a/b/").hasTrailingSlash)
        #expect(try RequestPath(target: "/").path == "/")
        #expect(try RequestPath(target: "http://example.org/x?y").path == "/x")
        #expect(try RequestPath(target: "/%252e%252e/x").path == "/%2e%2e/x")  // decoded once: a literal name
        #expect(try !RequestPath(target: "/a%20b/%252F").hasEncodedSlash)
    }

    @Test(
        "keeps an encoded slash encoded, inside its segment, with the percent signs beside it",
        arguments: [
            ("/a%2fb", "/a%2Fb"), ("/a%2F...%2Fb", "/a%2F...%2Fb"), ("/x%25y/%2f%41//z/", "/x%25y/%2FA/z/"),
            ("/%2F%2Fx", "/%2F%2Fx"), ("/.well-known%2Fx", "/.well-known%2Fx"),
        ]
    )
    func encodedSlash(target: String, expected: String) throws {
        let path = try RequestPath(target: target)
        #expect(path.hasEncodedSlash)
        #expect(path.path == expected)
        #expect(!path.path.split(separator: "/").contains(".."))
    }

    @Test("finds dot segments but allows .well-known")
    func dotSegments() throws {
        #expect(try RequestPath(target: "/.env").hasDotSegment)
        #expect(try RequestPath(target: "/.git/config").hasDotSegment)
        #expect(try RequestPath(target: "/a/.hidden/b").hasDotSegment)
        #expect(!(try RequestPath(target: "/.well-known/security.txt").hasDotSegment))
        #expect(!(try RequestPath(target: "/app.js").hasDotSegment))
        #expect(try RequestPath(target: "/board/42").lastSegment == "42")
        #expect(try RequestPath(target: "/assets/app.js").lastSegment == "app.js")
    }
}

@Suite("Route matching")
struct RouteMatchTests {
    @Test("host patterns: exact, wildcard, case-insensitive")
    func hosts() throws {
        let wildcard = try #require(HostPattern("*.Example.org"))
        #expect(wildcard.matches("docs.example.org"))
        #expect(wildcard.matches("a.b.example.org"))
        #expect(!wildcard.matches("example.org"))
        #expect(!wildcard.matches("badexample.org"))
        let exact = try #require(HostPattern("example.org"))
        #expect(exact.matches("example.org"))
        #expect(!exact.matches("www.example.org"))
        #expect(HostPattern("*.") == nil)
        #expect(HostPattern("a.*.org") == nil)
        #expect(HostPattern("example.org:8080") == nil)
        #expect(EdgeExchange.hostWithoutPort("Example.ORG:8080") == "example.org")
        #expect(EdgeExchange.hostWithoutPort("[::1]:8080") == "[::1]")
        #expect(EdgeExchange.hostWithoutPort("[::1]") == "[::1]")
        #expect(EdgeExchange.hostWithoutPort("example.org.") == "example.org")
        #expect(EdgeExchange.hostWithoutPort("Example.org.:443") == "example.org")
        #expect(EdgeExchange.hostWithoutPort("example.org") == "example.org")
        #expect(EdgeExchange.hostWithoutPort("") == "")
    }

    @Test("path prefixes match at segment boundaries and methods filter")
    func paths() {
        let docs = RouteMatch(pathPrefix: "/docs/")
        #expect(docs.matches(host: nil, path: "/docs/a", method: "GET"))
        #expect(docs.matches(host: nil, path: "/docs", method: "GET"))
        #expect(!docs.matches(host: nil, path: "/docsx", method: "GET"))
        let api = RouteMatch(pathPrefix: "/api")
        #expect(api.matches(host: nil, path: "/api", method: "GET"))
        #expect(api.matches(host: nil, path: "/api/x", method: "GET"))
        #expect(!api.matches(host: nil, path: "/apix", method: "GET"))
        let getOnly = RouteMatch(host: HostPattern("*.example.org"), pathPrefix: "/", methods: ["GET"])
        #expect(getOnly.matches(host: "a.example.org", path: "/", method: "GET"))
        #expect(!getOnly.matches(host: "a.example.org", path: "/", method: "POST"))
        #expect(!getOnly.matches(host: nil, path: "/", method: "GET"))
    }
}

@Suite("CORS decisions")
struct CORSPolicyTests {
    let policy = CORSPolicy(
        CORSConfig(
            allowOrigins: ["https://app.example.com", "https://*.example.org"],
            allowCredentials: true,
            allowMethods: ["GET", "POST", "PATCH", "DELETE"],
            allowHeaders: ["Content-Type", "Authorization"],
            maxAge: 600
        )
    )

    static func dictionary(_ headers: [(String, String)]) -> [String: String] {
        Dictionary(headers, uniquingKeysWith: { first, _ in first })
    }

    @Test("exact and subdomain origins are allowed, others are not")
    func origins() {
        #expect(policy.allows(origin: "https://app.example.com"))
        #expect(policy.allows(origin: "https://a.example.org"))
        #expect(policy.allows(origin: "https://A.b.example.org"))
        #expect(!policy.allows(origin: "https://example.org"))
        #expect(!policy.allows(origin: "http://a.example.org"))
        #expect(!policy.allows(origin: "https://a.example.org:8443"))
        #expect(!policy.allows(origin: "https://app.example.com.evil.net"))
        #expect(!policy.allows(origin: "https://evilexample.org"))
        #expect(!policy.allows(origin: "null"))
    }

    @Test("an allowed preflight gets methods, headers, credentials and max-age")
    func preflight() {
        let headers = Self.dictionary(
            policy.preflightHeaders(
                origin: "https://app.example.com", requestMethod: "PATCH", requestHeaders: "content-type, authorization"
            )
        )
        #expect(headers["Access-Control-Allow-Origin"] == "https://app.example.com")
        #expect(headers["Access-Control-Allow-Credentials"] == "true")
        #expect(headers["Access-Control-Allow-Methods"] == "GET, POST, PATCH, DELETE")
        #expect(headers["Access-Control-Allow-Headers"] == "content-type, authorization")
        #expect(headers["Access-Control-Max-Age"] == "600")
    }

    @Test("refused preflights and disallowed origins carry no Access-Control headers")
    func refusals() {
        for headers in [
            policy.preflightHeaders(origin: "https://evil.net", requestMethod: "GET", requestHeaders: nil),
            policy.preflightHeaders(origin: "https://app.example.com", requestMethod: "PUT", requestHeaders: nil),
            policy.preflightHeaders(
                origin: "https://app.example.com", requestMethod: "GET", requestHeaders: "X-Secret"),
            policy.responseHeaders(origin: "https://evil.net"),
            policy.responseHeaders(origin: nil),
        ] {
            #expect(!headers.contains { $0.0.hasPrefix("Access-Control-") })
            #expect(headers.contains { $0.0 == "Vary" })
        }
        let actual = Self.dictionary(policy.responseHeaders(origin: "https://x.example.org"))
        #expect(actual["Access-Control-Allow-Origin"] == "https://x.example.org")
        #expect(actual["Vary"] == "Origin")
    }

    @Test("a wildcard without credentials answers *")
    func wildcard() {
        let open = CORSPolicy(CORSConfig(allowOrigins: ["*"]))
        #expect(Self.dictionary(open.responseHeaders(origin: "https://any.net"))["Access-Control-Allow-Origin"] == "*")
    }
}

@Suite("Ranges, entity tags, dates and names")
struct StaticHelpersTests {
    @Test("byte ranges")
    func ranges() {
        #expect(ByteRangeRequest.parse(nil, size: 100) == .full)
        #expect(ByteRangeRequest.parse("bytes=0-9", size: 100) == .single(0..<10))
        #expect(ByteRangeRequest.parse("bytes=90-", size: 100) == .single(90..<100))
        #expect(ByteRangeRequest.parse("bytes=-10", size: 100) == .single(90..<100))
        #expect(ByteRangeRequest.parse("bytes=-500", size: 100) == .single(0..<100))
        #expect(ByteRangeRequest.parse("bytes=95-200", size: 100) == .single(95..<100))
        #expect(ByteRangeRequest.parse("bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRangeRequest.parse("bytes=0-1,5-6", size: 100) == .multiple([0..<2, 5..<7]))
        #expect(ByteRangeRequest.parse("bytes=0-5,3-8", size: 100) == .single(0..<9))
        #expect(ByteRangeRequest.parse("bytes=5-1", size: 100) == .full)
        #expect(ByteRangeRequest.parse("items=0-1", size: 100) == .full)
        #expect(ByteRangeRequest.parse("bytes=a-b", size: 100) == .full)
    }

    @Test("entity tags")
    func etags() {
        #expect(EntityTag.noneMatchHits("\"a\", W/\"b\"", etag: "\"b\""))
        #expect(EntityTag.noneMatchHits("*", etag: "\"x\""))
        #expect(!EntityTag.noneMatchHits("\"a\"", etag: "\"b\""))
        #expect(EntityTag.ifRangeHolds("\"b\"", etag: "\"b\"", lastModified: "x"))
        #expect(!EntityTag.ifRangeHolds("W/\"b\"", etag: "\"b\"", lastModified: "x"))
        #expect(
            EntityTag.ifRangeHolds(
                "Sun, 06 Nov 1994 08:49:37 GMT", etag: "\"b\"", lastModified: "Sun, 06 Nov 1994 08:49:37 GMT"))
    }

    @Test("HTTP dates round-trip")
    func dates() {
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(CommonLogTime.format(epochSeconds: 784_111_777) == "06/Nov/1994:08:49:37 +0000")
    }

    @Test("fingerprinted names and content types")
    func names() {
        #expect(Fingerprint.isFingerprinted("app.3f9a1c2e.js"))
        #expect(Fingerprint.isFingerprinted("chunk-5FJ3K2QW.js"))
        #expect(!Fingerprint.isFingerprinted("app.js"))
        #expect(!Fingerprint.isFingerprinted("index.html"))
        #expect(!Fingerprint.isFingerprinted("my-component.js"))
        #expect(MediaTypes.contentType(forFileName: "a.HTML") == "text/html; charset=utf-8")
        #expect(MediaTypes.contentType(forFileName: "a.unknown") == "application/octet-stream")
        #expect(MediaTypes.contentType(forFileName: ".env") == "application/octet-stream")
        let all = ["br", "zstd", "gzip"]
        #expect(ContentCoding.choose("gzip;q=0.5, br;q=0", among: all) == "gzip")
        #expect(ContentCoding.choose("*", among: all) == "br")
        #expect(ContentCoding.choose("gzip, deflate, br, zstd", among: all) == "br")
        #expect(ContentCoding.choose("gzip, deflate, br, zstd", among: ["zstd", "gzip"]) == "zstd")
        #expect(ContentCoding.choose("br;q=0.5, gzip;q=0.9, zstd;Q=0.7", among: all) == "gzip")
        #expect(ContentCoding.choose("X-GZIP", among: all) == "gzip")
        #expect(ContentCoding.choose("*;q=0.1, br;q=0", among: all) == "zstd")
        #expect(ContentCoding.choose("identity", among: all) == nil)
        #expect(ContentCoding.choose("gzip;q=0, *;q=0", among: all) == nil)
        #expect(ContentCoding.choose("br;q=1.5, gzip;q=0.001", among: all) == "gzip")
        #expect(ContentCoding.choose("", among: all) == nil)
    }

    @Test("media-type search ignores ASCII case and finds needles anywhere")
    func caseInsensitiveSearch() {
        #expect(HTTPToken.containsCaseInsensitive("text/html", lowercaseNeedle: "text/html"))
        #expect(HTTPToken.containsCaseInsensitive("application/xml, TEXT/HTML;q=0.9", lowercaseNeedle: "text/html"))
        #expect(!HTTPToken.containsCaseInsensitive("text/htm", lowercaseNeedle: "text/html"))
        #expect(!HTTPToken.containsCaseInsensitive("application/json", lowercaseNeedle: "text/html"))
        #expect(!HTTPToken.containsCaseInsensitive("", lowercaseNeedle: "text/html"))
        #expect(HTTPToken.containsCaseInsensitive("ttext/html", lowercaseNeedle: "text/html"))
    }

    @Test("response heads: status line, fields in order, merged Vary, blank line")
    func responseHead() {
        var head = EdgeResponseHead(status: 206)
        head.add("Content-Type", "text/plain; charset=utf-8")
        head.add([("Vary", "Origin"), ("X-Note", "한국어")])
        head.addVary("Accept-Encoding")
        head.addVary("Origin")
        var buffer = ByteBuffer()
        buffer.writeStaticString("prefix|")
        head.write(into: &buffer)
        #expect(
            String(buffer: buffer)
                == "prefix|HTTP/1.1 206 Partial Content\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "X-Note: 한국어\r\nVary: Origin, Accept-Encoding\r\n\r\n")
        var teapot = ByteBuffer()
        EdgeResponseHead(status: 418).write(into: &teapot)
        #expect(String(buffer: teapot) == "HTTP/1.1 418 Status 418\r\n\r\n")
    }
}

@Suite("Service order")
struct ServiceOrderTests {
    final class Connection: AnsweredInTurn {
        let name: String
        var answeredTurn: UInt64
        let answers: Answers
        init(_ name: String, answeredTurn: UInt64, _ answers: Answers) {
            self.name = name
            self.answeredTurn = answeredTurn
            self.answers = answers
        }
        func answerQueued() { answers.names.append(name) }
    }

    final class Answers {
        var names: [String] = []
    }

    @Test("the requests read in one turn are answered least recently answered first, at the end of the turn")
    func oldestFirst() throws {
        let loop = EmbeddedEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let order = ServiceOrder()
        let answers = Answers()
        let recent = Connection("recent", answeredTurn: 9, answers)
        let older = Connection("older", answeredTurn: 4, answers)
        let new = Connection("new", answeredTurn: 0, answers)
        for connection in [recent, older, new] { order.enqueue(connection, on: loop) }
        #expect(answers.names.isEmpty, "nothing is answered before the turn ends")
        loop.run()
        #expect(answers.names == ["new", "older", "recent"])
        #expect(new.answeredTurn < older.answeredTurn && older.answeredTurn < recent.answeredTurn)
        // Next turn: the one answered last goes last again, whatever order the reads came in.
        for connection in [recent, new] { order.enqueue(connection, on: loop) }
        loop.run()
        #expect(answers.names.suffix(2) == ["new", "recent"])
    }
}
