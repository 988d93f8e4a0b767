import Foundation
import PierCore
import PierTesting
import Testing

/// `/metrics` as Prometheus scrapes it, from `pier edge`, `pier board serve` and `pier up`: the counters move as the
/// requests did.
@Suite("Metrics endpoints")
struct MetricsCommandTests {
    /// One sample of the Prometheus text format.
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Parses the text exposition format 0.0.4 (samples only; `# TYPE` lines are checked separately).
    static func parse(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "),
                let value = Double(line[space...].dropFirst())
            else { return nil }
            let series = line[..<space]
            guard let open = series.firstIndex(of: "{") else {
                return Sample(name: String(series), labels: [:], value: value)
            }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: open)..<series.index(before: series.endIndex)]
                .split(separator: ",")
            {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            return Sample(name: String(series[..<open]), labels: labels, value: value)
        }
    }

    /// The sum of the samples named `name` whose labels include `labels`, or `nil` when there is none.
    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }
        return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
    }

    static func scrape(_ port: Int) async throws -> (text: String, samples: [Sample]) {
        let response = try await RawHTTPClient.request(port: port, "GET", "/metrics")
        #expect(response.status == 200, "\(response.text)")
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        // Prometheus's own linter, where installed (scripts/check-deploy installs it): format, HELP, names.
        if CommandLineTool.find("promtool") != nil {
            let lint = try await CommandLineTool.run("promtool", ["check", "metrics"], input: response.text)
            #expect(lint.status == 0, "\(lint.all)")
        }
        return (response.text, parse(response.text))
    }

    @Test(
        "pier edge: request durations by route and status class, target health, failures and ejections, certificate days to expiry"
    )
    func edge() async throws {
        try await TemporaryDirectory.with { directory in
            let authority = try TestCertificateAuthority()
            let (certificate, key) = try authority.write(
                ["metrics.pier.test"], as: "site", under: directory, validFor: 20)
            try TemporaryDirectory.write("<p>hello</p>", to: "site/index.html", under: directory)
            let dead = try LoopbackPort.reserve()
            let admin = try LoopbackPort.reserve()
            let path = directory + "/edge.yaml"
            let listeners = """
                listen:
                  - { address: 127.0.0.1:0 }
                  - { address: 127.0.0.1:0, tls: { certificates: [{ cert: \(certificate), key: \(key) }] } }
                admin: { listen: 127.0.0.1:\(admin) }
                access_log: off

                """
            try
                (listeners + """
                    routes:
                      - name: gone
                        match: { path_prefix: /api/ }
                        upstream: gone
                        retries: { attempts: 1 }
                      - static: { root: ./site }
                    upstreams:
                      gone:
                        targets: [127.0.0.1:\(dead)]
                        passive: { consecutive_failures: 2, eject_for: 30s }
                    """).write(toFile: path, atomically: true, encoding: .utf8)
            let edge = try RunningProcess(executable: PierBinary.url, arguments: ["edge", "--config", path])
            try await edge.waitForOutput(containing: "admin status listening", inStandardError: true)
            try await edge.waitForOutput(containing: "edge listening", inStandardError: true)
            let port = try #require(
                edge.firstMatch(#"edge listening.*?127\.0\.0\.1:(\d+)"#, inStandardError: true).flatMap { Int($0) })

            let before = try await Self.scrape(admin).samples
            #expect(Self.value(before, "pier_edge_upstream_target_healthy", ["upstream": "gone"]) == 1)
            for _ in 0..<5 { #expect(try await RawHTTPClient.request(port: port, "GET", "/").status == 200) }
            for _ in 0..<2 { #expect(try await RawHTTPClient.request(port: port, "GET", "/nothing").status == 404) }
            for _ in 0..<3 { #expect(try await RawHTTPClient.request(port: port, "GET", "/api/x").status >= 502) }

            let (text, after) = try await Self.scrape(admin)
            let duration = "http_server_request_duration_seconds_count"
            #expect(
                Self.value(after, duration, ["server": "edge", "route": "/", "status_class": "2xx"]) == 5, "\(text)")
            #expect(Self.value(after, duration, ["server": "edge", "route": "/", "status_class": "4xx"]) == 2)
            #expect(
                Self.value(after, duration, ["route": "gone", "status_class": "5xx", "upstream": "gone"]) == 3,
                "\(text)")
            // Histogram buckets are cumulative: the +Inf bucket holds every request.
            #expect(
                Self.value(
                    after, "http_server_request_duration_seconds_bucket",
                    ["route": "/", "status_class": "2xx", "le": "+Inf"]) == 5)
            #expect(text.contains("# TYPE http_server_request_duration_seconds histogram"))
            let target = "127.0.0.1:\(dead)"
            #expect((Self.value(after, "pier_edge_upstream_failures_total", ["target": target]) ?? 0) >= 2, "\(text)")
            #expect(Self.value(after, "pier_edge_upstream_ejections_total", ["target": target]) == 1, "\(text)")
            #expect(Self.value(after, "pier_edge_upstream_target_healthy", ["target": target]) == 0)
            let left = try #require(
                Self.value(
                    after, "pier_edge_certificate_expiry_seconds", ["name": "metrics.pier.test", "source": "file"]))
            #expect(left > 19.9 * 86400 && left <= 20 * 86400, "\(left)")
            #expect(Self.value(after, "pier_edge_connections_active") != nil)

            // A reload that drops the upstream drops its target's series.
            try
                (listeners + """
                    routes:
                      - static: { root: ./site }
                    """).write(toFile: path, atomically: true, encoding: .utf8)
            kill(edge.pid, SIGHUP)
            try await edge.waitForOutput(containing: "configuration reloaded", inStandardError: true)
            let reloaded = try await Self.scrape(admin).samples
            #expect(Self.value(reloaded, "pier_edge_upstream_target_healthy", ["target": target]) == nil)
            #expect(await edge.stop() == 0)
        }
    }

    @Test("pier board serve --metrics-listen: request durations by route pattern, sign-ins, database timings, backlog")
    func board() async throws {
        try await TemporaryDirectory.with { directory in
            let metrics = try LoopbackPort.reserve()
            let (process, port) = try await BoardServeTests.started([
                "--database-url", "sqlite://\(directory)/pier.sqlite", "--metrics-listen", "127.0.0.1:\(metrics)",
            ])
            let (email, password) = try await BoardServeTests.credentials(process, port: port)
            try await process.waitForOutput(containing: "pier board metrics on http://127.0.0.1:\(metrics)/metrics")
            let login = try await BoardServeTests.post(
                port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
            #expect(login.status == 200)
            let token = try #require(BoardServeTests.json(login.text)["access_token"] as? String)
            for name in ["one", "two"] {
                #expect(
                    try await BoardServeTests.post(port, "/api/v1/boards", token: token, #"{"name":"\#(name)"}"#).status
                        == 201)
            }
            let wrong = try await BoardServeTests.post(
                port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"not it"}"#)
            #expect(wrong.status == 401)
            for _ in 0..<4 { _ = try await RawHTTPClient.request(port: port, "GET", "/api/v1/nothing/here") }

            let (text, samples) = try await Self.scrape(metrics)
            let duration = "http_server_request_duration_seconds_count"
            #expect(
                Self.value(samples, duration, ["server": "board", "route": "/api/v1/boards", "status_class": "2xx"])
                    == 2, "\(text)")
            #expect(
                // The first Supervisor's generated password was replaced with one sign-in before these.
                Self.value(samples, duration, ["route": "/api/v1/auth/login", "status_class": "2xx"]) == 2, "\(text)")
            #expect(Self.value(samples, duration, ["route": "/api/v1/auth/login", "status_class": "4xx"]) == 1)
            // Unknown paths share one series instead of one each.
            #expect(Self.value(samples, duration, ["route": "none", "status_class": "4xx"]) == 4, "\(text)")
            #expect(Self.value(samples, "pier_board_signins_total", ["outcome": "ok"]) == 2)
            #expect(Self.value(samples, "pier_board_signins_total", ["outcome": "failed"]) == 1)
            #expect(
                (Self.value(samples, "db_client_operation_duration_seconds_count", ["db_system": "sqlite"]) ?? 0) > 10)
            #expect(Self.value(samples, "pier_board_outbox_backlog") != nil, "\(text)")
            #expect(Self.value(samples, "pier_board_delivery_backlog", ["channel": "email"]) != nil)
            // Only /metrics is served there.
            #expect(try await RawHTTPClient.request(port: metrics, "GET", "/api/v1/boards").status == 404)
            #expect(await process.stop() == 0)
        }
    }

    @Test("pier up --admin-listen: edge and board metrics on one loopback listener; a public address is refused")
    func up() async throws {
        try await TemporaryDirectory.with { directory in
            let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../web")
                .standardized.path
            let admin = try LoopbackPort.reserve()
            let process = try RunningProcess(
                executable: PierBinary.url,
                arguments: [
                    "up", "--listen", "127.0.0.1:0", "--data-dir", directory + "/data", "--web-root", web,
                    "--bcrypt-cost", "10", "--instances", "2", "--admin-listen", "127.0.0.1:\(admin)",
                ])
            try await process.waitForOutput(containing: "pier up: open http://")
            let port = try #require(process.firstMatch(#"open http://127\.0\.0\.1:(\d+)/"#).flatMap { Int($0) })
            for _ in 0..<3 {
                #expect(
                    try await RawHTTPClient.request(port: port, "GET", "/", headers: [("Accept", "text/html")]).status
                        == 200)
            }
            for _ in 0..<2 { #expect(try await RawHTTPClient.request(port: port, "GET", "/api/v1/me").status == 401) }
            // A refresh without its cookie is the board's to refuse (the edge checks no token there).
            #expect(try await RawHTTPClient.request(port: port, "POST", "/api/v1/auth/refresh").status == 401)

            let (text, samples) = try await Self.scrape(admin)
            let duration = "http_server_request_duration_seconds_count"
            #expect(
                Self.value(samples, duration, ["server": "edge", "route": "web", "status_class": "2xx"]) == 3, "\(text)"
            )
            #expect(
                Self.value(
                    samples, duration, ["server": "edge", "route": "api", "upstream": "board", "status_class": "4xx"])
                    == 2, "\(text)")
            // The edge refused the requests without a token: the board never saw them.
            #expect(
                Self.value(samples, duration, ["server": "board", "route": "/api/v1/me", "status_class": "4xx"]) == nil,
                "\(text)")
            #expect(
                Self.value(
                    samples, duration, ["server": "board", "route": "/api/v1/auth/refresh", "status_class": "4xx"])
                    == 1, "\(text)")
            #expect(Self.value(samples, "pier_edge_upstream_target_healthy", ["upstream": "board"]) == 2)
            #expect(await process.stop() == 0)

            let refused = try await PierBinary.run(["up", "--admin-listen", "0.0.0.0:9901"])
            #expect(refused.status != 0)
            #expect(refused.error.contains("--admin-listen: \"0.0.0.0:9901\" is not a loopback"), "\(refused.error)")
        }
    }
}
