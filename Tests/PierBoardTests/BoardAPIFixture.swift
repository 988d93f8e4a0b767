import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOCore
import PierBoard
import PierBoardStore
import PierTesting

/// A board API on a fresh database with a cast of users: two Supervisors (one a member of the board), three PICs
/// (the assignee of `task`, another member, and an outsider), tokens for each, and router-level requests.
struct APIWorld: Sendable {
    static let password = "correct horse battery"
    /// One bcrypt hash (cost 10) shared by every test user, computed once.
    static let passwordHash = Bcrypt.hash(password, cost: 10)

    let repository: SQLBoardRepository
    let api: BoardAPI
    let issuer: AccessTokenIssuer
    var supervisor: User
    var outsiderSupervisor: User
    var pic: User
    var otherPIC: User
    var outsiderPIC: User
    var board: Board
    /// Assigned to `pic`.
    var task: BoardTask
    /// Assigned to `otherPIC`.
    var otherTask: BoardTask

    func token(_ user: User) throws -> String {
        try issuer.issue(userID: user.id, role: user.role, sessionVersion: user.sessionVersion).token
    }

    static func with<Value: Sendable>(
        _ backend: StoreBackend = .sqlite,
        settings: BoardAPISettings = BoardAPISettings(),
        _ body: @Sendable (APIWorld, any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await BoardStoreFixture.withRepository(backend) { repository in
            let world = try await make(repository, settings: settings)
            let app = Application(router: world.api.router(), logger: quietLogger)
            return try await app.test(.router) { client in try await body(world, client) }
        }
    }

    static func make(_ repository: SQLBoardRepository, settings: BoardAPISettings) async throws -> APIWorld {
        let issuer = AccessTokenIssuer(signingKey: Curve25519.Signing.PrivateKey())
        let api = BoardAPI(
            repository: repository, tokens: issuer, passwords: PasswordHasher(cost: 10), settings: settings,
            logger: quietLogger)
        func user(_ email: String, _ name: String, _ role: UserRole) async throws -> User {
            try await repository.createUser(
                email: email, name: name, role: role, passwordHash: passwordHash, actorID: nil)
        }
        let supervisor = try await user("lead@example.com", "팀장 Kim", .supervisor)
        let outsiderSupervisor = try await user("other-lead@example.com", "Other Lead", .supervisor)
        let pic = try await user("pic@example.com", "담당자 Lee", .pic)
        let otherPIC = try await user("pic2@example.com", "Second PIC", .pic)
        let outsiderPIC = try await user("outsider@example.com", "Outsider", .pic)
        let board = try await repository.createBoard(name: "Launch", actorID: supervisor.id)
        try await repository.addMember(boardID: board.id, userID: pic.id, actorID: supervisor.id)
        try await repository.addMember(boardID: board.id, userID: otherPIC.id, actorID: supervisor.id)
        let task = try await repository.createTask(
            boardID: board.id, NewTask(title: "Write the launch post", assigneeID: pic.id), actorID: supervisor.id)
        let otherTask = try await repository.createTask(
            boardID: board.id, NewTask(title: "Book the venue", assigneeID: otherPIC.id), actorID: supervisor.id)
        return APIWorld(
            repository: repository, api: api, issuer: issuer, supervisor: supervisor,
            outsiderSupervisor: outsiderSupervisor, pic: pic, otherPIC: otherPIC, outsiderPIC: outsiderPIC,
            board: board, task: task, otherTask: otherTask)
    }
}

/// A logger that keeps metadata (request ids) but prints only critical messages.
let quietLogger: Logger = {
    var logger = Logger(label: "pier.test.board") { label in StreamLogHandler.standardError(label: label) }
    logger.logLevel = .critical
    return logger
}()

extension TestClientProtocol {
    /// One request: `json` is sent as `application/json`; `token` as a Bearer token.
    @discardableResult
    func call(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String? = nil,
        json: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(
            uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }
        ) { $0 }
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    var array: [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
    }

    /// The `code` of a problem document (and a check that it is one).
    var problemCode: String? {
        guard headers[.contentType] == "application/problem+json" else { return nil }
        return object["code"] as? String
    }

    var setCookies: [String] { headers[values: .setCookie] }
}
