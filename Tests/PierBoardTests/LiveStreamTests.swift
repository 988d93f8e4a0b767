import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import PierBoard
import PierBoardStore
import PierTesting
import ServiceLifecycle
import Testing

/// The live stream (`GET /api/v1/boards/{id}/events`) on a real server over loopback: every committed change of
/// the board in order, resumed without gaps, closed when the account loses access; across instances on PostgreSQL.
@Suite("Live board stream")
struct LiveStreamTests {
    /// Serves `world`'s API with its live hub on a loopback port.
    static func serve<Value: Sendable>(
        _ api: BoardAPI, _ body: @Sendable (Int) async throws -> Value
    ) async throws -> Value {
        let app = Application(
            router: api.router(), configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: quietLogger)
        // The hub in a group of its own, stopped before the server as `pier board serve` does: the server would
        // otherwise wait for its streams to end.
        let hub = ServiceGroup(services: [api.live], gracefulShutdownSignals: [], logger: quietLogger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await hub.run() }
            defer { group.cancelAll() }
            return try await app.test(.live) { client in
                do {
                    let value = try await body(try #require(client.port))
                    await hub.triggerGracefulShutdown()
                    return value
                } catch {
                    await hub.triggerGracefulShutdown()
                    throw error
                }
            }
        }
    }

