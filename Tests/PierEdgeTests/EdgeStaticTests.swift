import Foundation
import PierTesting
import Testing

@testable import PierEdge

@Suite("Edge: static hosting")
struct EdgeStaticTests {
    static let config = """
        access_log: { path: off }
        routes:
          - match: { path_prefix: / }
            static: { root: ./site, spa_fallback: index.html }
        """

    static let files = [
        "site/index.html": "<!doctype html><title>app</title>",
        "site/hello.txt": "hello, pier\n",
        "site/app.3f9a1c2e.js": "console.log(1)",
        "site/app.js": "console.log('plain')",
        "site/app.js.br": "BROTLI",
        "site/app.js.gz": "GZIP",
        "site/docs/index.html": "<h1>docs</h1>",
        "site/data.json": "{\"a\":1}",
        "site/.env": "SECRET=1",
        "site/.git/config": "[core]",
        "secret.txt": "TOP SECRET",
    ]

    @Test("serves files with type, validators and cache headers; HEAD has no body")
    func basics() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            let response = try await edge.get("/hello.txt")
            #expect(response.status == 200)
            #expect(response.text == "hello, pier\n")
            #expect(response.header("content-type") == "text/plain; charset=utf-8")
            #expect(response.header("content-length") == "12")
            #expect(response.header("etag")?.hasPrefix("\"") == true)
            #expect(response.header("last-modified")?.hasSuffix("GMT") == true)
            #expect(response.header("cache-control") == "no-cache")
            #expect(response.header("accept-ranges") == "bytes")
            #expect(response.header("date") != nil)

            let head = try await edge.get("/hello.txt", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.header("content-length") == "12")

