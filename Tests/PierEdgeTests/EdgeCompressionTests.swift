import Foundation
import NIOCore
import PierTesting
import Testing

@testable import PierEdge

/// Decodes `body` with Python's gzip, brotli and zstandard (the reference decoders), or throws why it cannot.
func decoded(_ body: [UInt8], _ coding: String) async throws -> [UInt8] {
    guard let python = TestPython.interpreter else {
        throw RunningProcess.Failure(description: "the Python venv (scripts/test prepares it) is missing")
    }
    return try await TemporaryDirectory.with { directory in
        let source = directory + "/in"
        let target = directory + "/out"
        try Data(body).write(to: URL(fileURLWithPath: source))
        let result = try await CommandLineTool.run(python, [TestPython.probe("decode.py"), coding, source, target])
        guard result.status == 0 else { throw RunningProcess.Failure(description: result.output + result.errors) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: target)))
    }
}

/// Whether two bodies are the same (a failed check names the call, not every byte).
func same(_ first: [UInt8], _ second: [UInt8]) -> Bool { first == second }

/// A page of text that compresses as real HTML does: repeated structure, varying words.
func samplePage(bytes: Int) -> String {
    var page = "<!doctype html><html><body>\n"
    var index = 0
    while page.utf8.count < bytes {
        page += "<li class=\"task\" data-id=\"\(index)\">Task \(index): review the \(index % 7) pull requests</li>\n"
        index += 1
    }
    return String(page.prefix(bytes))
}

@Suite("Compression: codecs and negotiation")
struct ContentEncoderTests {
    @Test(
        "every coding round-trips through the reference decoder, whole or in pieces", arguments: ["gzip", "br", "zstd"])
    func roundTrip(coding: String) async throws {
        let name = try #require(ContentCodingName(rawValue: coding))
        try #require(name.isAvailable, "libzstd.so.1 is missing")
        let page = Array(samplePage(bytes: 200_000).utf8)
        for effort in [CompressionEffort.streaming, .once] {
            let whole = try ContentEncoder.compress(ByteBuffer(bytes: page), name, effort: effort)
            #expect(whole.readableBytes < page.count / 4)
            #expect(same(try await decoded(Array(buffer: whole), coding), page))
        }
        // Streamed in uneven pieces, as an upstream's body arrives.
        let encoder = try ContentEncoder(name, effort: .streaming)
        var out = ByteBuffer()
        var offset = 0
        var size = 1
        while offset < page.count {
            let end = min(page.count, offset + size)
            try encoder.compress(ByteBuffer(bytes: page[offset..<end]), into: &out)
            offset = end
            size = size * 3 + 1
        }
        try encoder.finish(into: &out)
        #expect(same(try await decoded(Array(buffer: out), coding), page))
        // An empty body is a valid empty stream.
        #expect(
            try await decoded(Array(buffer: try ContentEncoder.compress(ByteBuffer(), name, effort: .once)), coding)
                == [])
    }

    @Test("a cut-short stream is refused by the decoder (so the tests above can fail)")
    func truncated() async throws {
        let page = Array(samplePage(bytes: 50_000).utf8)
        for coding in ContentCodingName.allCases where coding.isAvailable {
            let whole = Array(buffer: try ContentEncoder.compress(ByteBuffer(bytes: page), coding, effort: .streaming))
            await #expect(throws: (any Error).self) { try await decoded(Array(whole.dropLast(8)), coding.rawValue) }
        }
    }

    @Test("the types worth compressing")
    func types() {
        for type in [
            "text/html; charset=utf-8", "TEXT/CSS", "application/json", "application/problem+json",
            "image/svg+xml", "application/javascript; charset=utf-8", "application/wasm",
        ] {
            #expect(Compressibility.isCompressible(contentType: type), "\(type)")
        }
        for type in ["image/png", "text/event-stream", "application/octet-stream", "font/woff2", "video/mp4"] {
            #expect(!Compressibility.isCompressible(contentType: type), "\(type)")
        }
    }
}

