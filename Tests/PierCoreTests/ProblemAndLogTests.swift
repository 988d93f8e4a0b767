import Foundation
import Logging
import PierCore
import Testing

@Suite("Problem documents and log lines")
struct ProblemAndLogTests {
    @Test("problem documents are valid JSON with the RFC 9457 members")
    func problemJSON() throws {
        let problem = ProblemDetails(
            status: 414,
            title: "URI Too Long",
            code: "uri_too_long",
            detail: "the \"target\" exceeds 8192 bytes\n",
            extensions: [(name: "request_id", json: JSONText.quoted("abc"))]
        )
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(problem.json.utf8)) as? [String: Any]
        )
        #expect(object["status"] as? Int == 414)
        #expect(object["type"] as? String == "about:blank")
        #expect(object["code"] as? String == "uri_too_long")
        #expect(object["detail"] as? String == "the \"target\" exceeds 8192 bytes\n")
        #expect(object["request_id"] as? String == "abc")
    }

    @Test("JSON escaping handles control characters and line separators")
    func escaping() throws {
        let text = "a\u{01}b\u{2028}\"\\"
        let decoded =
            try JSONSerialization.jsonObject(
                with: Data("[\(JSONText.quoted(text))]".utf8)
            ) as? [String]
        #expect(decoded == [text])
        #expect(JSONText.quoted("\u{01}") == "\"\\u0001\"")
    }

    @Test("JSON log lines are one parseable object each")
    func jsonLogLine() throws {
        var pipe: [Int32] = [0, 0]
        #expect(Foundation.pipe(&pipe) == 0)
        defer { close(pipe[0]) }
        let sink = LogSink(descriptor: pipe[1])
        var logger = Logger(label: "pier.test") { label in
            PierLogHandler(label: label, format: .json, level: .debug, sink: sink)
        }
        logger[metadataKey: "pier.request.id"] = "r1"
        logger.info("hello\nworld", metadata: ["pier.count": "3"])
        logger.trace("dropped below the level")
        close(pipe[1])
        let output = FileHandle(fileDescriptor: pipe[0]).readDataToEndOfFile()
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String]
        )
        #expect(object["message"] == "hello\nworld")
        #expect(object["level"] == "info")
        #expect(object["logger"] == "pier.test")
        #expect(object["pier.request.id"] == "r1")
        #expect(object["pier.count"] == "3")
        #expect(object["time"] != nil)
    }
}