            let html = try await edge.get("/index.html")
            #expect(html.header("content-type") == "text/html; charset=utf-8")
            #expect(html.header("cache-control") == "no-cache")
            let fingerprinted = try await edge.get("/app.3f9a1c2e.js")
            #expect(fingerprinted.header("cache-control") == "public, max-age=31536000, immutable")
            #expect(fingerprinted.header("content-type") == "text/javascript; charset=utf-8")
        }
    }

    @Test("conditional requests get 304")
    func conditional() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            let first = try await edge.get("/hello.txt")
            let etag = try #require(first.header("etag"))
            let lastModified = try #require(first.header("last-modified"))
            let byTag = try await edge.get("/hello.txt", headers: [("If-None-Match", "\"other\", \(etag)")])
            #expect(byTag.status == 304)
            #expect(byTag.body.isEmpty)
            #expect(byTag.header("etag") == etag)
            let byDate = try await edge.get("/hello.txt", headers: [("If-Modified-Since", lastModified)])
            #expect(byDate.status == 304)
            let stale = try await edge.get("/hello.txt", headers: [("If-None-Match", "\"other\"")])
            #expect(stale.status == 200)
            let old = try await edge.get(
                "/hello.txt", headers: [("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")])
            #expect(old.status == 200)
        }
    }

    @Test("byte ranges: single, suffix, multiple, unsatisfiable, If-Range")
    func ranges() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            let single = try await edge.get("/hello.txt", headers: [("Range", "bytes=0-4")])
            #expect(single.status == 206)
            #expect(single.text == "hello")
            #expect(single.header("content-range") == "bytes 0-4/12")
            let suffix = try await edge.get("/hello.txt", headers: [("Range", "bytes=-5")])
            #expect(suffix.text == "pier\n")
            let multiple = try await edge.get("/hello.txt", headers: [("Range", "bytes=0-1,7-8")])
            #expect(multiple.status == 206)
            let type = try #require(multiple.header("content-type"))
            #expect(type.hasPrefix("multipart/byteranges; boundary="))
            #expect(multiple.text.contains("Content-Range: bytes 0-1/12\r\n\r\nhe\r\n"))
            #expect(multiple.text.contains("Content-Range: bytes 7-8/12\r\n\r\npi\r\n"))
            #expect(multiple.header("content-length") == String(multiple.body.count))
            let unsatisfiable = try await edge.get("/hello.txt", headers: [("Range", "bytes=50-")])
            #expect(unsatisfiable.status == 416)
            #expect(unsatisfiable.header("content-range") == "bytes */12")
            #expect(unsatisfiable.header("content-type") == "application/problem+json")
            #expect(unsatisfiable.text.contains("\"status\":416"))
            let changed = try await edge.get("/hello.txt", headers: [("Range", "bytes=0-4"), ("If-Range", "\"old\"")])
            #expect(changed.status == 200)
            #expect(changed.text == "hello, pier\n")
        }
    }

    @Test("directories serve their index; without a slash they redirect")
    func directories() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            let index = try await edge.get("/docs/")
            #expect(index.status == 200)
            #expect(index.text == "<h1>docs</h1>")
            let redirect = try await edge.get("/docs?x=1")
            #expect(redirect.status == 301)
            #expect(redirect.header("location") == "/docs/?x=1")
            let root = try await edge.get("/")
            #expect(root.text == "<!doctype html><title>app</title>")
        }
    }

    @Test("precompressed siblings are chosen by Accept-Encoding")
    func precompressed() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            let brotli = try await edge.get("/app.js", headers: [("Accept-Encoding", "gzip, deflate, br")])
            #expect(brotli.text == "BROTLI")
            #expect(brotli.header("content-encoding") == "br")
            #expect(brotli.header("vary") == "Accept-Encoding")
            #expect(brotli.header("content-type") == "text/javascript; charset=utf-8")
            let gzip = try await edge.get("/app.js", headers: [("Accept-Encoding", "gzip")])
            #expect(gzip.text == "GZIP")
            #expect(gzip.header("content-encoding") == "gzip")
            let plain = try await edge.get("/app.js")
            #expect(plain.text == "console.log('plain')")
            #expect(plain.header("content-encoding") == nil)
            #expect(plain.header("vary") == "Accept-Encoding")
            #expect(brotli.header("etag") != plain.header("etag"))
        }
    }

    @Test("SPA fallback only for navigations")
    func spaFallback() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            let navigation = try await edge.get("/board/42", headers: [("Accept", "text/html,application/xhtml+xml")])
            #expect(navigation.status == 200)
            #expect(navigation.text == "<!doctype html><title>app</title>")
            #expect(navigation.header("cache-control") == "no-cache")
            let headNavigation = try await edge.get("/board/42", headers: [("Accept", "text/html")], method: "HEAD")
            #expect(headNavigation.status == 200)
            #expect(headNavigation.body.isEmpty)
            #expect(headNavigation.header("content-length") == String(navigation.body.count))
            // Media types are case-insensitive.
            let shouting = try await edge.get("/board/7", headers: [("Accept", "TEXT/HTML")])
            #expect(shouting.status == 200)
            let asset = try await edge.get("/assets/app.js", headers: [("Accept", "text/html")])
            #expect(asset.status == 404)
            #expect(asset.header("content-type") == "application/problem+json")
            let json = try await edge.get("/board/42", headers: [("Accept", "application/json")])
            #expect(json.status == 404)
            let post = try await edge.get("/board/42", headers: [("Accept", "text/html")], method: "POST")
            #expect(post.status == 405)
            #expect(post.header("allow") == "GET, HEAD, OPTIONS")
        }
    }

    @Test("never serves outside the root, dotfiles or through escaping symlinks")
    func confinement() async throws {
        let attempts = [
            "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
            "/%252e%252e/secret.txt", "/..\\secret.txt", "/%5c..%5csecret.txt", "/a/../../secret.txt",
            "/.%2e/secret.txt",
            "/hello.txt%00.html", "/escape", "/escape-dir/secret.txt", "/.env", "/.git/config", "/%2eenv",
            "//../secret.txt",
        ]
        let links: @Sendable (String) throws -> Void = { directory in
            try FileManager.default.createSymbolicLink(
                atPath: directory + "/site/escape", withDestinationPath: directory + "/secret.txt")
            try FileManager.default.createSymbolicLink(
                atPath: directory + "/site/escape-dir", withDestinationPath: directory)
        }
        try await EdgeFixture.run(Self.config, files: Self.files, prepare: links) { edge in
            for target in attempts {
                let exchange = try await edge.raw(
                    "GET \(target) HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n")
                let response = try #require(exchange.responses.first, "\(target)")
                #expect([400, 404].contains(response.status), "\(target) answered \(response.status)")
                #expect(!response.text.contains("SECRET"), "\(target) leaked")
            }
        }
    }

    @Test("dotfiles are served only where a route opts in, and never outside its root")
    func dotfilesOptIn() async throws {
        let config = """
            access_log: { path: off }
            routes:
              - match: { path_prefix: /.well-known/ }
                static: { root: ./site }
              - match: { path_prefix: /open/ }
                static: { root: ./open, dotfiles: allow }
              - match: { path_prefix: / }
                static: { root: ./site }
            """
        var files = Self.files
        files["site/.well-known/security.txt"] = "Contact: mailto:security@example.org"
        files["open/open/.config"] = "visible"
        try await EdgeFixture.run(config, files: files) { edge in
            let opened = try await edge.get("/open/.config")
            #expect(opened.status == 200)
            #expect(opened.text == "visible")
            for (target, status) in [
                ("/.env", 404), ("/.git/config", 404), ("/.well-known/security.txt", 200), ("/open/..%2f.env", 400),
            ] {
                let response = try await edge.get(target)
                #expect(response.status == status, "\(target)")
            }
        }
    }

    @Test("new and changed files are picked up once their cached answer is revalidated")
    func revalidation() async throws {
        try await EdgeFixture.run(Self.config, files: Self.files) { edge in
            #expect(try await edge.get("/later.txt").status == 404)
            try TemporaryDirectory.write("v1", to: "site/later.txt", under: edge.directory)
            // The fixture revalidates after 50 ms; an old answer may be served while the check runs.
            try await eventually("the new file is served") {
                let response = try await edge.get("/later.txt")
                return response.status == 200 && response.text == "v1"
            }
            try TemporaryDirectory.write("version 2", to: "site/later.txt", under: edge.directory)
            try await eventually("the changed file is served") {
                let response = try await edge.get("/later.txt")
                // Never a mix: the old bytes with the old length, or the new bytes with the new length.
                #expect(response.text == "v1" || response.text == "version 2")
                return response.text == "version 2"
            }
            try FileManager.default.removeItem(atPath: edge.directory + "/site/later.txt")
            try await eventually("the removed file is gone") {
                try await edge.get("/later.txt").status == 404
            }
        }
    }

    @Test("a large file replaced on disk is served new once its entry is old, never refused")
    func largeFileReplaced() async throws {
        let first = [UInt8](repeating: 1, count: 400 * 1024)
        let second = [UInt8](repeating: 2, count: 500 * 1024)
        let write: @Sendable (String) throws -> Void = { directory in
            try TemporaryDirectory.write(first, to: "site/large.bin", under: directory)
        }
        try await EdgeFixture.run(Self.config, files: Self.files, prepare: write) { edge in
            #expect(try await edge.get("/large.bin").body == first)
            try TemporaryDirectory.write(second, to: "site/large.bin", under: edge.directory)
            try await eventually("the replaced file is served") {
                let response = try await edge.get("/large.bin")
                // Sent from disk, so an old entry is checked before use: a 503 "file changed" would be a failure.
                #expect(response.status == 200)
                return response.body == second
            }
        }
    }

    @Test("large files go out from disk intact, whole and in ranges")
    func largeFile() async throws {
        let size = 3 * 1024 * 1024 + 17
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 8)) }
        let write: @Sendable (String) throws -> Void = { directory in
            try TemporaryDirectory.write(bytes, to: "site/big.bin", under: directory)
        }
        try await EdgeFixture.run(Self.config, files: Self.files, prepare: write) { edge in
            let whole = try await edge.get("/big.bin")
            #expect(whole.status == 200)
            #expect(whole.body.count == size)
            #expect(whole.body == bytes)
            let range = try await edge.get("/big.bin", headers: [("Range", "bytes=1000000-1000099")])
            #expect(range.status == 206)
            #expect(range.body == Array(bytes[1_000_000..<1_000_100]))
        }
    }
}

