import Foundation
import PierTesting
import Testing

/// The live board as it runs: `pier board serve` processes on one PostgreSQL, and streams through `pier edge`.
@Suite("Live board, as it runs")
struct LiveBoardCommandTests {
    typealias Serve = BoardServeTests

    static func signIn(_ port: Int, _ process: RunningProcess) async throws -> String {
        let (email, password) = try await Serve.credentials(process, port: port)
        let login = try await Serve.post(
            port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
        return try #require(Serve.json(login.text)["access_token"] as? String)
    }

    static func board(_ port: Int, token: String) async throws -> (id: String, columns: [String]) {
        let created = try await Serve.post(port, "/api/v1/boards", token: token, #"{"name":"Live"}"#)
        let board = Serve.json(created.text)
        let columns = (board["columns"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        return (try #require(board["id"] as? String), columns)
    }

    @Test(
        "two board processes on one PostgreSQL: a move through one arrives on a stream of the other; a dropped stream resumes losing nothing",
        .enabled(if: PostgresFixture.isConfigured))
    func twoProcesses() async throws {
        try await PostgresFixture.withDatabase { url in
            try await TemporaryDirectory.with { directory in
                let key = "\(directory)/signing-key"
                let (a, portA) = try await Serve.started(["--database-url", url, "--signing-key-file", key])
                let (b, portB) = try await Serve.started(["--database-url", url, "--signing-key-file", key])
                let token = try await Self.signIn(portA, a)
                let board = try await Self.board(portA, token: token)
                let path = "/api/v1/boards/\(board.id)/events"
                let auth = "Authorization: Bearer \(token)"

                let onB = try await EventStreamClient.open(port: portB, path: path, headers: [auth])
                try await onB.wait(within: .seconds(10), "the head") { $0.retry != nil }
                let task = Serve.json(
                    try await Serve.post(portA, "/api/v1/boards/\(board.id)/tasks", token: token, #"{"title":"moved"}"#)
                        .text)
                let taskID = try #require(task["id"] as? String)
                let moved = try await Serve.post(
                    portA, "/api/v1/tasks/\(taskID)/move", token: token, #"{"column_id":"\#(board.columns[2])"}"#)
                #expect(moved.status == 200)
                let events = try await onB.waitForEvents(2)
                #expect(events.map(\.event) == ["task.created", "task.moved"])
                #expect(events[1].data.contains(board.columns[2]))
                let seen = try #require(events.last?.id)

                // The connection drops; three changes go through A meanwhile; B resumes from the last id it gave.
                await onB.close()
                for body in ["one", "two", "three"] {
                    _ = try await Serve.post(
                        portA, "/api/v1/tasks/\(taskID)/comments", token: token, #"{"body":"\#(body)"}"#)
                }
                let resumed = try await EventStreamClient.open(
                    port: portB, path: path, headers: [auth, "Last-Event-ID: \(seen)"])
                let missed = try await resumed.waitForEvents(3)
                #expect(missed.map(\.event) == ["task.commented", "task.commented", "task.commented"])
                #expect(missed.compactMap { $0.id.flatMap { Int($0) } } == (1...3).map { Int(seen)! + $0 })

                // SIGTERM with a stream open: the stream ends and the process exits cleanly, without waiting for it.
                let started = ContinuousClock.now
                #expect(await b.stop() == 0)
                #expect(ContinuousClock.now - started < .seconds(10))
                try await resumed.waitUntilClosed(within: .seconds(5))
                #expect(await a.stop() == 0)
            }
        }
    }

    @Test("200 streams through pier edge stay connected through 5 configuration reloads, and all get the next event")
    func streamsThroughReloads() async throws {
        try await TemporaryDirectory.with { directory in
            let (board, boardPort) = try await Serve.started(["--database-url", "sqlite://\(directory)/pier.sqlite"])
            let token = try await Self.signIn(boardPort, board)
            let created = try await Self.board(boardPort, token: token)

            let path = directory + "/edge.yaml"
            func config(_ round: Int) -> String {
                """
                listen:
                  - address: 127.0.0.1:0
                access_log: off
                routes:
                  - match: { path_prefix: /api/ }
                    upstream: board
                    headers: { X-Reload-Round: "\(round)" }
                upstreams:
                  board:
                    targets: [127.0.0.1:\(boardPort)]

                """
            }
            try config(0).write(toFile: path, atomically: true, encoding: .utf8)
            let edge = try RunningProcess(executable: PierBinary.url, arguments: ["edge", "--config", path])
            try await edge.waitForOutput(containing: "edge listening", inStandardError: true)
            let port = try #require(edge.firstMatch(#"127\.0\.0\.1:(\d+)"#, inStandardError: true).flatMap { Int($0) })

            var streams: [EventStreamClient] = []
            for _ in 0..<200 {
                streams.append(
                    try await EventStreamClient.open(
                        port: port, path: "/api/v1/boards/\(created.id)/events",
                        headers: ["Authorization: Bearer \(token)"]))
            }
            for stream in streams {
                try await stream.wait(within: .seconds(20), "the head") { $0.retry != nil }
                #expect(stream.status == 200)
            }
            for round in 1...5 {
                try config(round).write(toFile: path, atomically: true, encoding: .utf8)
                kill(edge.pid, SIGHUP)
                var answered = ""
                for _ in 0..<100 {
                    answered =
                        try await RawHTTPClient.request(port: port, "GET", "/api/v1/openapi.json")
                        .header("X-Reload-Round") ?? ""
                    if answered == String(round) { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(answered == String(round), "reload \(round) was not applied")
            }
            #expect(streams.filter(\.isClosed).isEmpty)
            _ = try await Serve.post(
                port, "/api/v1/boards/\(created.id)/tasks", token: token, #"{"title":"after five reloads"}"#)
            for stream in streams {
                let events = try await stream.waitForEvents(1, within: .seconds(20))
                #expect(events.first?.event == "task.created")
            }
            for stream in streams { await stream.close() }
            #expect(await edge.stop() == 0)
            #expect(await board.stop() == 0)
        }
    }
}