@Suite("Compression of static files", .serialized)
struct EdgeStaticCompressionTests {
    static let page = samplePage(bytes: 20_000)
    static let files = [
        "site/index.html": page, "site/small.txt": String(repeating: "a", count: 500),
        "site/app.js": samplePage(bytes: 8000), "site/picture.png": samplePage(bytes: 8000),
        "site/pre.css": samplePage(bytes: 4000), "site/pre.css.gz": "precompressed stand-in",
        "alt/plain/index.html": page, "alt/plain/pre.css": samplePage(bytes: 4000),
        "alt/plain/pre.css.gz": "precompressed stand-in",
    ]

    /// Asks until the edge has made the compressed form (it is made off the request path).
    static func compressed(_ edge: EdgeFixture, _ path: String, _ acceptEncoding: String, as coding: String? = nil)
        async throws -> RawHTTPResponse
    {
        for _ in 0..<100 {
            let response = try await edge.get(path, headers: [("Accept-Encoding", acceptEncoding)])
            if let encoding = response.header("Content-Encoding"), coding == nil || encoding == coding {
                return response
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await edge.get(path, headers: [("Accept-Encoding", acceptEncoding)])
    }

    @Test("a text file is sent in the coding the client prefers, made once, with Vary and its own ETag")
    func negotiated() async throws {
        let yaml = """
            access_log: off
            routes:
              - match: { path_prefix: /plain/ }
                static: { root: ./alt }
                compress: false
              - static: { root: ./site }
            """
        try await EdgeFixture.run(yaml, files: Self.files) { edge in
            let identity = try await edge.get("/index.html")
            #expect(identity.header("Content-Encoding") == nil)
            #expect(identity.header("Vary") == "Accept-Encoding")
            #expect(same(identity.body, Array(Self.page.utf8)))
            let identityTag = try #require(identity.header("ETag"))

            var tags: Set<String> = [identityTag]
            for (accept, coding) in [
                ("gzip, deflate, br, zstd", "br"), ("gzip;q=1, br;q=0.5, zstd;q=0.8", "gzip"), ("zstd", "zstd"),
                ("x-gzip", "gzip"),
            ] where ContentCodingName(rawValue: coding)!.isAvailable {
                let response = try await Self.compressed(edge, "/index.html", accept)
                #expect(response.header("Content-Encoding") == coding, "\(accept)")
                #expect(response.header("Vary") == "Accept-Encoding")
                #expect(response.header("Content-Length") == String(response.body.count))
                #expect(response.body.count < Self.page.utf8.count / 4)
                #expect(same(try await decoded(response.body, coding), Array(Self.page.utf8)))
                let tag = try #require(response.header("ETag"))
                #expect(tag.hasPrefix(identityTag.dropLast()) && tag.hasSuffix("-\(coding)\""))
                tags.insert(tag)
                // Revalidation with the coding's own tag is answered 304.
                let again = try await edge.get(
                    "/index.html", headers: [("Accept-Encoding", accept), ("If-None-Match", tag)])
                #expect(again.status == 304)
            }
            #expect(tags.count >= 3)
            // HEAD says what GET would send; a range is served from the identity bytes.
            let head = try await edge.get("/index.html", headers: [("Accept-Encoding", "br")], method: "HEAD")
            #expect(head.header("Content-Encoding") == "br")
            let range = try await edge.get("/index.html", headers: [("Accept-Encoding", "br"), ("Range", "bytes=0-9")])
            #expect(range.status == 206 && range.header("Content-Encoding") == nil)
            #expect(same(range.body, Array(Self.page.utf8.prefix(10))))
            // identity;q=0 with nothing else acceptable still gets the file.
            #expect(try await edge.get("/index.html", headers: [("Accept-Encoding", "identity;q=0")]).status == 200)

            // Small files and types that do not compress are left alone, without Vary.
            for path in ["/small.txt", "/picture.png"] {
                let response = try await edge.get(path, headers: [("Accept-Encoding", "gzip, br")])
                #expect(response.header("Content-Encoding") == nil, "\(path)")
                #expect(response.header("Vary") == nil, "\(path)")
            }
            // A route with compress: false sends identity, but still a precompressed file beside the original.
            let plain = try await edge.get("/plain/index.html", headers: [("Accept-Encoding", "gzip, br")])
            #expect(plain.header("Content-Encoding") == nil)
            #expect(same(plain.body, Array(Self.page.utf8)))
            let pre = try await edge.get("/plain/pre.css", headers: [("Accept-Encoding", "gzip")])
            #expect(pre.header("Content-Encoding") == "gzip")
            #expect(same(pre.body, Array("precompressed stand-in".utf8)))
            // On the compressing route the precompressed gzip file wins over a made one; br is made.
            let preferred = try await Self.compressed(edge, "/pre.css", "br, gzip;q=0.9", as: "br")
            #expect(preferred.header("Content-Encoding") == "br")
            #expect(
                try await edge.get("/pre.css", headers: [("Accept-Encoding", "gzip")]).body
                    == Array("precompressed stand-in".utf8))
        }
    }

    @Test("a changed file is compressed again; an unchanged one is not")
    func changed() async throws {
        try await EdgeFixture.run("access_log: off\nroutes:\n  - static: { root: ./site }", files: Self.files) { edge in
            let first = try await Self.compressed(edge, "/app.js", "gzip")
            #expect(first.header("Content-Encoding") == "gzip")
            try await Task.sleep(for: .milliseconds(200))
            // Revalidated (50 ms in the fixture) but the same file: the same compressed form, at once.
            let unchanged = try await edge.get("/app.js", headers: [("Accept-Encoding", "gzip")])
            #expect(unchanged.header("Content-Encoding") == "gzip" && unchanged.header("ETag") == first.header("ETag"))
            let replacement = samplePage(bytes: 9000).replacingOccurrences(of: "review", with: "merge")
            try replacement.write(toFile: edge.directory + "/site/app.js", atomically: true, encoding: .utf8)
            var latest = first
            for _ in 0..<100
            where latest.header("ETag") == first.header("ETag") || latest.header("Content-Encoding") == nil {
                try await Task.sleep(for: .milliseconds(50))
                latest = try await edge.get("/app.js", headers: [("Accept-Encoding", "gzip")])
            }
            #expect(latest.header("Content-Encoding") == "gzip")
            #expect(same(try await decoded(latest.body, "gzip"), Array(replacement.utf8)))
        }
    }
}

@Suite("Compression of proxied answers", .serialized)
struct EdgeProxyCompressionTests {
    static let page = samplePage(bytes: 64 * 1024)

