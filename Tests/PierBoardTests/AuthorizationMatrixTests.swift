import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PierBoard
import PierBoardStore
import PierTesting
import Testing

/// Every signed-in endpoint × every kind of caller, against the rules: a Supervisor manages the boards they belong
/// to; a PIC reads their boards, changes status, position and content of their own tasks, and comments; a board
/// you are not a member of is 404; nobody gets anything without a token.
@Suite("Board API authorization matrix")
struct AuthorizationMatrixTests {
    enum Caller: String, CaseIterable, CustomStringConvertible {
        case supervisor, outsiderSupervisor, assignee, otherPIC, outsiderPIC, anonymous
        var description: String { rawValue }
    }

    struct Call {
        var method: HTTPRequest.Method
        var path: String
        var json: String?
    }

    struct Endpoint: Sendable {
        var method: HTTPRequest.Method
        /// The route as the router names it, such as `/api/v1/tasks/{id}`.
        var route: String
        /// What each caller must get (anonymous is always 401).
        var expected: [Caller: HTTPResponse.Status]
        var make: @Sendable (APIWorld, Caller) async throws -> Call
    }

    static func all(_ status: HTTPResponse.Status) -> [Caller: HTTPResponse.Status] {
        [.supervisor: status, .outsiderSupervisor: status, .assignee: status, .otherPIC: status, .outsiderPIC: status]
    }
    static let supervisorsOnly: [Caller: HTTPResponse.Status] = [
        .supervisor: .ok, .outsiderSupervisor: .ok, .assignee: .forbidden, .otherPIC: .forbidden,
        .outsiderPIC: .forbidden,
    ]
    static let members: [Caller: HTTPResponse.Status] = [
        .supervisor: .ok, .outsiderSupervisor: .notFound, .assignee: .ok, .otherPIC: .ok, .outsiderPIC: .notFound,
    ]
    static func memberSupervisor(_ status: HTTPResponse.Status) -> [Caller: HTTPResponse.Status] {
        [
            .supervisor: status, .outsiderSupervisor: .notFound, .assignee: .forbidden, .otherPIC: .forbidden,
            .outsiderPIC: .notFound,
        ]
    }
    static func replacing(_ base: [Caller: HTTPResponse.Status], _ status: HTTPResponse.Status)
        -> [Caller: HTTPResponse.Status]
    {
        base.mapValues { $0 == .ok ? status : $0 }
    }

    /// A fresh webhook on the board, so that each caller's call has its own.
    static func webhook(_ world: APIWorld) async throws -> String {
        let hooks = try await world.repository.webhooks(boardID: world.board.id)
        // A board has at most 10: make room.
        for hook in hooks.prefix(max(0, hooks.count - 5)) {
            _ = try await world.repository.deleteWebhook(
                boardID: world.board.id, id: hook.id, actorID: world.supervisor.id)
        }
        return try await world.repository.createWebhook(
            boardID: world.board.id, url: "https://hooks.example.com/matrix", events: [], actorID: world.supervisor.id
        ).webhook.id
    }

    static func version(_ world: APIWorld) async throws -> Int64 {
        try await world.repository.task(id: world.task.id)!.version
    }

