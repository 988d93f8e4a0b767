import NIOCore
import Testing

@testable import PierEdge

@Suite("HTTP/1.1 request parser")
struct HTTP1RequestParserTests {
    static let limits = HTTP1RequestParser.Limits(maxHeaderBytes: 1024, maxURIBytes: 256, maxBodyBytes: 100)

    /// Feeds `text` to a parser in pieces of `split` bytes and collects events or the error.
    static func parse(_ text: String, split: Int = .max) -> (events: [String], error: HTTPParseError?) {
        var parser = HTTP1RequestParser(limits: limits)
        var events: [String] = []
        var buffer = ByteBuffer()
        let bytes = Array(text.utf8)
        var offset = 0
        do {
            while offset < bytes.count || buffer.readableBytes > 0 {
                if offset < bytes.count {
                    let end = min(bytes.count, offset + split)
                    buffer.writeBytes(bytes[offset..<end])
                    offset = end
                }
                while let event = try parser.next(&buffer) {
                    switch event {
                    case .head(let head):
                        events.append("head \(head.method) \(head.target) 1.\(head.minorVersion) \(head.framing)")
                    case .body(let body): events.append("body \(String(buffer: body))")
                    case .end: events.append("end")
                    }
                }
                if offset >= bytes.count { break }
            }
        } catch {
            return (events, error)
        }
        return (events, nil)
    }

    @Test("parses a GET, whole or byte by byte")
    func simpleGet() {
        let request = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
        for split in [1, 3, 1000] {
            let result = Self.parse(request, split: split)
            #expect(result.error == nil)
            #expect(result.events == ["head GET /a?b=1 1.1 none", "end"])
        }
    }

    @Test("exposes header fields case-insensitively with trimmed values")
    func headerAccess() throws {
        var parser = HTTP1RequestParser(limits: Self.limits)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHOST:  example.org \r\nX-A: 1\r\nx-a: 2\r\n\r\n")
        guard case .head(let head) = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(head.headers.first("host") == "example.org")
        #expect(head.headers.values("x-a") == ["1", "2"])
        #expect(head.headers.contains("accept") == false)
        #expect(head.keepAlive)
    }

    @Test("fixed-length and chunked bodies, and pipelined requests")
    func bodies() {
        let fixed = Self.parse(
            "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(fixed.error == nil)
        #expect(
            fixed.events == ["head POST /u 1.1 contentLength(5)", "body hello", "end", "head GET / 1.1 none", "end"])
        let chunked = Self.parse(
            "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
            split: 2
        )
        #expect(chunked.error == nil)
        #expect(chunked.events.first == "head POST /u 1.1 chunked")
        #expect(chunked.events.filter { $0.hasPrefix("body") }.map { $0.dropFirst(5) }.joined() == "hello")
        #expect(chunked.events.last == "end")
    }