    static func reply(_ request: ScriptedUpstream.Request) -> ScriptedUpstream.Reply {
        let path = request.text.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        let body = Array(page.utf8)
        func answer(_ fields: [String], _ body: [UInt8]) -> ScriptedUpstream.Reply {
            .bytes(
                Array(("HTTP/1.1 200 OK\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n").utf8) + body, close: false)
        }
        switch path {
        case "/page":
            return answer(
                ["Content-Type: text/html", "Content-Length: \(body.count)", "ETag: \"v1\"", "Vary: Origin"], body)
        case "/chunked":
            let half = body.count / 2
            let chunks = [Array(body[..<half]), Array(body[half...])].map { chunk in
                Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + Array("\r\n".utf8)
            }
            return answer(
                ["Content-Type: application/json", "Transfer-Encoding: chunked", "ETag: W/\"weak\""],
                chunks.flatMap { $0 } + Array("0\r\n\r\n".utf8))
        case "/encoded":
            return answer(
                ["Content-Type: text/html", "Content-Encoding: gzip", "Content-Length: 4"], Array("gzip".utf8))
        case "/no-transform":
            return answer(
                ["Content-Type: text/html", "Cache-Control: public, no-transform", "Content-Length: \(body.count)"],
                body)
        case "/small":
            return answer(["Content-Type: text/html", "Content-Length: 100"], Array(body[..<100]))
        case "/binary":
            return answer(["Content-Type: image/png", "Content-Length: \(body.count)"], body)
        default:
            return answer(["Content-Type: text/plain", "Content-Length: 2"], Array("no".utf8))
        }
    }

