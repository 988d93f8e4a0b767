import PierBoardStore
import PierTesting
import Testing

/// One suite, run against every backend: PostgreSQL and SQLite must behave the same.
@Suite("Board repository conformance")
struct BoardRepositoryConformanceTests {
    struct World {
        var supervisor: User
        var pic: User
        var board: Board
    }

    static func world(_ repository: SQLBoardRepository) async throws -> World {
        let supervisor = try await repository.createUser(
            email: "sup@example.com", name: "Su Pervisor", role: .supervisor, passwordHash: "h1", actorID: nil)
        let pic = try await repository.createUser(
            email: "pic@example.com", name: "Pi Cee", role: .pic, passwordHash: "h2", actorID: supervisor.id)
        let board = try await repository.createBoard(name: "Launch", actorID: supervisor.id)
        try await repository.addMember(boardID: board.id, userID: pic.id, actorID: supervisor.id)
        return World(supervisor: supervisor, pic: pic, board: board)
    }

    /// What became of a change: `success` when it happened, the rule's code when it was refused, `invalid` when it
    /// named something that is not there; any other error is thrown.
    static func outcome(_ success: String, _ change: () async throws -> Void) async throws -> String {
        do {
            try await change()
            return success
        } catch let error as StoreError where error.isRefused || error.isInvalid {
            return error.rule ?? "invalid"
        }
    }