    @Test(
        "refuses what request smuggling relies on",
        arguments: [
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "conflicting_framing"
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
                "conflicting_content_length"
            ),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n", 400, "conflicting_content_length"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n", 400, "invalid_content_length"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "invalid_chunk"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX", 400, "invalid_chunk"),
            // Only HEXDIG, then `;` extensions (RFC 9112 §7.1): `0x31` is not 0 with an extension, `5g` not 5.
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x31\r\n\r\n", 400, "invalid_chunk"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nhello\r\n", 400, "invalid_chunk"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5 g\r\nhello\r\n", 400, "invalid_chunk"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n", 400, "invalid_chunk"),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n", 400, "invalid_chunk"),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n", 400,
                "invalid_chunk"
            ),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n", 400, "invalid_chunk"),
            // A trailer section holds field lines only.
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nGET /admin HTTP/1.1\r\n\r\n",
                400, "invalid_chunk"
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400,
                "invalid_transfer_encoding"
            ),
            (
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
                "unsupported_transfer_coding"
            ),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "invalid_transfer_encoding"),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n b\r\n\r\n", 400, "obsolete_line_folding"),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "invalid_header"),
            ("GET / HTTP/1.1\r\n\r\n", 400, "missing_host"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate_host"),
            ("GET / HTTP/1.1\nHost: x\n\n", 400, "bare_lf"),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version_not_supported"),
            ("GET / HTTQ/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request_line"),
            ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request_line"),
            ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{01}b\r\n\r\n", 400, "invalid_header"),
            ("GET / HTTP/1.1\r\nHost: x y\r\n\r\n", 400, "invalid_host"),
        ]
    )
    func refuses(request: String, status: Int, code: String) {
        let result = Self.parse(request)
        #expect(result.error?.status == status, "\(result)")
        #expect(result.error?.code == code)
    }

    @Test("chunk extensions in their RFC 9112 grammar are read and ignored, split at every byte")
    func chunkExtensions() {
        for line in ["5;a", "5 ; a = b", "5;a=\"q \\\" x\";b", "5\t;\tname"] {
            let request =
                "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(line)\r\nhello\r\n0\r\n\r\n"
            for split in [1, 3, .max] {
                let result = Self.parse(request, split: split)
                #expect(result.error == nil, "\(line) split \(split): \(result)")
                #expect(result.events.filter { $0.hasPrefix("body") }.map { $0.dropFirst(5) }.joined() == "hello")
                #expect(result.events.last == "end")
            }
        }
    }

    @Test("enforces the size limits with the right status")
    func limits() {
        let longTarget = "/" + String(repeating: "a", count: 300)
        #expect(Self.parse("GET \(longTarget) HTTP/1.1\r\nHost: x\r\n\r\n").error?.status == 414)
        #expect(Self.parse("GET /" + String(repeating: "a", count: 2000)).error?.status == 414)
        let bigHeader = "X-Big: " + String(repeating: "b", count: 1100)
        #expect(Self.parse("GET / HTTP/1.1\r\nHost: x\r\n\(bigHeader)\r\n\r\n").error?.status == 431)
        #expect(Self.parse("GET / HTTP/1.1\r\nHost: x\r\n\(bigHeader)").error?.status == 431)
        #expect(Self.parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n").error?.status == 413)
        let chunks =
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + String(repeating: "x", count: 64)
            + "\r\n40\r\n" + String(repeating: "x", count: 64) + "\r\n0\r\n\r\n"
        #expect(Self.parse(chunks).error?.status == 413)
        let many = (0..<200).map { "X-\($0): 1\r\n" }.joined()
        var parser = HTTP1RequestParser(limits: .init(maxHeaderBytes: 100_000, maxURIBytes: 256, maxBodyBytes: 0))
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\(many)\r\n")
        #expect(throws: HTTPParseError.self) { try parser.next(&buffer) }
    }

    @Test("skips empty lines before a request and honours Connection")
    func leadingEmptyLinesAndConnection() throws {
        var parser = HTTP1RequestParser(limits: Self.limits)
        var buffer = ByteBuffer(string: "\r\n\r\nGET / HTTP/1.0\r\n\r\n")
        guard case .head(let head) = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        #expect(!head.keepAlive)
        var second = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n")
        var parser2 = HTTP1RequestParser(limits: Self.limits)
        guard case .head(let closing) = try parser2.next(&second) else {
            Issue.record("no head")
            return
        }
        #expect(!closing.keepAlive)
    }

    @Test("Content-Length values: digits, repeated equal values, and the limits of a number")
    func contentLengthValues() throws {
        #expect(try HTTP1RequestParser.contentLengthValue("0", merging: nil) == 0)
        #expect(try HTTP1RequestParser.contentLengthValue("007", merging: nil) == 7)
        #expect(try HTTP1RequestParser.contentLengthValue("3, 3", merging: nil) == 3)
        #expect(try HTTP1RequestParser.contentLengthValue("3", merging: 3) == 3)
        #expect(
            try HTTP1RequestParser.contentLengthValue("999999999999999999", merging: nil) == 999_999_999_999_999_999)
        for bad in ["", "1234567890123456789", "-1", "1 2", "0x10", "3, 4", "١٢"] {
            #expect(throws: HTTPParseError.self) { try HTTP1RequestParser.contentLengthValue(bad, merging: nil) }
        }
        #expect(throws: HTTPParseError.self) { try HTTP1RequestParser.contentLengthValue("4", merging: 3) }
    }

    @Test("Connection options: flags for close, keep-alive and upgrade, other names kept for stripping")
    func connectionOptions() throws {
        var parser = HTTP1RequestParser(limits: Self.limits)
        var buffer = ByteBuffer(
            string: "GET / HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive , X-Trace,,\tUPGRADE\r\nX-Trace: 1\r\n"
                + "connection: x-other\r\nX-Other: 2\r\nX-Kept: 3\r\n\r\n")
        guard case .head(let head) = try parser.next(&buffer) else {
            Issue.record("no head")
            return
        }
        let options = ConnectionOptions(head.headers)
        #expect(options.keepAlive && options.upgrade && !options.close)
        #expect(options.others == ["x-trace", "x-other"])
        let listed = (0..<head.headers.count).filter { options.lists(head.headers, fieldAt: $0) }
        #expect(listed.map { head.headers.name(at: $0) } == ["X-Trace", "X-Other"])
        // HTTP/1.0 with keep-alive stays open.
        #expect(head.keepAlive)
        #expect(head.headers.valueHasPrefix(1, ignoringCase: "keep-alive"))
        #expect(!head.headers.valueHasPrefix(2, ignoringCase: "12"))
    }
}

@Suite("HTTP/1.1 request parser: hostile inputs")
struct HTTP1RequestParserHostileTests {
    @Test("a huge chunk size is refused with 413, never an overflow")
    func hugeChunk() {
        let result = HTTP1RequestParserTests.parse(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n7fffffffffffffff\r\n"
        )
        #expect(result.error?.status == 413)
    }

    @Test("a bare CR cannot hide header fields")
    func bareCR() {
        let result = HTTP1RequestParserTests.parse(
            "GET / HTTP/1.1\r\nHost: x\r\n\rContent-Length: 38\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        #expect(result.error?.code == "invalid_header")
        #expect(result.events.isEmpty)
    }

    @Test("an empty line split across reads before a request is skipped")
    func splitLeadingCRLF() {
        let result = HTTP1RequestParserTests.parse("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", split: 1)
        #expect(result.error == nil)
        #expect(result.events == ["head GET / 1.1 none", "end"])
    }
}