    static func withEdge(_ body: @Sendable (EdgeFixture) async throws -> Void) async throws {
        let upstream = try await ScriptedUpstream.start(reply)
        do {
            try await EdgeFixture.run(
                """
                access_log: off
                routes:
                  - match: { path_prefix: /raw/ }
                    upstream: app
                    strip_prefix: /raw
                    compress: false
                  - upstream: app
                upstreams:
                  app: { targets: [\(upstream.address)] }
                """, body)
        } catch {
            await upstream.stop()
            throw error
        }
        await upstream.stop()
    }

    @Test("an upstream's text answer is compressed on the way in the preferred coding, its ETag weakened")
    func compressed() async throws {
        try await Self.withEdge { edge in
            for (accept, coding) in [("gzip", "gzip"), ("br;q=0.9, gzip;q=0.1", "br"), ("zstd, gzip;q=0.5", "zstd")]
            where ContentCodingName(rawValue: coding)!.isAvailable {
                let response = try await edge.get("/page", headers: [("Accept-Encoding", accept)])
                #expect(response.status == 200)
                #expect(response.header("Content-Encoding") == coding)
                #expect(response.header("Content-Length") == nil)
                #expect(response.header("Transfer-Encoding") == "chunked")
                #expect(response.header("ETag") == "W/\"v1\"")
                #expect(response.headerValues("Vary").sorted() == ["Accept-Encoding", "Origin"])
                #expect(response.body.count < Self.page.utf8.count / 4)
                #expect(same(try await decoded(response.body, coding), Array(Self.page.utf8)))
            }
            // A chunked answer too; a weak ETag stays as it was.
            let chunked = try await edge.get("/chunked", headers: [("Accept-Encoding", "gzip")])
            #expect(chunked.header("Content-Encoding") == "gzip")
            #expect(chunked.header("ETag") == "W/\"weak\"")
            #expect(same(try await decoded(chunked.body, "gzip"), Array(Self.page.utf8)))
            // Keep-alive survives: two compressed answers on one connection.
            let two = try await edge.raw(
                "GET /page HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n"
                    + "GET /page HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
                expecting: 2)
            #expect(two.responses.count == 2)
            for response in two.responses {
                #expect(same(try await decoded(response.body, "gzip"), Array(Self.page.utf8)))
            }
            // HEAD gets the head a GET would.
            let head = try await edge.get("/page", headers: [("Accept-Encoding", "gzip")], method: "HEAD")
            #expect(head.header("Content-Encoding") == "gzip" && head.header("Content-Length") == nil)
        }
    }

    @Test("answers that must or need not be compressed pass as they are")
    func leftAlone() async throws {
        try await Self.withEdge { edge in
            let plain = try await edge.get("/page")
            #expect(plain.header("Content-Encoding") == nil)
            #expect(plain.header("Content-Length") == String(Self.page.utf8.count))
            #expect(plain.header("ETag") == "\"v1\"")
            #expect(plain.headerValues("Vary").sorted() == ["Accept-Encoding", "Origin"])
            for path in ["/encoded", "/no-transform", "/small", "/binary", "/raw/page"] {
                let response = try await edge.get(path, headers: [("Accept-Encoding", "gzip, br, zstd")])
                #expect(response.status == 200)
                #expect(response.header("Content-Encoding") == (path == "/encoded" ? "gzip" : nil), "\(path)")
                #expect(response.header("Vary") == (path == "/raw/page" ? "Origin" : nil), "\(path)")
            }
        }
    }
}