    @Test("migrations are idempotent and the schema is current", arguments: StoreBackend.available)
    func migrations(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            try await repository.migrate()
            #expect(await repository.isReady())
            #expect(try await Migrations.currentVersion(repository.database) == Migrations.latestVersion)
        }
    }

    @Test("users: unique email regardless of case, lookup, disable", arguments: StoreBackend.available)
    func users(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let user = try await repository.createUser(
                email: "Kim@Example.com", name: "김민지", role: .pic, passwordHash: "hash", actorID: nil)
            #expect(try await repository.countUsers() == 1)
            await #expect(throws: StoreError.self) {
                try await repository.createUser(
                    email: "kim@example.COM", name: "Other", role: .pic, passwordHash: "x", actorID: nil)
            }
            let found = try await repository.user(email: "KIM@example.com")
            #expect(found?.id == user.id)
            #expect(found?.name == "김민지")
            #expect(found?.email == "Kim@Example.com")
            let disabled = try await repository.setUserDisabled(id: user.id, disabled: true, actorID: user.id)
            #expect(disabled.disabled)
            #expect(try await repository.user(id: user.id)?.disabled == true)
            try await repository.setPasswordHash(id: user.id, passwordHash: "new", actorID: user.id)
            #expect(try await repository.user(id: user.id)?.passwordHash == "new")
            #expect(try await repository.replacePasswordHash(id: user.id, from: "stale", to: "x") == false)
            #expect(try await repository.replacePasswordHash(id: user.id, from: "new", to: "rehashed"))
            #expect(try await repository.user(id: user.id)?.passwordHash == "rehashed")
        }
    }

    @Test(
        "boards get the default columns in order, and membership decides visibility", arguments: StoreBackend.available)
    func boards(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            #expect(world.board.columns.map(\.name) == ["To do", "In progress", "Review", "Done"])
            #expect(world.board.columns.map(\.isDone) == [false, false, false, true])
            let loaded = try await repository.board(id: world.board.id)
            #expect(loaded == world.board)
            let outsider = try await repository.createUser(
                email: "out@example.com", name: "Out", role: .pic, passwordHash: "h", actorID: nil)
            #expect(try await repository.boards(memberID: world.pic.id).map(\.id) == [world.board.id])
            #expect(try await repository.boards(memberID: outsider.id).isEmpty)
            #expect(try await repository.isMember(boardID: world.board.id, userID: world.pic.id))
            #expect(!(try await repository.isMember(boardID: world.board.id, userID: outsider.id)))
            #expect(
                Set(try await repository.members(boardID: world.board.id).map(\.id)) == [
                    world.supervisor.id, world.pic.id,
                ])
        }
    }

    @Test(
        "creating a task writes the task, its audit event, transition and outbox message",
        arguments: StoreBackend.available)
    func createTask(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id,
                NewTask(
                    title: "Write the README", content: "**bold**", assigneeID: world.pic.id, dueAt: 1_800_000_000_000,
                    dueTimeZone: "Asia/Seoul", labels: ["docs", "docs", "p1"]),
                actorID: world.supervisor.id
            )
            #expect(task.version == 1)
            #expect(task.columnID == world.board.columns[0].id)
            #expect(task.labels == ["docs", "p1"])
            let loaded = try await repository.task(id: task.id)
            #expect(loaded == task)
            let history = try await repository.history(taskID: task.id)
            #expect(history.map(\.action) == ["task.created"])
            let outbox = try await repository.pendingOutbox(limit: 10, now: Int64.max)
            #expect(outbox.map(\.kind) == ["task.assigned"])
            #expect(outbox.first?.payload.contains(world.pic.id) == true)
            await #expect(throws: StoreError.self) {
                try await repository.createTask(
                    boardID: world.board.id, NewTask(title: "x", assigneeID: "00000000-0000-7000-8000-000000000000"),
                    actorID: world.supervisor.id)
            }
        }
    }

    @Test(
        "updates bump the version, audit every field, notify, and refuse stale versions",
        arguments: StoreBackend.available)
    func updateTask(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "Draft"), actorID: world.supervisor.id)
            let updated = try await repository.updateTask(
                id: task.id,
                expectedVersion: 1,
                changes: TaskChanges(
                    title: "Final", columnID: world.board.columns[1].id, assigneeID: .some(world.pic.id),
                    dueAt: .some(1_900_000_000_000), labels: ["b", "a"]),
                actorID: world.supervisor.id
            )
            #expect(updated.version == 2)
            #expect(updated.title == "Final")
            #expect(updated.labels == ["a", "b"])
            #expect(try await repository.task(id: task.id) == updated)
            let fields = try await repository.history(taskID: task.id).compactMap(\.field)
            #expect(Set(fields) == ["title", "assignee", "due_at", "labels", "column"])
            let kinds = try await repository.pendingOutbox(limit: 10, now: Int64.max).map(\.kind)
            #expect(Set(kinds) == ["task.assigned", "task.status_changed", "task.due_changed"])
            do {
                _ = try await repository.updateTask(
                    id: task.id, expectedVersion: 1, changes: TaskChanges(title: "Stale"), actorID: world.pic.id)
                Issue.record("a stale update succeeded")
            } catch let error as StoreError {
                #expect(error.isConflict)
                #expect(error.currentVersion == 2)
            }
            let unchanged = try await repository.updateTask(
                id: task.id, expectedVersion: 2, changes: TaskChanges(title: "Final"), actorID: world.pic.id)
            #expect(unchanged.version == 2)
        }
    }

    @Test("concurrent updates of one task: exactly one winner, the rest conflict", arguments: StoreBackend.available)
    func concurrentUpdates(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "Race"), actorID: world.supervisor.id)
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await repository.updateTask(
                                id: task.id, expectedVersion: 1, changes: TaskChanges(title: "Writer \(index)"),
                                actorID: world.supervisor.id)
                            return true
                        } catch let error as StoreError where error.isConflict {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            let final = try #require(try await repository.task(id: task.id))
            #expect(final.version == 2)
            #expect(
                try await repository.history(taskID: task.id).filter {
                    $0.action == "task.updated" && $0.field == "title"
                }.count == 1)
        }
    }

    @Test("moves reorder within a column and between columns, with transitions", arguments: StoreBackend.available)
    func moves(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let todo = world.board.columns[0].id
            let doing = world.board.columns[1].id
            var tasks: [BoardTask] = []
            for title in ["A", "B", "C"] {
                tasks.append(
                    try await repository.createTask(
                        boardID: world.board.id, NewTask(title: title), actorID: world.supervisor.id))
            }
            func order(_ column: String) async throws -> [String] {
                try await repository.tasks(boardID: world.board.id, query: TaskQuery(columnID: column, now: 0)).tasks
                    .map(\.title)
            }
            #expect(try await order(todo) == ["A", "B", "C"])
            _ = try await repository.moveTask(
                id: tasks[2].id, toColumnID: todo, afterID: nil, beforeID: tasks[0].id, expectedVersion: nil,
                actorID: world.supervisor.id)
            #expect(try await order(todo) == ["C", "A", "B"])
            _ = try await repository.moveTask(
                id: tasks[2].id, toColumnID: todo, afterID: tasks[0].id, beforeID: nil, expectedVersion: nil,
                actorID: world.supervisor.id)
            #expect(try await order(todo) == ["A", "C", "B"])
            let moved = try await repository.moveTask(
                id: tasks[1].id, toColumnID: doing, afterID: nil, beforeID: nil, expectedVersion: 1,
                actorID: world.pic.id)
            #expect(moved.columnID == doing)
            #expect(moved.version == 2)
            #expect(try await order(doing) == ["B"])
            #expect(try await repository.history(taskID: tasks[1].id).map(\.action) == ["task.created", "task.moved"])
            await #expect(throws: StoreError.self) {
                try await repository.moveTask(
                    id: tasks[1].id, toColumnID: todo, afterID: nil, beforeID: nil, expectedVersion: 1,
                    actorID: world.pic.id)
            }
        }
    }

    @Test("ordering survives many concurrent moves and forced renumbering", arguments: StoreBackend.available)
    func concurrentMoves(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let column = world.board.columns[0].id
            var ids: [String] = []
            for index in 0..<12 {
                ids.append(
                    try await repository.createTask(
                        boardID: world.board.id, NewTask(title: "T\(index)"), actorID: world.supervisor.id
                    ).id)
            }
            let anchor = ids[0]
            // Everyone squeezes in right after the same anchor: the gap halves each time until the column renumbers.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids.dropFirst() {
                    group.addTask {
                        for _ in 0..<4 {
                            _ = try await repository.moveTask(
                                id: id, toColumnID: column, afterID: anchor, beforeID: nil, expectedVersion: nil,
                                actorID: world.supervisor.id)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let listed = try await repository.tasks(boardID: world.board.id, query: TaskQuery(columnID: column, now: 0))
                .tasks
            #expect(listed.count == 12)
            #expect(Set(listed.map(\.id)) == Set(ids))
            #expect(Set(listed.map(\.position)).count == 12, "positions must stay distinct")
            #expect(listed.first?.id == anchor)
            let positions = listed.map(\.position)
            #expect(positions == positions.sorted())
        }
    }

    @Test("listing filters and keyset pagination", arguments: StoreBackend.available)
    func listing(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let done = world.board.columns[3].id
            for index in 0..<25 {
                _ = try await repository.createTask(
                    boardID: world.board.id,
                    NewTask(
                        title: index % 5 == 0 ? "Fix 100% of the LOGIN bug \(index)" : "Task \(index)",
                        content: index == 7 ? "mentions login too" : "",
                        columnID: index % 2 == 0 ? world.board.columns[0].id : world.board.columns[1].id,
                        assigneeID: index % 3 == 0 ? world.pic.id : nil,
                        dueAt: index < 10 ? 1_000 + Int64(index) : nil,
                        labels: index % 4 == 0 ? ["urgent"] : []
                    ),
                    actorID: world.supervisor.id
                )
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await repository.tasks(
                    boardID: world.board.id, query: TaskQuery(now: 0, limit: 7, cursor: cursor))
                #expect(page.tasks.count <= 7)
                seen += page.tasks.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen.count == 25)
            #expect(Set(seen).count == 25)
            let all = try await repository.tasks(boardID: world.board.id, query: TaskQuery(now: 0, limit: 100)).tasks
            #expect(all.map(\.id) == seen)

            func count(_ query: TaskQuery) async throws -> Int {
                try await repository.tasks(boardID: world.board.id, query: query).tasks.count
            }
            #expect(try await count(TaskQuery(assigneeID: world.pic.id, now: 0)) == 9)
            #expect(try await count(TaskQuery(columnID: world.board.columns[0].id, now: 0)) == 13)
            #expect(try await count(TaskQuery(label: "urgent", now: 0)) == 7)
            #expect(try await count(TaskQuery(text: "login", now: 0)) == 6)
            #expect(try await count(TaskQuery(text: "100%", now: 0)) == 5)
            #expect(try await count(TaskQuery(dueBefore: 1_005, now: 0)) == 5)
            #expect(try await count(TaskQuery(overdue: true, now: 1_003)) == 3)
            let first = all[0]
            _ = try await repository.moveTask(
                id: first.id, toColumnID: done, afterID: nil, beforeID: nil, expectedVersion: nil,
                actorID: world.supervisor.id)
            #expect(try await count(TaskQuery(overdue: true, now: 1_003)) == 2, "done tasks are never overdue")
            await #expect(throws: StoreError.self) {
                try await repository.tasks(boardID: world.board.id, query: TaskQuery(now: 0, cursor: "garbage"))
            }
        }
    }

    @Test("comments, history order and deletion", arguments: StoreBackend.available)
    func commentsAndDeletion(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await Self.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "Talk"), actorID: world.supervisor.id)
            let first = try await repository.addComment(taskID: task.id, body: "첫 번째", actorID: world.pic.id)
            _ = try await repository.addComment(taskID: task.id, body: "second", actorID: world.supervisor.id)
            #expect(try await repository.comments(taskID: task.id).map(\.body) == ["첫 번째", "second"])
            #expect(first.authorID == world.pic.id)
            try await repository.deleteTask(id: task.id, actorID: world.supervisor.id)
            #expect(try await repository.task(id: task.id) == nil)
            #expect(
                try await repository.history(taskID: task.id).map(\.action) == [
                    "task.created", "comment.added", "comment.added", "task.deleted",
                ])
            await #expect(throws: StoreError.self) {
                try await repository.deleteTask(id: task.id, actorID: world.supervisor.id)
            }
        }
    }
}

