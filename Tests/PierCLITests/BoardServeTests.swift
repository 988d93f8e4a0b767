import Foundation
import PierTesting
import Testing

/// `pier board serve` as a user runs it: a real process, real sockets, a real database.
@Suite("pier board serve")
struct BoardServeTests {
    static func start(_ arguments: [String], environment: [String: String]? = nil) throws -> RunningProcess {
        try RunningProcess(
            executable: PierBinary.url,
            arguments: ["board", "serve", "--listen", "127.0.0.1:0", "--bcrypt-cost", "10"] + arguments,
            environment: environment)
    }

    /// Starts an instance and returns it with its port once it listens.
    static func started(_ arguments: [String], environment: [String: String]? = nil) async throws
        -> (RunningProcess, Int)
    {
        let process = try start(arguments, environment: environment)
        try await process.waitForOutput(containing: "pier board listening on")
        let port = try #require(process.firstMatch(#"listening on http://127\.0\.0\.1:(\d+)"#).flatMap { Int($0) })
        // Ready once migrations ran and the first account exists.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let ready = try? await RawHTTPClient.request(port: port, "GET", "/readyz"), ready.status == 200 {
                return (process, port)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RunningProcess.Failure(description: "the board never became ready: \(process.standardError)")
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    static func post(_ port: Int, _ path: String, token: String? = nil, _ body: String) async throws -> RawHTTPResponse
    {
        var headers = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await RawHTTPClient.request(port: port, "POST", path, headers: headers, body: Array(body.utf8))
    }

    static func get(_ port: Int, _ path: String, token: String) async throws -> RawHTTPResponse {
        try await RawHTTPClient.request(port: port, "GET", path, headers: [("Authorization", "Bearer \(token)")])
    }

    /// The first Supervisor's credentials as printed: the password is generated and must be replaced first.
    static func generatedCredentials(_ process: RunningProcess) async throws -> (email: String, password: String) {
        try await process.waitForOutput(containing: "This password is shown only once")
        let email = try #require(process.firstMatch(#"email:\s+(\S+)"#))
        let password = try #require(process.firstMatch(#"password:\s+(\S+)"#))
        return (email, password)
    }

    static let supervisorPassword = "the Supervisor's own password"

    /// The first Supervisor's email and a password of their own, set in place of the generated one as the first
    /// sign-in asks (through the instance at `port`).
    static func credentials(_ process: RunningProcess, port: Int) async throws -> (email: String, password: String) {
        let (email, generated) = try await generatedCredentials(process)
        try await replaceGeneratedPassword(port: port, email: email, generated: generated)
        return (email, supervisorPassword)
    }

    static func replaceGeneratedPassword(port: Int, email: String, generated: String) async throws {
        let login = try await post(port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(generated)"}"#)
        #expect(login.status == 200, "\(login.text)")
        let token = try #require(json(login.text)["access_token"] as? String)
        let changed = try await post(
            port, "/api/v1/me/password", token: token,
            #"{"current_password":"\#(generated)","new_password":"\#(supervisorPassword)"}"#)
        #expect(changed.status == 204, "\(changed.text)")
    }

    @Test(
        "first run prints a generated Supervisor once, who must choose a name and password before anything else; sign-in works over a real socket; SIGTERM stops it cleanly"
    )
    func sqliteFirstRun() async throws {
        try await TemporaryDirectory.with { directory in
            let url = "sqlite://\(directory)/data/pier.sqlite"
            let (first, port) = try await Self.started(["--database-url", url])
            let (email, generated) = try await Self.generatedCredentials(first)
            #expect(email == "admin@pier.localhost")
            #expect(generated.count == 20)
            let firstLogin = try await Self.post(
                port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(generated)"}"#)
            #expect(firstLogin.status == 200, "\(firstLogin.text)")
            let firstToken = try #require(Self.json(firstLogin.text)["access_token"] as? String)
            let firstUser = Self.json(firstLogin.text)["user"] as? [String: Any]
            #expect(firstUser?["password_change_required"] as? Bool == true)
            // Until the generated password is replaced only the account answers.
            let refused = try await Self.get(port, "/api/v1/boards", token: firstToken)
            #expect(refused.status == 403)
            #expect(Self.json(refused.text)["code"] as? String == "password_change_required", "\(refused.text)")
            #expect(try await Self.get(port, "/api/v1/me", token: firstToken).status == 200)
            let renamed = try await RawHTTPClient.request(
                port: port, "PATCH", "/api/v1/me",
                headers: [("Authorization", "Bearer \(firstToken)"), ("Content-Type", "application/json")],
                body: Array(#"{"name":"김하늘"}"#.utf8))
            #expect(renamed.status == 200, "\(renamed.text)")
            #expect(Self.json(renamed.text)["name"] as? String == "김하늘")
            try await Self.replaceGeneratedPassword(port: port, email: email, generated: generated)
            let password = Self.supervisorPassword
            let stale = try await Self.post(
                port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(generated)"}"#)
            #expect(stale.status == 401)

            let login = try await Self.post(
                port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
            #expect(login.status == 200, "\(login.text)")
            let token = try #require(Self.json(login.text)["access_token"] as? String)
            #expect((Self.json(login.text)["user"] as? [String: Any])?["password_change_required"] as? Bool == false)
            let board = try await Self.post(port, "/api/v1/boards", token: token, #"{"name":"첫 보드"}"#)
            #expect(board.status == 201)
            let wrong = try await Self.post(
                port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"wrong password"}"#)
            #expect(wrong.status == 401)
            #expect(wrong.header("Content-Type") == "application/problem+json")
            #expect(!first.standardOutput.contains("wrong password") && !first.standardError.contains("wrong password"))
            #expect(!first.standardError.contains(generated))
            #expect(await first.stop() == 0)

            let keyPath = "\(directory)/data/signing-key"
            let permissions = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
            #expect(permissions == 0o600)

            // The second run finds the account and the key: no new credentials, the old password still works.
            let (second, secondPort) = try await Self.started(["--database-url", url])
            #expect(!second.standardOutput.contains("password:"))
            let again = try await Self.post(
                secondPort, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
            #expect(again.status == 200)
            let boards = try await Self.get(
                secondPort, "/api/v1/boards", token: try #require(Self.json(again.text)["access_token"] as? String))
            #expect(boards.text.contains("첫 보드"))
            #expect(await second.stop() == 0)
        }
    }

    @Test(
        "a loopback peer is not a trusted proxy by default: X-Forwarded-For from it does not split the sign-in throttle",
        arguments: [[], ["--trusted-proxies", "loopback"]])
    func loopbackNotTrusted(extra: [String]) async throws {
        try await TemporaryDirectory.with { directory in
            let (board, port) = try await Self.started(["--database-url", "sqlite://\(directory)/pier.sqlite"] + extra)
            func attempt(_ index: Int) async throws -> RawHTTPResponse {
                try await RawHTTPClient.request(
                    port: port, "POST", "/api/v1/auth/login",
                    headers: [("Content-Type", "application/json"), ("X-Forwarded-For", "203.0.113.\(index)")],
                    body: Array(#"{"email":"nobody\#(index)@example.com","password":"wrong"}"#.utf8))
            }
            for index in 0..<30 { #expect(try await attempt(index).status == 401) }
            #expect(try await attempt(30).status == (extra.isEmpty ? 429 : 401))
            #expect(await board.stop() == 0)
        }
    }

    @Test(
        "the database URL from PIER_DATABASE_URL; SIGHUP is noted and ignored; SIGTERM drains first (/readyz answers 503 while requests are still served), then it exits 0"
    )
    func drainOnShutdown() async throws {
        try await TemporaryDirectory.with { directory in
            // A URL with a password belongs in the environment, not the command line.
            let (process, port) = try await Self.started(
                ["--drain-period", "3s"], environment: ["PIER_DATABASE_URL": "sqlite://\(directory)/from-env.sqlite"])
            #expect(FileManager.default.fileExists(atPath: "\(directory)/from-env.sqlite"))
            kill(process.pid, SIGHUP)
            try await process.waitForOutput(
                containing: "SIGHUP: the board has nothing to reload", inStandardError: true)
            #expect(try await RawHTTPClient.request(port: port, "GET", "/readyz").status == 200)
            kill(process.pid, SIGTERM)
            var draining: RawHTTPResponse?
            let deadline = ContinuousClock.now + .seconds(10)
            while draining == nil && ContinuousClock.now < deadline {
                if let ready = try? await RawHTTPClient.request(port: port, "GET", "/readyz"), ready.status == 503 {
                    draining = ready
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let ready = try #require(draining, "/readyz never answered 503 after SIGTERM")
            #expect(ready.text.contains("\"draining\""))
            // Still serving while it drains.
            #expect(try await RawHTTPClient.request(port: port, "GET", "/healthz").status == 200)
            let login = try await Self.post(port, "/api/v1/auth/login", #"{"email":"a@example.com","password":"x"}"#)
            #expect(login.status == 400 || login.status == 401)
            let exitDeadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < exitDeadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!process.isRunning)
            #expect(await process.stop() == 0)
        }
    }

    @Test("bad options are refused before anything starts")
    func badOptions() async throws {
        let listen = try await PierBinary.run(["board", "serve", "--listen", "nowhere"])
        #expect(listen.status != 0)
        #expect(listen.error.contains("--listen"))
        let cost = try await PierBinary.run(["board", "serve", "--bcrypt-cost", "4"])
        #expect(cost.status != 0)
        #expect(cost.error.contains("--bcrypt-cost"))
        let origin = try await PierBinary.run(["board", "serve", "--allowed-origin", "example.com"])
        #expect(origin.status != 0)
        let badURL = try await CommandLineTool.run(
            PierBinary.url.path, ["board", "serve"], environment: ["PIER_DATABASE_URL": "mysql://x@y/z"])
        #expect(badURL.status != 0)
        #expect(badURL.errors.contains("PIER_DATABASE_URL: unsupported database URL"), "\(badURL.errors)")
        let drain = try await PierBinary.run(["board", "serve", "--drain-period", "soon"])
        #expect(drain.status != 0)
        #expect(drain.error.contains("--drain-period"))
    }

    @Test(
        "two instances on one PostgreSQL: a change through one is read through the other, tokens work on both",
        .enabled(if: PostgresFixture.isConfigured))
    func twoInstances() async throws {
        try await PostgresFixture.withDatabase { url in
            try await TemporaryDirectory.with { directory in
                let key = "\(directory)/signing-key"
                let (a, portA) = try await Self.started(["--database-url", url, "--signing-key-file", key])
                let (b, portB) = try await Self.started(["--database-url", url, "--signing-key-file", key])
                let (email, password) = try await Self.credentials(a, port: portA)
                #expect(!b.standardOutput.contains("password:"))

                let login = try await Self.post(
                    portA, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
                let tokens = Self.json(login.text)
                let token = try #require(tokens["access_token"] as? String)
                let created = try await Self.post(portA, "/api/v1/boards", token: token, #"{"name":"Shared"}"#)
                #expect(created.status == 201)
                let boardID = try #require(Self.json(created.text)["id"] as? String)
                let task = try await Self.post(
                    portA, "/api/v1/boards/\(boardID)/tasks", token: token, #"{"title":"made on A"}"#)
                #expect(task.status == 201)

                let readOnB = try await Self.get(portB, "/api/v1/boards/\(boardID)/tasks", token: token)
                #expect(readOnB.status == 200)
                #expect(readOnB.text.contains("made on A"))
                // The refresh token issued by A rotates on B.
                let refresh = try #require(tokens["refresh_token"] as? String)
                let rotated = try await Self.post(portB, "/api/v1/auth/refresh", #"{"refresh_token":"\#(refresh)"}"#)
                #expect(rotated.status == 200)
                let reused = try await Self.post(portA, "/api/v1/auth/refresh", #"{"refresh_token":"\#(refresh)"}"#)
                #expect(reused.status == 401)

                // Signing out through A ends the account's access tokens on B at once.
                let second = try await Self.post(
                    portA, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
                let secondTokens = Self.json(second.text)
                let secondAccess = try #require(secondTokens["access_token"] as? String)
                let secondRefresh = try #require(secondTokens["refresh_token"] as? String)
                #expect(try await Self.get(portB, "/api/v1/me", token: secondAccess).status == 200)
                let signedOut = try await Self.post(
                    portA, "/api/v1/auth/logout", #"{"refresh_token":"\#(secondRefresh)"}"#)
                #expect(signedOut.status == 204)
                #expect(try await Self.get(portB, "/api/v1/me", token: secondAccess).status == 401)
                #expect(try await Self.get(portA, "/api/v1/me", token: secondAccess).status == 401)
                #expect(await a.stop() == 0)
                #expect(await b.stop() == 0)
            }
        }
    }
}

@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    @Test("pier board openapi prints a document that openapi-spec-validator accepts")
    func validates() async throws {
        let printed = try await PierBinary.run(["board", "openapi"])
        #expect(printed.status == 0)
        let venv = TestPython.venv
        let validator = URL(fileURLWithPath: venv).appendingPathComponent("bin/openapi-spec-validator")
        guard FileManager.default.isExecutableFile(atPath: validator.path) else {
            // scripts/test always provides it; under CI its absence is a failure, not a skip.
            #expect(!PostgresFixture.isCI, "openapi-spec-validator is missing from \(venv)")
            return
        }
        try await TemporaryDirectory.with { directory in
            let path = directory + "/openapi.json"
            try printed.output.write(toFile: path, atomically: true, encoding: .utf8)
            let checked = try await CommandLineTool.run(validator.path, [path])
            let text = checked.all
            #expect(checked.status == 0, "\(text)")
            #expect(text.contains("OK"))
        }
    }
}

@Suite("pier edge reload")
struct EdgeReloadCommandTests {
    @Test("SIGHUP reloads the configuration of a running edge; SIGTERM stops it")
    func sighup() async throws {
        try await TemporaryDirectory.with { directory in
            try TemporaryDirectory.write("site A\n", to: "a/index.html", under: directory)
            try TemporaryDirectory.write("site B\n", to: "b/index.html", under: directory)
            let path = directory + "/edge.yaml"
            func config(_ root: String) -> String {
                "listen:\n  - address: 127.0.0.1:0\naccess_log: off\nroutes:\n  - match: { path_prefix: / }\n"
                    + "    static: { root: \(root) }\n"
            }
            // A whole-second modification time, so that setting it again later restores it exactly.
            let fixedTime = Date(timeIntervalSince1970: 1_700_000_000)
            try config("./a").write(toFile: path, atomically: false, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: fixedTime], ofItemAtPath: path)
            let edge = try RunningProcess(executable: PierBinary.url, arguments: ["edge", "--config", path])
            try await edge.waitForOutput(containing: "edge listening", inStandardError: true)
            let port = try #require(edge.firstMatch(#"127\.0\.0\.1:(\d+)"#, inStandardError: true).flatMap { Int($0) })
            #expect(try await RawHTTPClient.request(port: port, "GET", "/").text == "site A\n")

            // Same length, same inode, same modification time: only the signal can make the edge notice.
            try config("./b").write(toFile: path, atomically: false, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: fixedTime], ofItemAtPath: path)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await RawHTTPClient.request(port: port, "GET", "/").text == "site A\n")

            kill(edge.pid, SIGHUP)
            var served = ""
            for _ in 0..<100 {
                served = try await RawHTTPClient.request(port: port, "GET", "/").text
                if served == "site B\n" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(served == "site B\n")
            try await edge.waitForOutput(containing: "configuration reloaded", inStandardError: true)
            #expect(await edge.stop() == 0)
        }
    }
}

@Suite("pier edge TLS")
struct EdgeTLSCommandTests {
    @Test("SIGHUP reloads the certificates of a running edge without a restart")
    func sighupReloadsCertificates() async throws {
        try await TemporaryDirectory.with { directory in
            try TemporaryDirectory.write("site\n", to: "site/index.html", under: directory)
            let authority = try TestCertificateAuthority()
            let ca = try authority.writeAuthority(under: directory)
            let fixedTime = Date(timeIntervalSince1970: 1_700_000_000)
            let certificatePath = directory + "/app.pem"
            let keyPath = directory + "/app.key"
            /// Writes a new certificate and key in place, padded to fixed lengths, with a fixed modification time:
            /// nothing the edge's once-a-second look would notice.
            func writeUnnoticeably() throws {
                let (certificate, key) = try authority.issue(["app.test"])
                for (path, text) in [(certificatePath, certificate), (keyPath, key)] {
                    let padded = text + String(repeating: "\n", count: 4096 - text.utf8.count)
                    try padded.write(toFile: path, atomically: false, encoding: .utf8)
                    try FileManager.default.setAttributes([.modificationDate: fixedTime], ofItemAtPath: path)
                }
            }
            try writeUnnoticeably()
            let path = directory + "/edge.yaml"
            try """
            listen:
              - address: 127.0.0.1:0
                tls: { certificates: [{ cert: ./app.pem, key: ./app.key }] }
            access_log: off
            routes:
              - static: { root: ./site }
            """.write(toFile: path, atomically: true, encoding: .utf8)
            let edge = try RunningProcess(executable: PierBinary.url, arguments: ["edge", "--config", path])
            try await edge.waitForOutput(containing: "edge listening", inStandardError: true)
            let port = try #require(edge.firstMatch(#"127\.0\.0\.1:(\d+)"#, inStandardError: true).flatMap { Int($0) })
            @Sendable func served() async throws -> [UInt8] {
                let client = try await TLSTestClient.connect(port: port, serverName: "app.test", caPEMFile: ca)
                await client.close()
                return client.serverCertificate
            }
            let first = try await served()
            try writeUnnoticeably()
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await served() == first, "without SIGHUP the unchanged-looking files are not read again")
            kill(edge.pid, SIGHUP)
            try await edge.waitForOutput(containing: "certificates reloaded", inStandardError: true)
            #expect(try await served() != first)
            #expect(await edge.stop() == 0)
        }
    }
}
