import Foundation
import PierTesting
import Testing

/// The proxy and `pier up` as users run them: the real binary, real sockets.
@Suite("pier edge proxy and pier up")
struct EdgeProxyCommandTests {
    /// The peak resident memory of a process, in bytes (`VmHWM` of /proc/PID/status).
    static func peakMemory(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }

    /// Moving 2 GiB keeps both cores busy for a while, which would make timing-sensitive suites running beside it
    /// flaky: scripts/test runs it on its own after the other suites (`PIER_TEST_HEAVY=1`).
    static let heavy = ProcessInfo.processInfo.environment["PIER_TEST_HEAVY"] == "1"

    @Test("1 GiB up and 1 GiB down through the edge with flat memory", .enabled(if: Self.heavy))
    func streamingGigabyte() async throws {
        let upstream = try await StubUpstream.start(name: "bulk")
        defer { Task { await upstream.kill() } }
        try await TemporaryDirectory.with { directory in
            let path = directory + "/edge.yaml"
            try """
            listen: [{ address: 127.0.0.1:0 }]
            access_log: off
            workers: 1
            limits: { max_body_bytes: 2147483648 }
            routes:
              - upstream: bulk
            upstreams:
              bulk:
                targets: [\(upstream.address)]
            """.write(toFile: path, atomically: true, encoding: .utf8)
            let edge = try RunningProcess(executable: PierBinary.url, arguments: ["edge", "--config", path])
            try await edge.waitForOutput(containing: "edge listening", inStandardError: true)
            let port = try #require(edge.firstMatch(#"127\.0\.0\.1:(\d+)"#, inStandardError: true).flatMap { Int($0) })
            let before = try #require(Self.peakMemory(edge.pid))

            let gigabyte = 1 << 30
            let upload = try await StreamingClient.upload(port: port, path: "/count", bytes: gigabyte)
            #expect(upload.status == 200)
            #expect(upload.body == String(gigabyte))
            let download = try await StreamingClient.download(port: port, path: "/bytes/\(gigabyte)")
            #expect(download.status == 200)
            #expect(download.bytes == gigabyte)

            let peak = try #require(Self.peakMemory(edge.pid))
            print("edge peak memory: \(before >> 20) MiB at start, \(peak >> 20) MiB after 2 GiB streamed")
            #expect(peak - before < 64 << 20, "the edge grew by \((peak - before) >> 20) MiB")
            #expect(await edge.stop() == 0)
        }
    }

    @Test(
        "pier up with two instances on PostgreSQL: both pass health checks, sign-in and the web app go through the edge",
        .enabled(if: PostgresFixture.isConfigured))
    func upWithInstances() async throws {
        try await PostgresFixture.withDatabase { url in
            try await TemporaryDirectory.with { directory in
                let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
                    "../../web"
                ).standardizedFileURL.path
                let arguments = [
                    "up", "--listen", "127.0.0.1:0", "--database-url", url, "--instances", "2", "--data-dir",
                    directory + "/data", "--web-root", root, "--bcrypt-cost", "10",
                ]
                let up = try RunningProcess(executable: PierBinary.url, arguments: arguments)
                try await up.waitForOutput(containing: "pier up: open")
                let port = try #require(up.firstMatch(#"open http://127\.0\.0\.1:(\d+)/"#).flatMap { Int($0) })
                let email = try #require(up.firstMatch(#"email:\s+(\S+)"#))
                let generated = try #require(up.firstMatch(#"password:\s+(\S+)"#))
                try await BoardServeTests.replaceGeneratedPassword(port: port, email: email, generated: generated)
                let password = BoardServeTests.supervisorPassword
                #expect(up.standardOutput.contains("2 board instances behind the edge"))

                let page = try await RawHTTPClient.request(
                    port: port, "GET", "/boards/some-board", headers: [("Accept", "text/html")])
                #expect(page.status == 200)
                #expect(page.header("Content-Type") == "text/html; charset=utf-8")
                let missing = try await RawHTTPClient.request(port: port, "GET", "/missing.js")
                #expect(missing.status == 404)

                let login = try await RawHTTPClient.request(
                    port: port, "POST", "/api/v1/auth/login",
                    headers: [("Content-Type", "application/json"), ("Origin", "http://localhost")],
                    body: Array(#"{"email":"\#(email)","password":"\#(password)"}"#.utf8))
                #expect(login.status == 200)
                let token = try #require(
                    (try JSONSerialization.jsonObject(with: Data(login.body)) as? [String: Any])?["access_token"]
                        as? String)
                // Several requests: whichever instance answers, the token (one signing key) is accepted.
                for _ in 0..<6 {
                    let me = try await RawHTTPClient.request(
                        port: port, "GET", "/api/v1/me", headers: [("Authorization", "Bearer \(token)")])
                    #expect(me.status == 200)
                }
                try await up.waitForOutput(containing: "upstream target healthy", inStandardError: true)
                let healthy = up.standardError.components(separatedBy: "upstream target healthy").count - 1
                #expect(healthy == 2)
                #expect(await up.stop() == 0)

                // A second start on the same data prints no new credentials.
                let again = try RunningProcess(executable: PierBinary.url, arguments: arguments)
                try await again.waitForOutput(containing: "pier up: open")
                #expect(!again.standardOutput.contains("password:"))
                #expect(await again.stop() == 0)
            }
        }
    }
}