@Suite("Board repository conformance: sessions")
struct SessionConformanceTests {
    @Test("refresh tokens rotate; reusing a rotated one revokes the family", arguments: StoreBackend.available)
    func rotation(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let user = try await repository.createUser(
                email: "s@example.com", name: "S", role: .pic, passwordHash: "h", actorID: nil)
            let far = Int64.max / 2
            try await repository.createSession(userID: user.id, tokenHash: "t1", expiresAt: far)
            #expect(
                try await repository.rotateSession(presentedHash: "t1", newHash: "t2", expiresAt: far) == .rotated(user)
            )
            #expect(
                try await repository.rotateSession(presentedHash: "t2", newHash: "t3", expiresAt: far) == .rotated(user)
            )
            // t1 was already used: a thief replaying it ends the session for everyone holding the family.
            #expect(try await repository.rotateSession(presentedHash: "t1", newHash: "x", expiresAt: far) == .reused)
            #expect(try await repository.rotateSession(presentedHash: "t3", newHash: "t4", expiresAt: far) == .invalid)
            #expect(
                try await repository.rotateSession(presentedHash: "unknown", newHash: "t5", expiresAt: far) == .invalid)
        }
    }

    @Test("expired tokens, logout and disabled users end sessions", arguments: StoreBackend.available)
    func endings(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let user = try await repository.createUser(
                email: "e@example.com", name: "E", role: .pic, passwordHash: "h", actorID: nil)
            try await repository.createSession(userID: user.id, tokenHash: "old", expiresAt: 1)
            #expect(
                try await repository.rotateSession(presentedHash: "old", newHash: "n", expiresAt: Int64.max / 2)
                    == .invalid)
            try await repository.createSession(userID: user.id, tokenHash: "a1", expiresAt: Int64.max / 2)
            try await repository.endSession(tokenHash: "a1")
            #expect(
                try await repository.rotateSession(presentedHash: "a1", newHash: "a2", expiresAt: Int64.max / 2)
                    == .invalid)
            try await repository.createSession(userID: user.id, tokenHash: "b1", expiresAt: Int64.max / 2)
            _ = try await repository.setUserDisabled(id: user.id, disabled: true, actorID: user.id)
            #expect(
                try await repository.rotateSession(presentedHash: "b1", newHash: "b2", expiresAt: Int64.max / 2)
                    == .invalid)
        }
    }
}

