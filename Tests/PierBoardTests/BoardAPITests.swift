import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import PierBoard
import PierBoardStore
import PierTesting
import PierTokens
import Testing

@Suite("Board API")
struct BoardAPITests {
    static let origin = HTTPField.Name("Origin")!
    static let cookie = HTTPField.Name("Cookie")!

    static func login(_ client: any TestClientProtocol, _ email: String, _ password: String = APIWorld.password)
        async throws -> TestResponse
    {
        try await client.call(.post, "/api/v1/auth/login", json: #"{"email":"\#(email)","password":"\#(password)"}"#)
    }

    @Test("sign-in returns both tokens in the body and as strict cookies; wrong or unknown credentials are 401")
    func login() async throws {
        try await APIWorld.with { world, client in
            let response = try await Self.login(client, "LEAD@example.com")
            #expect(response.status == .ok)
            let body = response.object
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["expires_in"] as? Int == 900)
            let access = try #require(body["access_token"] as? String)
            #expect(access.hasPrefix("v4.public."))
            #expect((body["refresh_token"] as? String)?.hasPrefix("pr1.") == true)
            #expect((body["user"] as? [String: Any])?["role"] as? String == "supervisor")
            #expect((body["user"] as? [String: Any])?["password_hash"] == nil)
            let cookies = response.setCookies
            #expect(cookies.count == 2)
            for cookie in cookies {
                #expect(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"))
            }
            #expect(cookies.contains { $0.hasPrefix("pier_access=\(access);") })

            let me = try await client.call(.get, "/api/v1/me", token: access)
            #expect(me.status == .ok)
            #expect(me.object["email"] as? String == "lead@example.com")
            #expect(me.object["name"] as? String == "팀장 Kim")

            let wrong = try await Self.login(client, "lead@example.com", "not the password")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.problemCode == "invalid_credentials")
            let unknown = try await Self.login(client, "nobody@example.com")
            #expect(unknown.status == .unauthorized)
            #expect(unknown.problemCode == "invalid_credentials")
            #expect(unknown.object["detail"] as? String == wrong.object["detail"] as? String)

            let publicKey = try await client.call(.get, "/api/v1/auth/public-key")
            #expect(publicKey.object["paserk"] as? String == PASERK.encode(world.issuer.publicKey))
        }
    }

    @Test("a password hashed at another cost is rehashed at the configured cost on sign-in")
    func rehash() async throws {
        try await APIWorld.with { world, client in
            let old = Bcrypt.hash(APIWorld.password, cost: 11)
            let user = try await world.repository.createUser(
                email: "old@example.com", name: "Old", role: .pic, passwordHash: old, actorID: nil)
            #expect(try await Self.login(client, "old@example.com").status == .ok)
            let stored = try #require(try await world.repository.user(id: user.id)?.passwordHash)
            #expect(stored.hasPrefix("$2b$10$"))
            #expect(try await Self.login(client, "old@example.com").status == .ok)
        }
    }

    @Test("failed sign-ins are throttled per account with 429 and Retry-After; a disabled account is refused")
    func throttling() async throws {
        try await APIWorld.with { world, client in
            for _ in 0..<5 {
                let response = try await Self.login(client, "pic@example.com", "wrong password!")
                #expect(response.status == .unauthorized)
            }
            let throttled = try await Self.login(client, "pic@example.com")
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.problemCode == "too_many_attempts")
            let retryAfter = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter >= 1 && retryAfter <= 30)
            // Another account from the same client is not affected.
            #expect(try await Self.login(client, "pic2@example.com").status == .ok)

            _ = try await world.repository.setUserDisabled(
                id: world.otherPIC.id, disabled: true, actorID: world.supervisor.id)
            // Even with the right password: a different answer would confirm a guessed password.
            let disabled = try await Self.login(client, "pic2@example.com")
            #expect(disabled.status == .unauthorized)
            #expect(disabled.problemCode == "invalid_credentials")
            // A token issued before the account was disabled stops working at once.
            let me = try await client.call(.get, "/api/v1/me", token: try world.token(world.otherPIC))
            #expect(me.status == .unauthorized)
        }
    }

    @Test("refresh rotates the token; presenting a used one revokes the session; logout ends it")
    func refresh() async throws {
        try await APIWorld.with { world, client in
            let first = try #require(try await Self.login(client, "pic@example.com").object["refresh_token"] as? String)
            let rotated = try await client.call(.post, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(first)"}"#)
            #expect(rotated.status == .ok)
            let second = try #require(rotated.object["refresh_token"] as? String)
            #expect(second != first)
            #expect(
                try await client.call(.get, "/api/v1/me", token: rotated.object["access_token"] as? String).status
                    == .ok)

            let reused = try await client.call(.post, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(first)"}"#)
            #expect(reused.status == .unauthorized)
            #expect(reused.problemCode == "refresh_token_reused")
            #expect(reused.setCookies.allSatisfy { $0.contains("Max-Age=0") })
            let afterReuse = try await client.call(
                .post, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(second)"}"#)
            #expect(afterReuse.problemCode == "invalid_refresh_token")

            // The cookie works too, with an Origin check.
            let login = try await Self.login(client, "pic@example.com")
            let cookieToken = try #require(login.object["refresh_token"] as? String)
            let noOrigin = try await client.call(
                .post, "/api/v1/auth/refresh", headers: [Self.cookie: "pier_refresh=\(cookieToken)"])
            #expect(noOrigin.problemCode == "origin_required")
            let viaCookie = try await client.call(
                .post, "/api/v1/auth/refresh",
                headers: [Self.cookie: "pier_refresh=\(cookieToken)", Self.origin: "http://localhost"])
            #expect(viaCookie.status == .ok)
            let latest = try #require(viaCookie.object["refresh_token"] as? String)
            let logout = try await client.call(.post, "/api/v1/auth/logout", json: #"{"refresh_token":"\#(latest)"}"#)
            #expect(logout.status == .noContent)
            let afterLogout = try await client.call(
                .post, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(latest)"}"#)
            #expect(afterLogout.problemCode == "invalid_refresh_token")
        }
    }

    @Test("tokens: expired, tampered, signed by another key and malformed headers are all 401")
    func tokens() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.pic)
            var tampered = Array(token)
            let index = tampered.count - 10
            tampered[index] = tampered[index] == "A" ? "B" : "A"
            #expect(try await client.call(.get, "/api/v1/me", token: String(tampered)).problemCode == "unauthenticated")
            let stranger = AccessTokenIssuer(signingKey: .init())
            let foreign = try stranger.issue(userID: world.pic.id, role: .supervisor).token
            #expect(try await client.call(.get, "/api/v1/me", token: foreign).status == .unauthorized)
            let past = AccessTokenIssuer(signingKey: world.issuer.signingKey!, clock: { 1_000_000 })
            let expired = try past.issue(userID: world.pic.id, role: .pic).token
            #expect(try await client.call(.get, "/api/v1/me", token: expired).problemCode == "token_expired")
            let basic = try await client.call(.get, "/api/v1/me", headers: [.authorization: "Basic abc"])
            #expect(basic.status == .unauthorized)
            #expect(basic.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test("cookie-authenticated changes need the board's own or an allowed Origin; Bearer requests do not")
    func originCheck() async throws {
        try await APIWorld.with(settings: BoardAPISettings(allowedOrigins: ["https://app.example.com"])) {
            world, client in
            let access = try world.token(world.supervisor)
            let cookie: HTTPFields = [Self.cookie: "pier_access=\(access)", .contentType: "application/json"]
            #expect(try await client.call(.get, "/api/v1/boards", headers: cookie).status == .ok)
            let body = #"{"name":"Cookie board"}"#
            let none = try await client.call(.post, "/api/v1/boards", json: body, headers: cookie)
            #expect(none.status == .forbidden)
            #expect(none.problemCode == "origin_required")
            var evil = cookie
            evil[Self.origin] = "https://evil.example"
            #expect(
                try await client.call(.post, "/api/v1/boards", json: body, headers: evil).problemCode
                    == "origin_refused")
            var own = cookie
            own[Self.origin] = "http://localhost"
            #expect(try await client.call(.post, "/api/v1/boards", json: body, headers: own).status == .created)
            var allowed = cookie
            allowed[Self.origin] = "https://app.example.com"
            #expect(try await client.call(.post, "/api/v1/boards", json: body, headers: allowed).status == .created)
            #expect(try await client.call(.post, "/api/v1/boards", token: access, json: body).status == .created)
            let crossLogin = try await client.call(
                .post, "/api/v1/auth/login", json: #"{"email":"lead@example.com","password":"\#(APIWorld.password)"}"#,
                headers: [Self.origin: "https://evil.example"])
            #expect(crossLogin.problemCode == "origin_refused")
        }
    }

    @Test("bad input is a 4xx problem document naming the field, never a 500")
    func validation() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let tasks = "/api/v1/boards/\(world.board.id)/tasks"
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"title":"x","colour":"red"}"#, .badRequest, "unknown_field"),
                (#"{"title":"#, .badRequest, "malformed_json"),
                (#"["title"]"#, .badRequest, "malformed_json"),
                (#"{"content":"no title"}"#, .badRequest, "missing_field"),
                (#"{"title":"   "}"#, .badRequest, "invalid_field"),
                (#"{"title":42}"#, .badRequest, "invalid_field"),
                (#"{"title":"\#(String(repeating: "가", count: 201))"}"#, .badRequest, "invalid_field"),
                (#"{"title":"t","due_at":"tomorrow"}"#, .badRequest, "invalid_field"),
                (#"{"title":"t","due_time_zone":"Mars/Base"}"#, .badRequest, "invalid_field"),
                (#"{"title":"t","labels":[1]}"#, .badRequest, "invalid_field"),
                (#"{"title":"t","column_id":"nope"}"#, .badRequest, "invalid_request"),
                (#"{"title":"t","assignee_id":"\#(world.outsiderPIC.id)"}"#, .badRequest, "invalid_request"),
            ]
            for (body, status, code) in cases {
                let response = try await client.call(.post, tasks, token: token, json: body)
                #expect(response.status == status, "\(body): \(response.text)")
                #expect(response.problemCode == code, "\(body): \(response.text)")
            }
            let wrongType = try await client.call(
                .post, tasks, token: token, json: #"{"title":"t"}"#, headers: [.contentType: "text/plain"])
            #expect(wrongType.status == .unsupportedMediaType)
            let huge = try await client.call(
                .post, tasks, token: token, json: #"{"title":"\#(String(repeating: "x", count: 300_000))"}"#)
            #expect(huge.status == .contentTooLarge)
            #expect(huge.problemCode == "body_too_large")
            for contentType in [";", "", " ; charset=utf-8"] {
                let odd = try await client.call(
                    .post, tasks, token: token, json: #"{"title":"t"}"#, headers: [.contentType: contentType])
                #expect(odd.status == .unsupportedMediaType, "Content-Type \(contentType)")
            }
            let nul = try await client.call(.get, tasks + "?q=%00", token: token)
            #expect(nul.problemCode == "invalid_parameter")
            let marks = String(repeating: "\u{301}", count: 300)
            let combining = try await client.call(.post, tasks, token: token, json: #"{"title":"a\#(marks)"}"#)
            #expect(combining.problemCode == "invalid_field")
            let unknownParameter = try await client.call(.get, tasks + "?colour=red", token: token)
            #expect(unknownParameter.problemCode == "unknown_parameter")
            let badLimit = try await client.call(.get, tasks + "?limit=0", token: token)
            #expect(badLimit.problemCode == "invalid_parameter")
            let badCursor = try await client.call(.get, tasks + "?cursor=garbage", token: token)
            #expect(badCursor.status == .badRequest)
            let noRoute = try await client.call(.get, "/api/v1/nothing-here", token: token)
            #expect(noRoute.status == .notFound)
            #expect(noRoute.problemCode == "no_route")
            #expect(try await client.call(.get, "/api/v1/tasks/not-an-id", token: token).problemCode == "not_found")
        }
    }

    @Test(
        "task lifecycle: create, ETag, PATCH with If-Match, 409 with the current task, 428 without a version",
        arguments: StoreBackend.available)
    func taskLifecycle(backend: StoreBackend) async throws {
        try await APIWorld.with(backend) { world, client in
            let token = try world.token(world.supervisor)
            let created = try await client.call(
                .post, "/api/v1/boards/\(world.board.id)/tasks", token: token,
                json: #"""
                    {"title":"출시 공지 작성","content":"**draft**","assignee_id":"\#(world.pic.id)",
                     "due_at":"2030-01-15T18:00:00+09:00","due_time_zone":"Asia/Seoul","labels":["launch","copy"]}
                    """#)
            #expect(created.status == .created, "\(created.text)")
            let task = created.object
            let id = try #require(task["id"] as? String)
            #expect(task["due_at"] as? String == "2030-01-15T09:00:00.000Z")
            #expect(task["labels"] as? [String] == ["copy", "launch"])
            #expect(created.headers[.location] == "/api/v1/tasks/\(id)")

            let fetched = try await client.call(.get, "/api/v1/tasks/\(id)", token: token)
            let eTag = try #require(fetched.headers[.eTag])
            #expect(eTag == "\"1\"")

            let missingVersion = try await client.call(
                .patch, "/api/v1/tasks/\(id)", token: token, json: #"{"title":"x"}"#)
            #expect(missingVersion.status == .preconditionRequired)
            #expect(missingVersion.problemCode == "version_required")

            let patched = try await client.call(
                .patch, "/api/v1/tasks/\(id)", token: token, json: #"{"title":"출시 공지 v2","due_at":null}"#,
                headers: [.ifMatch: eTag])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.object["version"] as? Int == 2)
            #expect(patched.object["due_at"] is NSNull)

            let stale = try await client.call(
                .patch, "/api/v1/tasks/\(id)", token: token, json: #"{"title":"lost update"}"#,
                headers: [.ifMatch: eTag])
            #expect(stale.status == .conflict)
            #expect(stale.problemCode == "version_conflict")
            #expect(stale.object["current_version"] as? Int == 2)
            #expect((stale.object["current_task"] as? [String: Any])?["title"] as? String == "출시 공지 v2")

            let byField = try await client.call(
                .patch, "/api/v1/tasks/\(id)", token: token, json: #"{"labels":["launch"],"version":2}"#)
            #expect(byField.status == .ok)

            let done = try #require(world.board.columns.last)
            let moved = try await client.call(
                .post, "/api/v1/tasks/\(id)/move", token: token, json: #"{"column_id":"\#(done.id)"}"#)
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.object["column_id"] as? String == done.id)

            let comment = try await client.call(
                .post, "/api/v1/tasks/\(id)/comments", token: try world.token(world.pic), json: #"{"body":"확인했습니다"}"#)
            #expect(comment.status == .created)
            let comments = try await client.call(.get, "/api/v1/tasks/\(id)/comments", token: token)
            #expect(comments.array.map { $0["body"] as? String } == ["확인했습니다"])

            let history = try await client.call(.get, "/api/v1/tasks/\(id)/history", token: token).array
            let fields = history.compactMap { $0["field"] as? String }
            #expect(history.first?["action"] as? String == "task.created")
            #expect(fields.contains("title") && fields.contains("due_at") && fields.contains("labels"))
            #expect(history.contains { $0["action"] as? String == "task.moved" })
            #expect(history.contains { $0["action"] as? String == "comment.added" })
            let dueChange = try #require(history.first { $0["field"] as? String == "due_at" })
            #expect(dueChange["old_value"] as? String == "2030-01-15T09:00:00.000Z")

            let deleted = try await client.call(.delete, "/api/v1/tasks/\(id)", token: token)
            #expect(deleted.status == .noContent)
            #expect(try await client.call(.get, "/api/v1/tasks/\(id)", token: token).status == .notFound)
        }
    }

    @Test("listing: filters, assignee=me, overdue, text search and keyset pages", arguments: StoreBackend.available)
    func listing(backend: StoreBackend) async throws {
        try await APIWorld.with(backend) { world, client in
            let token = try world.token(world.supervisor)
            let base = "/api/v1/boards/\(world.board.id)/tasks"
            for index in 0..<5 {
                let created = try await client.call(
                    .post, base, token: token,
                    json: #"{"title":"Item \#(index)","labels":["batch"],"due_at":"2020-01-0\#(index + 1)T00:00:00Z"}"#)
                #expect(created.status == .created)
            }
            let all = try await client.call(.get, base, token: token).object
            #expect((all["tasks"] as? [Any])?.count == 7)
            #expect(all["next_cursor"] is NSNull)

            let mine = try await client.call(.get, base + "?assignee=me", token: try world.token(world.pic)).object
            #expect((mine["tasks"] as? [[String: Any]])?.map { $0["id"] as? String } == [world.task.id])
            let labelled = try await client.call(.get, base + "?label=batch", token: token).object
            #expect((labelled["tasks"] as? [Any])?.count == 5)
            let overdue = try await client.call(.get, base + "?overdue=true", token: token).object
            #expect((overdue["tasks"] as? [Any])?.count == 5)
            let search = try await client.call(.get, base + "?q=VENUE", token: token).object
            #expect((search["tasks"] as? [[String: Any]])?.first?["id"] as? String == world.otherTask.id)
            // A form-style query: + is a space.
            let phrase = try await client.call(.get, base + "?q=the+VENUE", token: token).object
            #expect((phrase["tasks"] as? [[String: Any]])?.map { $0["id"] as? String } == [world.otherTask.id])
            let before = try await client.call(
                .get, base + "?due_before=2020-01-03T00:00:00%2B00:00", token: token
            ).object
            #expect((before["tasks"] as? [Any])?.count == 2)

            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "?limit=3&cursor=\($0)" } ?? "?limit=3"
                let page = try await client.call(.get, base + query, token: token).object
                seen += (page["tasks"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(seen.count == 7)
            #expect(Set(seen).count == 7)
        }
    }

    @Test(
        "the inbox: unread first with a count, names as they were, marked read one by one or all; nobody reads another's"
    )
    func inbox() async throws {
        try await APIWorld.with { world, client in
            let store = SQLNotificationStore(database: world.repository.database)
            _ = try await store.expandOutbox(limit: 100, email: false)
            let token = try world.token(world.pic)
            let listed = try await client.call(.get, "/api/v1/me/notifications", token: token)
            #expect(listed.status == .ok, "\(listed.text)")
            #expect(listed.object["unread_count"] as? Int == 1)
            let items = try #require(listed.object["items"] as? [[String: Any]])
            let item = try #require(items.first)
            #expect(items.count == 1)
            #expect(item["event"] as? String == "task.assigned")
            #expect(item["task_id"] as? String == world.task.id)
            #expect(item["title"] as? String == world.task.title)
            #expect(item["actor_name"] as? String == world.supervisor.name)
            #expect(item["board_name"] as? String == world.board.name)
            #expect(item["read_at"] is NSNull)
            let id = try #require(item["id"] as? String)

            let other = try world.token(world.otherPIC)
            #expect(
                try await client.call(.post, "/api/v1/me/notifications/\(id)/read", token: other).status == .notFound)
            #expect(
                try await client.call(.post, "/api/v1/me/notifications/\(id)/read", token: token).status == .noContent)
            let after = try await client.call(.get, "/api/v1/me/notifications", token: token)
            #expect(after.object["unread_count"] as? Int == 0)
            #expect(((after.object["items"] as? [[String: Any]])?.first?["read_at"]) is String)
            let unreadOnly = try await client.call(.get, "/api/v1/me/notifications?unread=true", token: token)
            #expect((unreadOnly.object["items"] as? [[String: Any]])?.isEmpty == true)

            #expect(
                try await client.call(.get, "/api/v1/me/notifications", token: other).object["unread_count"] as? Int
                    == 1)
            #expect(
                try await client.call(.post, "/api/v1/me/notifications/read-all", token: other).status == .noContent)
            #expect(
                try await client.call(.get, "/api/v1/me/notifications", token: other).object["unread_count"] as? Int
                    == 0)
            #expect(
                try await client.call(.get, "/api/v1/me/notifications?unread=maybe", token: token).problemCode
                    == "invalid_parameter")
        }
    }

    @Test("deliveries: Supervisors list them by state and put a dead letter back in the queue, once")
    func deliveries() async throws {
        try await APIWorld.with { world, client in
            let store = SQLNotificationStore(database: world.repository.database)
            _ = try await store.expandOutbox(limit: 100, email: true)
            let claimed = try await store.claimDue(limit: 100, lease: 60_000)
            let dead = try #require(claimed.first)
            try await store.settle(dead.id, .dead(detail: "recipient: 550 5.1.1 no such mailbox"))
            let token = try world.token(world.supervisor)

            let listed = try await client.call(.get, "/api/v1/deliveries?state=dead", token: token)
            #expect(listed.status == .ok, "\(listed.text)")
            let items = try #require(try JSONSerialization.jsonObject(with: Data(listed.text.utf8)) as? [[String: Any]])
            #expect(items.map { $0["id"] as? String } == [dead.id])
            #expect(items.first?["state"] as? String == "dead")
            #expect(items.first?["channel"] as? String == "email")
            #expect(items.first?["attempts"] as? Int == 1)
            #expect((items.first?["last_error"] as? String)?.contains("550") == true)
            #expect(items.first?["finished_at"] is String)

            let retried = try await client.call(.post, "/api/v1/deliveries/\(dead.id)/retry", token: token)
            #expect(retried.status == .noContent)
            let again = try await client.call(.post, "/api/v1/deliveries/\(dead.id)/retry", token: token)
            #expect(again.status == .conflict)
            #expect(again.problemCode == "not_dead")
            let pending = try await client.call(.get, "/api/v1/deliveries?state=pending&limit=500", token: token)
            #expect(pending.text.contains(dead.id))
            #expect(
                try await client.call(.get, "/api/v1/deliveries?state=lost", token: token).problemCode
                    == "invalid_parameter")
            #expect(
                try await client.call(.get, "/api/v1/deliveries?limit=0", token: token).problemCode
                    == "invalid_parameter")
            #expect(
                try await client.call(.get, "/api/v1/deliveries", token: try world.token(world.pic)).status
                    == .forbidden)
        }
    }

    @Test("PATCH /me sets the language one's email is written in (ko, en or null); anything else is a 400 problem")
    func ownLanguage() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.pic)
            let before = try await client.call(.get, "/api/v1/me", token: token)
            #expect(before.object.keys.contains("language"))
            #expect(before.object["language"] is NSNull)
            let korean = try await client.call(.patch, "/api/v1/me", token: token, json: #"{"language":"ko"}"#)
            #expect(korean.status == .ok, "\(korean.text)")
            #expect(korean.object["language"] as? String == "ko")
            #expect(try await client.call(.get, "/api/v1/me", token: token).object["language"] as? String == "ko")
            let cleared = try await client.call(.patch, "/api/v1/me", token: token, json: #"{"language":null}"#)
            #expect(cleared.object["language"] is NSNull)
            for body in [#"{"language":"fr"}"#, #"{"language":1}"#, #"{}"#, #"{"language":"ko","role":"supervisor"}"#] {
                let refused = try await client.call(.patch, "/api/v1/me", token: token, json: body)
                #expect(refused.status == .badRequest, "\(body): \(refused.text)")
                #expect(refused.headers[.contentType] == "application/problem+json")
            }
            #expect(try await client.call(.get, "/api/v1/me", token: token).object["role"] as? String == "pic")
        }
    }

    @Test("users: a Supervisor creates (with a generated password shown once), disables and resets passwords")
    func users() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let created = try await client.call(
                .post, "/api/v1/users", token: token,
                json: #"{"email":"new@example.com","name":"신입 Park","role":"pic"}"#)
            #expect(created.status == .created, "\(created.text)")
            let password = try #require(created.object["password"] as? String)
            #expect(password.count == 20)
            let id = try #require((created.object["user"] as? [String: Any])?["id"] as? String)
            #expect(try await Self.login(client, "new@example.com", password).status == .ok)

            let duplicate = try await client.call(
                .post, "/api/v1/users", token: token, json: #"{"email":"NEW@example.com","name":"Again","role":"pic"}"#)
            #expect(duplicate.status == .conflict)
            #expect(duplicate.problemCode == "duplicate")
            let weak = try await client.call(
                .post, "/api/v1/users", token: token,
                json: #"{"email":"weak@example.com","name":"W","role":"pic","password":"short"}"#)
            #expect(weak.problemCode == "invalid_field")

            let reset = try await client.call(.post, "/api/v1/users/\(id)/password", token: token)
            let newPassword = try #require(reset.object["password"] as? String)
            #expect(try await Self.login(client, "new@example.com", password).status == .unauthorized)
            #expect(try await Self.login(client, "new@example.com", newPassword).status == .ok)

            let ownReset = try await client.call(
                .post, "/api/v1/users/\(world.supervisor.id)/password", token: token,
                json: #"{"password":"a new password of mine"}"#)
            #expect(ownReset.status == .conflict)
            #expect(ownReset.problemCode == "cannot_reset_own_password")
            #expect(try await Self.login(client, "lead@example.com").status == .ok)
            #expect(try await Self.login(client, "lead@example.com", "a new password of mine").status == .unauthorized)

            let disabled = try await client.call(
                .patch, "/api/v1/users/\(id)", token: token, json: #"{"disabled":true}"#)
            #expect(disabled.object["disabled"] as? Bool == true)
            let selfDisable = try await client.call(
                .patch, "/api/v1/users/\(world.supervisor.id)", token: token, json: #"{"disabled":true}"#)
            #expect(selfDisable.problemCode == "cannot_disable_self")
            let notBool = try await client.call(
                .patch, "/api/v1/users/\(id)", token: token, json: #"{"disabled":1}"#)
            #expect(notBool.problemCode == "invalid_field")

            let own = try await client.call(
                .post, "/api/v1/me/password", token: try world.token(world.pic),
                json: #"{"current_password":"\#(APIWorld.password)","new_password":"a much better password"}"#)
            #expect(own.status == .noContent)
            #expect(try await Self.login(client, "pic@example.com", "a much better password").status == .ok)
        }
    }

    @Test(
        "X-Forwarded-For is believed only with the edge's proxy secret: without it, one peer is one address",
        arguments: [nil, "wrong secret", "the secret"])
    func proxySecret(presented: String?) async throws {
        let settings = BoardAPISettings(proxySecret: "the secret")
        try await APIWorld.with(settings: settings) { _, client in
            func attempt(_ index: Int) async throws -> TestResponse {
                var headers: HTTPFields = [HTTPField.Name("X-Forwarded-For")!: "203.0.113.\(index)"]
                if let presented { headers[HTTPField.Name(BoardAPISettings.proxySecretField)!] = presented }
                return try await client.call(
                    .post, "/api/v1/auth/login", json: #"{"email":"nobody\#(index)@example.com","password":"wrong"}"#,
                    headers: headers)
            }
            for index in 0..<30 { #expect(try await attempt(index).status == .unauthorized) }
            let next = try await attempt(30)
            #expect(next.status == (presented == "the secret" ? .unauthorized : .tooManyRequests))
        }
    }

    @Test("sign-out, a password reset and disabling end the account's access tokens at once; other sessions refresh")
    func revocation() async throws {
        try await APIWorld.with { world, client in
            func session() async throws -> (access: String, refresh: String) {
                let login = try await Self.login(client, "pic@example.com")
                return (
                    try #require(login.object["access_token"] as? String),
                    try #require(login.object["refresh_token"] as? String)
                )
            }
            func works(_ token: String) async throws -> Bool {
                try await client.call(.get, "/api/v1/me", token: token).status == .ok
            }
            let laptop = try await session()
            let phone = try await session()
            #expect(try await works(laptop.access))
            #expect(try await works(phone.access))
            let signedOut = try await client.call(
                .post, "/api/v1/auth/logout", json: #"{"refresh_token":"\#(laptop.refresh)"}"#)
            #expect(signedOut.status == .noContent)
            #expect(try await !works(laptop.access))
            #expect(try await !works(phone.access))
            let refreshed = try await client.call(
                .post, "/api/v1/auth/refresh", json: #"{"refresh_token":"\#(phone.refresh)"}"#)
            #expect(refreshed.status == .ok)
            let phoneAccess = try #require(refreshed.object["access_token"] as? String)
            #expect(try await works(phoneAccess))

            let supervisor = try world.token(world.supervisor)
            let reset = try await client.call(
                .post, "/api/v1/users/\(world.pic.id)/password", token: supervisor,
                json: #"{"password":"\#(APIWorld.password)"}"#)
            #expect(reset.status == .noContent)
            #expect(try await !works(phoneAccess))

            let afterReset = try await session()
            #expect(try await works(afterReset.access))
            let disabled = try await client.call(
                .patch, "/api/v1/users/\(world.pic.id)", token: supervisor, json: #"{"disabled":true}"#)
            #expect(disabled.status == .ok)
            let enabled = try await client.call(
                .patch, "/api/v1/users/\(world.pic.id)", token: supervisor, json: #"{"disabled":false}"#)
            #expect(enabled.status == .ok)
            #expect(try await !works(afterReset.access))
        }
    }

    @Test("a method a path does not support is 405 with Allow as a problem document; an unknown path stays 404")
    func methodNotAllowed() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.delete, "/api/v1/me", "GET, PATCH"),
                (.put, "/api/v1/users/\(world.pic.id)", "PATCH"),
                (.get, "/api/v1/auth/login", "POST"),
                (.put, "/api/v1/tasks/\(world.task.id)", "DELETE, GET, PATCH"),
            ]
            for (method, path, allow) in cases {
                let response = try await client.call(method, path, token: token)
                #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                #expect(response.headers[.allow] == allow, "\(method) \(path)")
                #expect(response.problemCode == "method_not_allowed")
            }
            let unknown = try await client.call(.get, "/api/v1/nothing/here", token: token)
            #expect(unknown.status == .notFound)
            #expect(unknown.problemCode == "no_route")
        }
    }

    @Test("null is refused where the schema says string (or boolean, integer, array), and accepted where it allows it")
    func nulls() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let reset = try await client.call(
                .post, "/api/v1/users/\(world.pic.id)/password", token: token, json: #"{"password":null}"#)
            #expect(reset.status == .badRequest)
            #expect(reset.problemCode == "invalid_field")
            #expect(reset.object["password"] == nil)
            #expect(try await Self.login(client, "pic@example.com").status == .ok)
            let refused: [(HTTPRequest.Method, String, String)] = [
                (.post, "/api/v1/users", #"{"email":"n@example.com","name":"N","role":"pic","password":null}"#),
                (.patch, "/api/v1/users/\(world.pic.id)", #"{"disabled":null}"#),
                (.patch, "/api/v1/tasks/\(world.task.id)", #"{"version":\#(world.task.version),"title":null}"#),
                (.patch, "/api/v1/tasks/\(world.task.id)", #"{"version":\#(world.task.version),"labels":null}"#),
                (.patch, "/api/v1/tasks/\(world.task.id)", #"{"version":null,"title":"x"}"#),
                (.post, "/api/v1/boards/\(world.board.id)/tasks", #"{"title":"t","content":null}"#),
            ]
            for (method, path, json) in refused {
                let response = try await client.call(method, path, token: token, json: json)
                #expect(response.status == .badRequest, "\(method) \(path) \(json): \(response.text)")
            }
            let created = try await client.call(
                .post, "/api/v1/boards/\(world.board.id)/tasks", token: token,
                json: #"{"title":"t","assignee_id":null,"due_at":null,"due_time_zone":null}"#)
            #expect(created.status == .created, "\(created.text)")
            let cleared = try await client.call(
                .patch, "/api/v1/tasks/\(world.task.id)", token: token,
                json: #"{"version":\#(world.task.version),"assignee_id":null}"#)
            #expect(cleared.status == .ok, "\(cleared.text)")
        }
    }

    @Test("a password longer than 72 bytes is refused at sign-in, even when its first 72 bytes are the password")
    func overlongSignIn() async throws {
        try await APIWorld.with { world, client in
            // 70 bytes of ASCII and one two-byte character: 72 bytes, the most bcrypt reads.
            let password = String(repeating: "p", count: 70) + "é"
            let created = try await client.call(
                .post, "/api/v1/users", token: try world.token(world.supervisor),
                json: #"{"email":"long@example.com","name":"Long","role":"pic","password":"\#(password)"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(try await Self.login(client, "long@example.com", password).status == .ok)
            for overlong in [password + "x", password + "é"] {
                let refused = try await Self.login(client, "long@example.com", overlong)
                #expect(refused.status == .badRequest)
                #expect(refused.problemCode == "invalid_field")
            }
            let current = APIWorld.password + String(repeating: "!", count: 60)
            let own = try await client.call(
                .post, "/api/v1/me/password", token: try world.token(world.pic),
                json: #"{"current_password":"\#(current)","new_password":"another good password"}"#)
            #expect(own.problemCode == "invalid_field")
        }
    }

    @Test("members: a Supervisor removes one; refusals are 409 problems with the rule as their code")
    func memberRemoval() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let path = "/api/v1/boards/\(world.board.id)/members/"
            let busy = try await client.call(.delete, path + world.pic.id, token: token)
            #expect(busy.status == .conflict)
            #expect(busy.problemCode == "member_has_tasks")
            let last = try await client.call(.delete, path + world.supervisor.id, token: token)
            #expect(last.problemCode == "last_supervisor")
            let malformed = try await client.call(.delete, path + "not-an-id", token: token)
            #expect(malformed.status == .notFound)
            let outsider = try await client.call(.delete, path + world.outsiderPIC.id, token: token)
            #expect(outsider.status == .notFound)

            // Once their task is reassigned, the PIC can be removed and loses the board at once.
            let reassigned = try await client.call(
                .patch, "/api/v1/tasks/\(world.task.id)", token: token,
                json: #"{"assignee_id":null,"version":\#(world.task.version)}"#)
            #expect(reassigned.status == .ok, "\(reassigned.text)")
            let removed = try await client.call(.delete, path + world.pic.id, token: token)
            #expect(removed.status == .noContent)
            let gone = try await client.call(
                .get, "/api/v1/boards/\(world.board.id)", token: try world.token(world.pic))
            #expect(gone.status == .notFound)
            let members = try await client.call(.get, "/api/v1/boards/\(world.board.id)/members", token: token)
            #expect(!members.text.contains(world.pic.id))
        }
    }

    @Test("columns: add, rename, move and delete through the API, with problems for bad input and refusals")
    func columns() async throws {
        try await APIWorld.with { world, client in
            let token = try world.token(world.supervisor)
            let created = try await client.call(
                .post, "/api/v1/boards/\(world.board.id)/columns", token: token, json: #"{"name":"  Blocked  "}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.object["name"] as? String == "Blocked")
            #expect(created.object["position"] as? Int == 4)
            #expect(created.object["is_done"] as? Bool == false)
            let id = try #require(created.object["id"] as? String)

            let moved = try await client.call(
                .patch, "/api/v1/columns/\(id)", token: token, json: #"{"name":"On hold","position":0}"#)
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.object["position"] as? Int == 0)
            let board = try await client.call(.get, "/api/v1/boards/\(world.board.id)", token: token)
            let names = (board.object["columns"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["On hold", "To do", "In progress", "Review", "Done"])

            for (json, code) in [
                (#"{"name":""}"#, "invalid_field"),
                (#"{"name":"\#(String(repeating: "x", count: 51))"}"#, "invalid_field"),
                (#"{"position":20}"#, "invalid_field"), (#"{"colour":"red"}"#, "unknown_field"),
                (#"{"name":"done"}"#, "duplicate"),
            ] {
                let refused = try await client.call(.patch, "/api/v1/columns/\(id)", token: token, json: json)
                #expect(refused.problemCode == code, "\(json): \(refused.text)")
            }
            // The task of the fixture is in the first default column.
            let occupied = try #require(world.task.columnID as String?)
            let notEmpty = try await client.call(.delete, "/api/v1/columns/\(occupied)", token: token)
            #expect(notEmpty.status == .conflict)
            #expect(notEmpty.problemCode == "column_not_empty")
            let deleted = try await client.call(.delete, "/api/v1/columns/\(id)", token: token)
            #expect(deleted.status == .noContent)
            let again = try await client.call(.delete, "/api/v1/columns/\(id)", token: token)
            #expect(again.status == .notFound)
        }
    }

    @Test("concurrent PATCHes of one version: exactly one wins, the others get 409", arguments: StoreBackend.available)
    func concurrentPatches(backend: StoreBackend) async throws {
        try await APIWorld.with(backend) { world, client in
            let token = try world.token(world.supervisor)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await client.call(
                            .patch, "/api/v1/tasks/\(world.task.id)", token: token,
                            json: #"{"title":"writer \#(index)","version":1}"#
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 7)
            let final = try await world.repository.task(id: world.task.id)
            #expect(final?.version == 2)
        }
    }
}