@Suite("Edge: static hosting, hostile and pipelined clients")
struct EdgeStaticHostileTests {
    @Test("malformed Accept-Encoding values do not hurt")
    func acceptEncodingGarbage() async throws {
        try await EdgeFixture.run(EdgeStaticTests.config, files: EdgeStaticTests.files) { edge in
            for value in [";", ";;", "a, ;", ",", "br;q=", "gzip;q=abc"] {
                let response = try await edge.get("/app.js", headers: [("Accept-Encoding", value)])
                #expect(response.status == 200, "\(value)")
            }
        }
    }

    @Test("pipelined cache miss then hit, on a connection kept open, are both answered promptly")
    func pipelinedMissThenHit() async throws {
        try await EdgeFixture.run(EdgeStaticTests.config, files: EdgeStaticTests.files) { edge in
            _ = try await edge.get("/hello.txt")  // now cached
            let exchange = try await edge.raw(
                "GET /docs/index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
                expecting: 2
            )
            #expect(exchange.responses.map(\.status) == [200, 200])
            #expect(exchange.responses.last?.text == "hello, pier\n")
            #expect(!exchange.closedByServer)
        }
    }

    @Test("Expect: 100-continue on a static route gets the final answer at once and a closed connection")
    func expectContinue() async throws {
        try await EdgeFixture.run(EdgeStaticTests.config, files: EdgeStaticTests.files) { edge in
            // The body is never sent: an edge that invited it (100 Continue) or waited for it would answer
            // something else, or nothing before the client gives up.
            let exchange = try await edge.raw(
                "POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                closeWait: .seconds(5))
            #expect(exchange.responses.map(\.status) == [405])
            #expect(exchange.closedByServer)
        }
    }
}