    static func json(_ event: ServerSentEvent) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
    }

    static func stream(
        _ port: Int, _ world: APIWorld, as user: User, lastEventID: String? = nil, after: Int64? = nil
    ) async throws -> EventStreamClient {
        var headers = ["Authorization: Bearer \(try world.token(user))"]
        if let lastEventID { headers.append("Last-Event-ID: \(lastEventID)") }
        let query = after.map { "?after=\($0)" } ?? ""
        let client = try await EventStreamClient.open(
            port: port, path: "/api/v1/boards/\(world.board.id)/events\(query)", headers: headers)
        try await client.wait(within: .seconds(10), "the stream's head") { $0.status != nil && $0.retry != nil }
        return client
    }

    @Test(
        "every change arrives in order with the actor and the task as the API returns it",
        arguments: StoreBackend.available)
    func changesArriveInOrder(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await APIWorld.make(repository, settings: BoardAPISettings())
            try await Self.serve(world.api) { port in
                let stream = try await Self.stream(port, world, as: world.supervisor)
                #expect(stream.status == 200)
                #expect(stream.header("Content-Type") == "text/event-stream; charset=utf-8")
                #expect(stream.header("Cache-Control") == "no-store")
                #expect(stream.retry == 3000)

                let columns = world.board.columns
                let moved = try await repository.moveTask(
                    id: world.task.id, toColumnID: columns[1].id, afterID: nil, beforeID: nil,
                    expectedVersion: world.task.version, actorID: world.pic.id)
                _ = try await repository.updateTask(
                    id: moved.id, expectedVersion: moved.version,
                    changes: TaskChanges(title: "Write the launch post v2"),
                    actorID: world.supervisor.id)
                _ = try await repository.addComment(taskID: moved.id, body: "looks good", actorID: world.otherPIC.id)
                let column = try await repository.addColumn(
                    boardID: world.board.id, name: "Blocked", isDone: false, actorID: world.supervisor.id)
                try await repository.deleteTask(id: world.otherTask.id, actorID: world.supervisor.id)

                let events = try await stream.waitForEvents(5)
                #expect(
                    events.map(\.event) == [
                        "task.moved", "task.updated", "task.commented", "column.created", "task.deleted",
                    ])
                let ids = events.compactMap { $0.id.flatMap { Int64($0) } }
                #expect(ids.count == 5)
                #expect(ids == ids.sorted() && Set(ids).count == 5, "ids rise: \(ids)")

                let move = try Self.json(events[0])
                #expect((move["actor"] as? [String: Any])?["name"] as? String == "담당자 Lee")
                #expect(move["task_id"] as? String == world.task.id)
                #expect(move["version"] as? Int == Int(moved.version))
                let task = try #require(move["task"] as? [String: Any])
                #expect(task["id"] as? String == world.task.id)
                #expect(task["board_id"] as? String == world.board.id)
                let update = try Self.json(events[1])
                #expect((update["task"] as? [String: Any])?["title"] as? String == "Write the launch post v2")
                #expect((try Self.json(events[2])["actor"] as? [String: Any])?["name"] as? String == "Second PIC")
                let added = try Self.json(events[3])
                #expect((added["column"] as? [String: Any])?["name"] as? String == "Blocked")
                #expect(added["column_id"] as? String == column.id)
                let deleted = try Self.json(events[4])
                #expect(deleted["task_id"] as? String == world.otherTask.id)
                #expect(deleted["task"] is NSNull)
                await stream.close()
            }
        }
    }

    @Test("Last-Event-ID and ?after= resume without gaps; an id past what is kept answers reset")
    func resume() async throws {
        try await BoardStoreFixture.withRepository(.sqlite) { repository in
            let world = try await APIWorld.make(repository, settings: BoardAPISettings())
            try await Self.serve(world.api) { port in
                let head = try #require(
                    try await repository.boardEvents(boardID: world.board.id, after: .max, limit: 1)?.head)
                var version = world.task.version
                for round in 0..<6 {
                    let column = world.board.columns[(round + 1) % world.board.columns.count]
                    version = try await repository.moveTask(
                        id: world.task.id, toColumnID: column.id, afterID: nil, beforeID: nil,
                        expectedVersion: version, actorID: world.supervisor.id
                    ).version
                }
                // A client that saw the first two of the six resumes after them (as a browser reconnects).
                let resumed = try await Self.stream(port, world, as: world.pic, lastEventID: String(head + 2))
                let rest = try await resumed.waitForEvents(4)
                #expect(rest.compactMap(\.id) == (3...6).map { String(head + $0) })
                // The header wins over ?after= (a browser that reconnects sends both).
                let both = try await Self.stream(port, world, as: world.pic, lastEventID: String(head + 5), after: head)
                #expect(try await both.waitForEvents(1).first?.id == String(head + 6))
                // A new change arrives after what was replayed, once.
                _ = try await repository.addComment(taskID: world.task.id, body: "next", actorID: world.pic.id)
                let all = try await resumed.waitForEvents(5)
                #expect(all.compactMap(\.id) == (3...7).map { String(head + $0) })
                try await Task.sleep(for: .milliseconds(200))
                #expect(resumed.events.count == 5)
                // ?after= the board's last_event_id, as the web app opens it.
                let fromLoad = try await Self.stream(port, world, as: world.pic, after: head + 6)
                #expect(try await fromLoad.waitForEvents(1).map(\.id) == [String(head + 7)])

                let future = try await Self.stream(port, world, as: world.pic, lastEventID: "999999")
                #expect(try await future.waitForEvents(1).map(\.event) == ["reset"])
                try await future.waitUntilClosed()

                let bad = try await EventStreamClient.open(
                    port: port, path: "/api/v1/boards/\(world.board.id)/events",
                    headers: ["Authorization: Bearer \(try world.token(world.pic))", "Last-Event-ID: 12abc"])
                try await bad.waitUntilClosed()
                #expect(bad.status == 400)
                #expect(bad.body.contains("invalid_parameter"))
                for client in [resumed, both, fromLoad] { await client.close() }
            }
        }
    }

    @Test("a stream is refused to non-members and closed when the account is disabled or leaves the board")
    func accessEndsTheStream() async throws {
        try await BoardStoreFixture.withRepository(.sqlite) { repository in
            let world = try await APIWorld.make(repository, settings: BoardAPISettings())
            try await Self.serve(world.api) { port in
                let outsider = try await EventStreamClient.open(
                    port: port, path: "/api/v1/boards/\(world.board.id)/events",
                    headers: ["Authorization: Bearer \(try world.token(world.outsiderPIC))"])
                try await outsider.waitUntilClosed()
                #expect(outsider.status == 404)
                let anonymous = try await EventStreamClient.open(
                    port: port, path: "/api/v1/boards/\(world.board.id)/events")
                try await anonymous.waitUntilClosed()
                #expect(anonymous.status == 401)

                let disabled = try await Self.stream(port, world, as: world.otherPIC)
                try await repository.addMember(
                    boardID: world.board.id, userID: world.outsiderPIC.id, actorID: world.supervisor.id)
                let leaving = try await Self.stream(port, world, as: world.outsiderPIC)
                let staying = try await Self.stream(port, world, as: world.pic)

                _ = try await repository.setUserDisabled(
                    id: world.otherPIC.id, disabled: true, actorID: world.supervisor.id)
                try await disabled.waitUntilClosed(within: .seconds(5))
                try await repository.removeMember(
                    boardID: world.board.id, userID: world.outsiderPIC.id, actorID: world.supervisor.id)
                try await leaving.waitUntilClosed(within: .seconds(5))
                #expect(leaving.events.last?.event == "member.removed")

                // The others' streams go on.
                _ = try await repository.addComment(taskID: world.task.id, body: "still here", actorID: world.pic.id)
                try await staying.wait(within: .seconds(5), "the comment") {
                    $0.events.contains { $0.event == "task.commented" }
                }
                #expect(!staying.isClosed)
                #expect(world.api.live.streamCount == 1)
                await staying.close()
            }
        }
    }

    @Test("two instances on one PostgreSQL: a change through one reaches the streams of the other")
    func acrossInstances() async throws {
        guard PostgresFixture.isConfigured else { return }
        try await BoardStoreFixture.withPostgresInstances(2) { repositories in
            let world = try await APIWorld.make(repositories[0], settings: BoardAPISettings())
            // The second instance: its own pool, listener and hub; the same signing key.
            let second = BoardAPI(
                repository: repositories[1], tokens: world.issuer, passwords: PasswordHasher(cost: 10),
                logger: quietLogger)
            try await Self.serve(world.api) { firstPort in
                try await Self.serve(second) { secondPort in
                    let onSecond = try await Self.stream(secondPort, world, as: world.pic)
                    let onFirst = try await Self.stream(firstPort, world, as: world.supervisor)
                    // Through the first instance's API, as a browser would.
                    let moved = try await RawHTTPClient.request(
                        port: firstPort, "POST", "/api/v1/tasks/\(world.task.id)/move",
                        headers: [
                            ("Authorization", "Bearer \(try world.token(world.pic))"),
                            ("Content-Type", "application/json"),
                        ],
                        body: Array("{\"column_id\":\"\(world.board.columns[2].id)\"}".utf8))
                    #expect(moved.status == 200, "\(moved.text)")
                    let event = try #require(try await onSecond.waitForEvents(1).first)
                    #expect(event.event == "task.moved")
                    #expect(
                        (try Self.json(event)["task"] as? [String: Any])?["column_id"] as? String
                            == world.board.columns[2].id)
                    #expect(try await onFirst.waitForEvents(1).first?.id == event.id)
                    // And back: a change on the second reaches the first.
                    _ = try await repositories[1].addComment(
                        taskID: world.task.id, body: "from the other instance", actorID: world.pic.id)
                    #expect(try await onFirst.waitForEvents(2).last?.event == "task.commented")
                    await onSecond.close()
                    await onFirst.close()
                }
            }
        }
    }
}