    static let endpoints: [Endpoint] = [
        Endpoint(method: .get, route: "/api/v1/me", expected: all(.ok)) { _, _ in Call(method: .get, path: "/api/v1/me")
        },
        Endpoint(method: .get, route: "/api/v1/me/notifications", expected: all(.ok)) { _, _ in
            Call(method: .get, path: "/api/v1/me/notifications?unread=true")
        },
        Endpoint(method: .post, route: "/api/v1/me/notifications/read-all", expected: all(.noContent)) { _, _ in
            Call(method: .post, path: "/api/v1/me/notifications/read-all")
        },
        Endpoint(method: .post, route: "/api/v1/me/notifications/{id}/read", expected: all(.notFound)) { _, _ in
            Call(method: .post, path: "/api/v1/me/notifications/00000000-0000-0000-0000-000000000000/read")
        },
        Endpoint(method: .get, route: "/api/v1/deliveries", expected: supervisorsOnly) { _, _ in
            Call(method: .get, path: "/api/v1/deliveries?state=dead")
        },
        Endpoint(
            method: .post, route: "/api/v1/deliveries/{id}/retry", expected: replacing(supervisorsOnly, .notFound)
        ) { _, _ in
            Call(method: .post, path: "/api/v1/deliveries/00000000-0000-0000-0000-000000000000/retry")
        },
        Endpoint(method: .patch, route: "/api/v1/me", expected: all(.ok)) { _, _ in
            Call(method: .patch, path: "/api/v1/me", json: #"{"language":"ko"}"#)
        },
        Endpoint(method: .post, route: "/api/v1/me/password", expected: all(.noContent)) { _, _ in
            Call(
                method: .post, path: "/api/v1/me/password",
                json: #"{"current_password":"\#(APIWorld.password)","new_password":"\#(APIWorld.password)"}"#)
        },
        Endpoint(method: .get, route: "/api/v1/users", expected: supervisorsOnly) { _, _ in
            Call(method: .get, path: "/api/v1/users")
        },
        Endpoint(method: .post, route: "/api/v1/users", expected: replacing(supervisorsOnly, .created)) { _, caller in
            Call(
                method: .post, path: "/api/v1/users",
                json: #"{"email":"made-by-\#(caller)@example.com","name":"New","role":"pic"}"#)
        },
        Endpoint(method: .patch, route: "/api/v1/users/{id}", expected: supervisorsOnly) { world, _ in
            Call(method: .patch, path: "/api/v1/users/\(world.outsiderPIC.id)", json: #"{"disabled":false}"#)
        },
        Endpoint(
            method: .post, route: "/api/v1/users/{id}/password", expected: replacing(supervisorsOnly, .noContent)
        ) { world, _ in
            Call(
                method: .post, path: "/api/v1/users/\(world.outsiderPIC.id)/password",
                json: #"{"password":"\#(APIWorld.password)"}"#)
        },
        Endpoint(method: .get, route: "/api/v1/boards", expected: all(.ok)) { _, _ in
            Call(method: .get, path: "/api/v1/boards")
        },
        Endpoint(method: .post, route: "/api/v1/boards", expected: replacing(supervisorsOnly, .created)) { _, _ in
            Call(method: .post, path: "/api/v1/boards", json: #"{"name":"New board"}"#)
        },
        Endpoint(method: .get, route: "/api/v1/boards/{id}", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/boards/\(world.board.id)")
        },
        Endpoint(method: .get, route: "/api/v1/boards/{id}/webhooks", expected: memberSupervisor(.ok)) { world, _ in
            Call(method: .get, path: "/api/v1/boards/\(world.board.id)/webhooks")
        },
        Endpoint(method: .post, route: "/api/v1/boards/{id}/webhooks", expected: memberSupervisor(.created)) {
            world, _ in
            Call(
                method: .post, path: "/api/v1/boards/\(world.board.id)/webhooks",
                json: #"{"url":"https://hooks.example.com/pier","events":["task.assigned"]}"#)
        },
        Endpoint(
            method: .delete, route: "/api/v1/boards/{id}/webhooks/{webhook_id}", expected: memberSupervisor(.noContent)
        ) { world, _ in
            let hook = try await Self.webhook(world)
            return Call(method: .delete, path: "/api/v1/boards/\(world.board.id)/webhooks/\(hook)")
        },
        Endpoint(
            method: .post, route: "/api/v1/boards/{id}/webhooks/{webhook_id}/test",
            expected: memberSupervisor(.accepted)
        ) { world, _ in
            let hook = try await Self.webhook(world)
            return Call(method: .post, path: "/api/v1/boards/\(world.board.id)/webhooks/\(hook)/test")
        },
        Endpoint(
            method: .get, route: "/api/v1/boards/{id}/webhooks/{webhook_id}/deliveries", expected: memberSupervisor(.ok)
        ) { world, _ in
            let hook = try await Self.webhook(world)
            return Call(method: .get, path: "/api/v1/boards/\(world.board.id)/webhooks/\(hook)/deliveries")
        },
        Endpoint(
            method: .post, route: "/api/v1/boards/{id}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
            expected: memberSupervisor(.noContent)
        ) { world, _ in
            let hook = try await Self.webhook(world)
            let delivery = try #require(
                try await world.repository.queueWebhookTest(
                    boardID: world.board.id, id: hook, actorID: world.supervisor.id))
            try await world.repository.database.query(
                "UPDATE webhook_deliveries SET state = 'dead' WHERE id = $1", [.text(delivery)])
            return Call(
                method: .post,
                path: "/api/v1/boards/\(world.board.id)/webhooks/\(hook)/deliveries/\(delivery)/retry")
        },
        // An event id from the future: a member's stream answers 200 with `reset` and ends at once.
        Endpoint(method: .get, route: "/api/v1/boards/{id}/events", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/boards/\(world.board.id)/events?after=999999")
        },
        Endpoint(method: .get, route: "/api/v1/boards/{id}/members", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/boards/\(world.board.id)/members")
        },
        Endpoint(method: .post, route: "/api/v1/boards/{id}/members", expected: memberSupervisor(.noContent)) {
            world, _ in
            Call(
                method: .post, path: "/api/v1/boards/\(world.board.id)/members",
                json: #"{"user_id":"\#(world.supervisor.id)"}"#)
        },
        Endpoint(
            method: .delete, route: "/api/v1/boards/{id}/members/{user_id}", expected: memberSupervisor(.noContent)
        ) { world, caller in
            // A member of their own for each call, with no tasks, so every caller's attempt is the same.
            let leaving = try await world.repository.createUser(
                email: "leaving-\(caller)@example.com", name: "Leaving", role: .pic, passwordHash: "unused",
                actorID: nil)
            try await world.repository.addMember(
                boardID: world.board.id, userID: leaving.id, actorID: world.supervisor.id)
            return Call(method: .delete, path: "/api/v1/boards/\(world.board.id)/members/\(leaving.id)")
        },
        Endpoint(method: .post, route: "/api/v1/boards/{id}/columns", expected: memberSupervisor(.created)) {
            world, caller in
            Call(method: .post, path: "/api/v1/boards/\(world.board.id)/columns", json: #"{"name":"By \#(caller)"}"#)
        },
        Endpoint(method: .patch, route: "/api/v1/columns/{id}", expected: memberSupervisor(.ok)) { world, caller in
            let column = try await world.repository.addColumn(
                boardID: world.board.id, name: "To rename \(caller)", isDone: false, actorID: world.supervisor.id)
            return Call(method: .patch, path: "/api/v1/columns/\(column.id)", json: #"{"name":"Renamed \#(caller)"}"#)
        },
        Endpoint(method: .delete, route: "/api/v1/columns/{id}", expected: memberSupervisor(.noContent)) {
            world, caller in
            let column = try await world.repository.addColumn(
                boardID: world.board.id, name: "To delete \(caller)", isDone: false, actorID: world.supervisor.id)
            return Call(method: .delete, path: "/api/v1/columns/\(column.id)")
        },
        Endpoint(method: .get, route: "/api/v1/boards/{id}/tasks", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/boards/\(world.board.id)/tasks")
        },
        Endpoint(method: .post, route: "/api/v1/boards/{id}/tasks", expected: memberSupervisor(.created)) {
            world, _ in
            Call(method: .post, path: "/api/v1/boards/\(world.board.id)/tasks", json: #"{"title":"New task"}"#)
        },
        Endpoint(method: .get, route: "/api/v1/tasks/{id}", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/tasks/\(world.task.id)")
        },
        Endpoint(
            method: .patch, route: "/api/v1/tasks/{id}",
            expected: [
                .supervisor: .ok, .outsiderSupervisor: .notFound, .assignee: .ok, .otherPIC: .forbidden,
                .outsiderPIC: .notFound,
            ]
        ) { world, caller in
            Call(
                method: .patch, path: "/api/v1/tasks/\(world.task.id)",
                json: #"{"content":"edited by \#(caller)","version":\#(try await version(world))}"#)
        },
        // The same route again: a PIC may not change the title even of their own task.
        Endpoint(method: .patch, route: "/api/v1/tasks/{id}", expected: memberSupervisor(.ok)) { world, caller in
            Call(
                method: .patch, path: "/api/v1/tasks/\(world.task.id)",
                json: #"{"title":"renamed by \#(caller)","version":\#(try await version(world))}"#)
        },
        Endpoint(
            method: .post, route: "/api/v1/tasks/{id}/move",
            expected: [
                .supervisor: .ok, .outsiderSupervisor: .notFound, .assignee: .ok, .otherPIC: .forbidden,
                .outsiderPIC: .notFound,
            ]
        ) { world, _ in
            Call(
                method: .post, path: "/api/v1/tasks/\(world.task.id)/move",
                json: #"{"column_id":"\#(world.board.columns[1].id)"}"#)
        },
        Endpoint(method: .get, route: "/api/v1/tasks/{id}/comments", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/tasks/\(world.task.id)/comments")
        },
        Endpoint(method: .post, route: "/api/v1/tasks/{id}/comments", expected: replacing(members, .created)) {
            world, caller in
            Call(method: .post, path: "/api/v1/tasks/\(world.task.id)/comments", json: #"{"body":"from \#(caller)"}"#)
        },
        Endpoint(method: .get, route: "/api/v1/tasks/{id}/history", expected: members) { world, _ in
            Call(method: .get, path: "/api/v1/tasks/\(world.task.id)/history")
        },
        Endpoint(method: .delete, route: "/api/v1/tasks/{id}", expected: memberSupervisor(.noContent)) {
            world, caller in
            // A fresh task for each caller, assigned to the PIC, so a refusal cannot be explained by anything else.
            let task = try await world.repository.createTask(
                boardID: world.board.id, NewTask(title: "to delete (\(caller))", assigneeID: world.pic.id),
                actorID: world.supervisor.id)
            return Call(method: .delete, path: "/api/v1/tasks/\(task.id)")
        },
    ]

    @Test("every endpoint answers every caller as the rules say", arguments: StoreBackend.available)
    func matrix(backend: StoreBackend) async throws {
        try await APIWorld.with(backend) { world, client in
            for endpoint in Self.endpoints {
                for caller in Caller.allCases {
                    let call = try await endpoint.make(world, caller)
                    let user: User? =
                        switch caller {
                        case .supervisor: world.supervisor
                        case .outsiderSupervisor: world.outsiderSupervisor
                        case .assignee: world.pic
                        case .otherPIC: world.otherPIC
                        case .outsiderPIC: world.outsiderPIC
                        case .anonymous: nil
                        }
                    // Issued from the account as it is now: a password change earlier in the matrix raised its session
                    // version, which voids tokens issued before.
                    var token: String?
                    if let user { token = try world.token(try await world.repository.user(id: user.id) ?? user) }
                    let response = try await client.call(call.method, call.path, token: token, json: call.json)
                    let expected = caller == .anonymous ? .unauthorized : endpoint.expected[caller]!
                    #expect(
                        response.status == expected,
                        "\(endpoint.method) \(endpoint.route) as \(caller): got \(response.status.code) \(response.text)"
                    )
                    if response.status.code >= 400 {
                        #expect(response.headers[.contentType] == "application/problem+json")
                    }
                }
            }
        }
    }

    /// The routes that need no token.
    static let publicRoutes: Set<String> = [
        "GET /healthz", "GET /readyz", "GET /api/v1/openapi.json", "POST /api/v1/auth/login",
        "POST /api/v1/auth/refresh", "POST /api/v1/auth/logout", "GET /api/v1/auth/public-key",
    ]

    static func routerRoutes(_ world: APIWorld) -> Set<String> {
        Set(world.api.router().routes.map { "\($0.method) \($0.path)" })
    }

    @Test("the matrix covers every signed-in route, and the public routes need no token")
    func coverage() async throws {
        try await APIWorld.with { world, client in
            let routes = Self.routerRoutes(world)
            let covered = Set(Self.endpoints.map { "\($0.method) \($0.route)" })
            #expect(routes.subtracting(Self.publicRoutes) == covered)
            #expect(Self.publicRoutes.isSubset(of: routes))
            let health = try await client.call(.get, "/healthz")
            let ready = try await client.call(.get, "/readyz")
            #expect(health.status == .ok)
            #expect(ready.status == .ok)
        }
    }

    @Test("openapi.json documents exactly the routed endpoints, with responses for each")
    func openAPICoverage() async throws {
        try await APIWorld.with { world, client in
            let served = try await client.call(.get, "/api/v1/openapi.json")
            #expect(served.status == .ok)
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(served.text.utf8)) as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented: Set<String> = []
            for (path, operations) in paths {
                for (method, operation) in operations {
                    documented.insert("\(method.uppercased()) \(path)")
                    let responses = (operation as? [String: Any])?["responses"] as? [String: Any]
                    #expect(responses?.isEmpty == false, "\(method) \(path) documents no responses")
                }
            }
            let routes = Self.routerRoutes(world)
            #expect(
                routes.subtracting(documented).isEmpty, "routed but not documented: \(routes.subtracting(documented))")
            #expect(
                documented.subtracting(routes).isEmpty, "documented but not routed: \(documented.subtracting(routes))")
        }
    }
}
