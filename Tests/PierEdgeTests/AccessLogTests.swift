import Foundation
import PierTesting
import Testing

@testable import PierEdge

@Suite("Access log lines and writing")
struct AccessLogTests {
    static func entry(
        target: String = "/a.txt?x=1", userAgent: String? = "curl/8.5", referer: String? = nil,
        duration: Double = 0.0042, epochSeconds: Int = 784_111_777
    ) -> AccessLogEntry {
        AccessLogEntry(
            remoteAddress: "127.0.0.1", method: "GET", target: target, version: .http1(minor: 1), status: 200,
            bodyBytes: 1024,
            referer: referer, userAgent: userAgent, requestID: "rid-1", host: "example.org",
            durationSeconds: duration, epochSeconds: epochSeconds)
    }

    static func line(_ entry: AccessLogEntry, _ format: AccessLogConfig.Format) -> String {
        var time: [UInt8] = []
        var line: [UInt8] = []
        switch format {
        case .combined:
            CommonLogTime.append(epochSeconds: entry.epochSeconds, to: &time)
            AccessLogWriter.appendCombined(entry, time: time, to: &line)
        case .json:
            HTTPDate.appendISO8601(epochSeconds: entry.epochSeconds, to: &time)
            AccessLogWriter.appendJSON(entry, time: time, to: &line)
        }
        return String(decoding: line, as: UTF8.self)
    }

    @Test("combined: the nginx layout, then the request id and the duration")
    func combined() {
        #expect(
            Self.line(Self.entry(), .combined)
                == "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a.txt?x=1 HTTP/1.1\" 200 1024 \"-\" \"curl/8.5\" "
                + "rid-1 0.004\n")
    }

    @Test("combined: quotes, backslashes and control bytes are escaped as nginx does; UTF-8 is kept")
    func combinedEscapes() {
        let line = Self.line(
            Self.entry(target: "/q?a=\"b\"", userAgent: "x\\y\u{01}z\u{7F} 한국어", referer: ""), .combined)
        #expect(line.contains("\"GET /q?a=\\\"b\\\" HTTP/1.1\""), "\(line)")
        #expect(line.contains(" \"-\" \"x\\\\y\\x01z\\x7F 한국어\" "), "\(line)")
        #expect(line.hasSuffix("\n") && line.dropLast().allSatisfy { $0 != "\n" })
    }

    @Test("JSON: one object per line that parses back to the same values, whatever the header bytes")
    func json() throws {
        let agent = "probe \"q\" \\ \n\t\u{01} \u{2028} 한국어"
        let line = Self.line(Self.entry(userAgent: agent, referer: "https://r.example/", duration: 1.2346), .json)
        #expect(line.hasSuffix("}\n") && line.dropLast().allSatisfy { $0 != "\n" })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "1994-11-06T08:49:37Z")
        #expect(object["user_agent"] as? String == agent)
        #expect(object["referer"] as? String == "https://r.example/")
        #expect(object["host"] as? String == "example.org")
        #expect(object["path"] as? String == "/a.txt?x=1")
        #expect(object["protocol"] as? String == "HTTP/1.1")
        #expect(object["status"] as? Int == 200)
        #expect(object["bytes"] as? Int == 1024)
        #expect(object["duration"] as? Double == 1.235)
        #expect(object["request_id"] as? String == "rid-1")
    }

    @Test("times and durations")
    func times() {
        #expect(CommonLogTime.format(epochSeconds: 0) == "01/Jan/1970:00:00:00 +0000")
        #expect(HTTPDate.iso8601(epochSeconds: 1_795_356_851) == "2026-11-22T14:14:11Z")
        for (seconds, text) in [(0.0, "0.000"), (0.0004, "0.000"), (0.0456, "0.046"), (12.0, "12.000"), (-1, "0.000")] {
            var bytes: [UInt8] = []
            AccessLogWriter.appendSeconds(seconds, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == text)
        }
    }

    /// Lines of the file, checked to be complete and numbered in order from 0.
    static func numberedLines(_ path: String) throws -> Int {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "", "the file ends with a whole line")
        for (index, line) in lines.dropLast().enumerated() {
            #expect(line.contains("\"GET /line/\(index) HTTP/1.1\""), "line \(index): \(line)")
            if !line.contains("/line/\(index) ") { break }
        }
        return lines.count - 1
    }

    @Test("a full buffer is written by the background writer, in order, without an explicit flush")
    func backgroundWriter() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/access.log"
            // Without a periodic write in the test's time, only the wake-up can write the lines.
            let log = try #require(
                try AccessLogWriter.open(
                    AccessLogConfig(format: .combined, destination: .file(path)), flushInterval: .seconds(3600)))
            let running = Task { try await log.run() }
            var recorded = 0
            // Past the wake-up threshold.
            while recorded * 100 < AccessLogWriter.flushThreshold * 2 {
                log.record(Self.entry(target: "/line/\(recorded)"))
                recorded += 1
            }
            let expected = recorded
            try await eventually("the background writer wrote the full buffer") {
                (try? Self.numberedLines(path)) ?? 0 >= AccessLogWriter.flushThreshold / 200
            }
            log.record(Self.entry(target: "/line/\(recorded)"))
            running.cancel()
            try await running.value
            #expect(try Self.numberedLines(path) == expected + 1, "the last lines are written at shutdown")
        }
    }

    @Test("lines are never dropped: when nothing drains the buffer, the recording thread writes the backlog")
    func backlog() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/access.log"
            let log = try #require(try AccessLogWriter.open(AccessLogConfig(format: .json, destination: .file(path))))
            var recorded = 0
            var size = 0
            while size == 0 && recorded < 100_000 {
                log.record(Self.entry(target: "/line/\(recorded)"))
                recorded += 1
                size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            }
            #expect(size >= AccessLogWriter.backlogLimit, "written by the recording thread once 4 MiB were waiting")
            log.flush()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let paths = text.split(separator: "\n").map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["path"] as? String
            }
            #expect(paths == (0..<recorded).map { "/line/\($0)" })
        }
    }
}