@Suite("Board repository conformance: details")
struct DetailConformanceTests {
    @Test(
        "label order does not depend on the database collation; resending labels changes nothing",
        arguments: StoreBackend.available)
    func labelOrder(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "L", labels: ["api", "Bug", "zeta", "Alpha"]),
                actorID: world.supervisor.id)
            let loaded = try #require(try await repository.task(id: task.id))
            #expect(loaded.labels == task.labels)
            let listed = try await repository.tasks(boardID: world.board.id, query: TaskQuery(now: 0)).tasks
            #expect(listed.first?.labels == task.labels)
            let same = try await repository.updateTask(
                id: task.id, expectedVersion: 1, changes: TaskChanges(labels: ["zeta", "Alpha", "Bug", "api"]),
                actorID: world.supervisor.id)
            #expect(same.version == 1)
        }
    }

    @Test(
        "removing a member: refused while they have tasks here or are the last Supervisor, audited when done",
        arguments: StoreBackend.available)
    func memberRemoval(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "Theirs", assigneeID: world.pic.id),
                actorID: world.supervisor.id)
            func refusal(_ userID: String) async throws -> String {
                try await BoardRepositoryConformanceTests.outcome("removed") {
                    try await repository.removeMember(
                        boardID: world.board.id, userID: userID, actorID: world.supervisor.id)
                }
            }
            let withTasks = try await refusal(world.pic.id)
            #expect(withTasks == "member_has_tasks")
            let lastSupervisor = try await refusal(world.supervisor.id)
            #expect(lastSupervisor == "last_supervisor")
            var members = try await repository.members(boardID: world.board.id).map(\.id)
            #expect(Set(members) == [world.supervisor.id, world.pic.id])

            _ = try await repository.updateTask(
                id: task.id, expectedVersion: task.version, changes: TaskChanges(assigneeID: .some(nil)),
                actorID: world.supervisor.id)
            try await repository.removeMember(
                boardID: world.board.id, userID: world.pic.id, actorID: world.supervisor.id)
            members = try await repository.members(boardID: world.board.id).map(\.id)
            #expect(members == [world.supervisor.id])
            let isMember = try await repository.isMember(boardID: world.board.id, userID: world.pic.id)
            #expect(!isMember)
            let removals = try await repository.database.query(
                "SELECT old_value FROM audit_events WHERE board_id = $1 AND action = 'board.member_removed'",
                [.text(world.board.id)])
            #expect(try removals.map { try $0.text("old_value") } == [world.pic.id])
            // Not a member (any more): not found, and nothing else changes.
            await #expect(throws: StoreError.self) {
                try await repository.removeMember(
                    boardID: world.board.id, userID: world.pic.id, actorID: world.supervisor.id)
            }
            // A disabled Supervisor is not "the last one": removing them leaves the active one in charge.
            let dormant = try await repository.createUser(
                email: "dormant@example.com", name: "Dormant", role: .supervisor, passwordHash: "h4", actorID: nil)
            try await repository.addMember(boardID: world.board.id, userID: dormant.id, actorID: world.supervisor.id)
            _ = try await repository.setUserDisabled(id: dormant.id, disabled: true, actorID: world.supervisor.id)
            let stillLast = try await refusal(world.supervisor.id)
            #expect(stillLast == "last_supervisor")
            try await repository.removeMember(
                boardID: world.board.id, userID: dormant.id, actorID: world.supervisor.id)

            // A second Supervisor makes the first one removable.
            let second = try await repository.createUser(
                email: "sup2@example.com", name: "Second", role: .supervisor, passwordHash: "h3", actorID: nil)
            try await repository.addMember(boardID: world.board.id, userID: second.id, actorID: world.supervisor.id)
            try await repository.removeMember(boardID: world.board.id, userID: world.supervisor.id, actorID: second.id)
            members = try await repository.members(boardID: world.board.id).map(\.id)
            #expect(members == [second.id])
        }
    }

    @Test(
        "columns: added at the end, renamed, reordered, marked done, deleted only when empty and not the last",
        arguments: StoreBackend.available)
    func columns(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            func names() async throws -> [String] {
                try await repository.board(id: world.board.id)!.columns.sorted { $0.position < $1.position }.map(\.name)
            }
            func positions() async throws -> [Int] {
                try await repository.board(id: world.board.id)!.columns.map(\.position).sorted()
            }
            let actor = world.supervisor.id
            let blocked = try await repository.addColumn(
                boardID: world.board.id, name: "Blocked", isDone: false, actorID: actor)
            #expect(blocked.position == 4)
            #expect(try await names() == ["To do", "In progress", "Review", "Done", "Blocked"])
            await #expect(throws: StoreError.self) {
                try await repository.addColumn(boardID: world.board.id, name: "blocked", isDone: false, actorID: actor)
            }

            let moved = try await repository.updateColumn(
                id: blocked.id, changes: ColumnChanges(name: "On hold", position: 1), actorID: actor)
            #expect(moved.position == 1)
            #expect(moved.name == "On hold")
            #expect(try await names() == ["To do", "On hold", "In progress", "Review", "Done"])
            let last = try await repository.updateColumn(
                id: blocked.id, changes: ColumnChanges(isDone: true, position: 99), actorID: actor)
            #expect(last.position == 4)
            #expect(last.isDone)
            #expect(try await names() == ["To do", "In progress", "Review", "Done", "On hold"])
            #expect(try await positions() == [0, 1, 2, 3, 4])
            await #expect(throws: StoreError.self) {
                try await repository.updateColumn(id: blocked.id, changes: ColumnChanges(name: "DONE"), actorID: actor)
            }

            // Not while a task is in it; then gone, with the others renumbered, and audited.
            let board = try #require(try await repository.board(id: world.board.id))
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "Waiting", columnID: blocked.id), actorID: actor)
            let notEmpty = try await BoardRepositoryConformanceTests.outcome("deleted") {
                try await repository.deleteColumn(id: blocked.id, actorID: actor)
            }
            #expect(notEmpty == "column_not_empty")
            _ = try await repository.moveTask(
                id: task.id, toColumnID: board.columns[0].id, afterID: nil, beforeID: nil, expectedVersion: nil,
                actorID: actor)
            try await repository.deleteColumn(id: blocked.id, actorID: actor)
            #expect(try await names() == ["To do", "In progress", "Review", "Done"])
            let inProgress = board.columns.first { $0.name == "In progress" }!
            try await repository.deleteColumn(id: inProgress.id, actorID: actor)
            #expect(try await positions() == [0, 1, 2])
            let changes = try await repository.database.query(
                "SELECT action, field FROM audit_events WHERE board_id = $1 AND action LIKE 'column.%'",
                [.text(world.board.id)])
            #expect(
                try changes.map { "\(try $0.text("action")) \((try? $0.text("field")) ?? "")" }.sorted() == [
                    "column.added column", "column.changed is_done", "column.changed name", "column.changed position",
                    "column.changed position", "column.removed column", "column.removed column",
                ])

            // The last column stays.
            for column in try await repository.board(id: world.board.id)!.columns.dropFirst() {
                let tasksHere = try await repository.tasks(
                    boardID: world.board.id, query: TaskQuery(columnID: column.id, now: 0)
                ).tasks
                for task in tasksHere {
                    try await repository.deleteTask(id: task.id, actorID: actor)
                }
                try await repository.deleteColumn(id: column.id, actorID: actor)
            }
            let only = try #require(try await repository.board(id: world.board.id)?.columns.first)
            let lastColumn = try await BoardRepositoryConformanceTests.outcome("deleted") {
                try await repository.deleteColumn(id: only.id, actorID: actor)
            }
            #expect(lastColumn == "last_column")
        }
    }

    @Test(
        "a task created into a column while it is deleted: one of the two is refused, never a storage failure",
        arguments: StoreBackend.available)
    func columnDeletionRace(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            let actor = world.supervisor.id
            for round in 0..<12 {
                let column = try await repository.addColumn(
                    boardID: world.board.id, name: "Race \(round)", isDone: false, actorID: actor)
                async let created = BoardRepositoryConformanceTests.outcome("created") {
                    _ = try await repository.createTask(
                        boardID: world.board.id, NewTask(title: "T\(round)", columnID: column.id), actorID: actor)
                }
                async let deleted = BoardRepositoryConformanceTests.outcome("deleted") {
                    try await repository.deleteColumn(id: column.id, actorID: actor)
                }
                let outcome = [try await created, try await deleted].sorted()
                #expect(
                    outcome == ["column_not_empty", "created"] || outcome == ["deleted", "invalid"],
                    "round \(round): \(outcome)")
                if outcome.contains("created") {
                    for task in try await repository.tasks(
                        boardID: world.board.id, query: TaskQuery(columnID: column.id, now: 0)
                    ).tasks {
                        try await repository.deleteTask(id: task.id, actorID: actor)
                    }
                    try await repository.deleteColumn(id: column.id, actorID: actor)
                }
            }
        }
    }

    @Test(
        "a task assigned to a member while they are removed: one of the two is refused, no task keeps an outsider",
        arguments: StoreBackend.available)
    func memberRemovalRace(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            let actor = world.supervisor.id
            for round in 0..<12 {
                let member = try await repository.createUser(
                    email: "racer\(round)@example.com", name: "Racer", role: .pic, passwordHash: "h", actorID: nil)
                try await repository.addMember(boardID: world.board.id, userID: member.id, actorID: actor)
                async let assigned = BoardRepositoryConformanceTests.outcome("assigned") {
                    _ = try await repository.createTask(
                        boardID: world.board.id, NewTask(title: "R\(round)", assigneeID: member.id), actorID: actor)
                }
                async let removed = BoardRepositoryConformanceTests.outcome("removed") {
                    try await repository.removeMember(boardID: world.board.id, userID: member.id, actorID: actor)
                }
                let outcome = [try await assigned, try await removed].sorted()
                #expect(
                    outcome == ["assigned", "member_has_tasks"] || outcome == ["invalid", "removed"],
                    "round \(round): \(outcome)")
                let isMember = try await repository.isMember(boardID: world.board.id, userID: member.id)
                let theirs = try await repository.tasks(
                    boardID: world.board.id, query: TaskQuery(assigneeID: member.id, now: 0)
                ).tasks
                #expect(isMember || theirs.isEmpty, "round \(round): a task is assigned to a non-member")
            }
        }
    }

    @Test(
        "two Supervisors removing each other at once: exactly one succeeds, the board keeps a Supervisor",
        arguments: StoreBackend.available)
    func concurrentMemberRemoval(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            let second = try await repository.createUser(
                email: "sup2@example.com", name: "Second", role: .supervisor, passwordHash: "h3", actorID: nil)
            try await repository.addMember(boardID: world.board.id, userID: second.id, actorID: world.supervisor.id)
            let pairs = [(world.supervisor.id, second.id), (second.id, world.supervisor.id)]
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for (actor, removed) in pairs {
                    group.addTask {
                        try await BoardRepositoryConformanceTests.outcome("removed") {
                            try await repository.removeMember(boardID: world.board.id, userID: removed, actorID: actor)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }.sorted()
            }
            #expect(outcomes == ["last_supervisor", "removed"])
            let left = try await repository.members(boardID: world.board.id).filter { $0.role == .supervisor }
            #expect(left.count == 1)
        }
    }

    @Test("adding a member twice is a no-op; moving a task next to itself leaves it", arguments: StoreBackend.available)
    func idempotence(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            try await repository.addMember(boardID: world.board.id, userID: world.pic.id, actorID: world.supervisor.id)
            #expect(try await repository.members(boardID: world.board.id).count == 2)
            let first = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "A"), actorID: world.supervisor.id)
            _ = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "B"), actorID: world.supervisor.id)
            let unmoved = try await repository.moveTask(
                id: first.id, toColumnID: first.columnID, afterID: first.id, beforeID: nil, expectedVersion: nil,
                actorID: world.supervisor.id)
            #expect(unmoved.version == first.version)
            let order = try await repository.tasks(boardID: world.board.id, query: TaskQuery(now: 0)).tasks.map(\.title)
            #expect(order == ["A", "B"])
        }
    }

    @Test(
        "a change limited to the assignee is refused once the task is reassigned, checked on the locked row",
        arguments: StoreBackend.available)
    func assigneeCheckedInTransaction(backend: StoreBackend) async throws {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await BoardRepositoryConformanceTests.world(repository)
            let task = try await repository.createTask(
                boardID: world.board.id, NewTask(title: "Mine", assigneeID: world.pic.id), actorID: world.supervisor.id)
            let own = try await repository.updateTask(
                id: task.id, expectedVersion: 1, changes: TaskChanges(content: "ok"), actorID: world.pic.id,
                onlyIfAssignedTo: world.pic.id)
            #expect(own.version == 2)
            _ = try await repository.updateTask(
                id: task.id, expectedVersion: 2, changes: TaskChanges(assigneeID: .some(nil)),
                actorID: world.supervisor.id)
            await #expect(throws: StoreError.forbidden("the task is not assigned to you")) {
                try await repository.updateTask(
                    id: task.id, expectedVersion: 3, changes: TaskChanges(content: "late"), actorID: world.pic.id,
                    onlyIfAssignedTo: world.pic.id)
            }
            await #expect(throws: StoreError.forbidden("the task is not assigned to you")) {
                try await repository.moveTask(
                    id: task.id, toColumnID: world.board.columns[1].id, afterID: nil, beforeID: nil,
                    expectedVersion: nil, actorID: world.pic.id, onlyIfAssignedTo: world.pic.id)
            }
            #expect(try await repository.task(id: task.id)?.version == 3)
        }
    }
}
