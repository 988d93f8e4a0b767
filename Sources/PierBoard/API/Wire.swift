import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PierBoardStore

/// Times on the wire: RFC 3339 in UTC with milliseconds (`2026-11-22T09:30:00.000Z`); any RFC 3339 offset is
/// accepted on input.
enum WireTime {
    static func format(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func parse(_ text: String) -> Int64? {
        guard text.count <= 40 else { return nil }
        let date =
            (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
        guard let date, date.timeIntervalSince1970.isFinite else { return nil }
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        // Years 1970 to 9999 only: nothing a task board needs lies outside them.
        guard milliseconds >= 0, milliseconds < 253_402_300_800_000 else { return nil }
        return Int64(milliseconds)
    }
}

struct UserOut: Encodable {
    var id: String
    var email: String
    var name: String
    var role: String
    var disabled: Bool
    var createdAt: String

    init(_ user: User) {
        id = user.id
        email = user.email
        name = user.name
        role = user.role.rawValue
        disabled = user.disabled
        createdAt = WireTime.format(user.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, email, name, role, disabled
        case createdAt = "created_at"
    }
}

struct ColumnOut: Encodable {
    var id: String
    var name: String
    var position: Int
    var isDone: Bool

    enum CodingKeys: String, CodingKey {
        case id, name, position
        case isDone = "is_done"
    }
}

struct BoardOut: Encodable {
    var id: String
    var name: String
    var createdBy: String
    var createdAt: String
    var columns: [ColumnOut]

    init(_ board: Board) {
        id = board.id
        name = board.name
        createdBy = board.createdBy
        createdAt = WireTime.format(board.createdAt)
        columns = board.columns.sorted { $0.position < $1.position }.map {
            ColumnOut(id: $0.id, name: $0.name, position: $0.position, isDone: $0.isDone)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, name, columns
        case createdBy = "created_by"
        case createdAt = "created_at"
    }
}

struct TaskOut: Encodable {
    var id: String
    var boardID: String
    var columnID: String
    var title: String
    var content: String
    var assigneeID: String?
    var dueAt: String?
    var dueTimeZone: String?
    var labels: [String]
    var position: Double
    var version: Int64
    var createdBy: String
    var createdAt: String
    var updatedAt: String

    init(_ task: BoardTask) {
        id = task.id
        boardID = task.boardID
        columnID = task.columnID
        title = task.title
        content = task.content
        assigneeID = task.assigneeID
        dueAt = task.dueAt.map(WireTime.format)
        dueTimeZone = task.dueTimeZone
        labels = task.labels
        position = task.position
        version = task.version
        createdBy = task.createdBy
        createdAt = WireTime.format(task.createdAt)
        updatedAt = WireTime.format(task.updatedAt)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(boardID, forKey: .boardID)
        try container.encode(columnID, forKey: .columnID)
        try container.encode(title, forKey: .title)
        try container.encode(content, forKey: .content)
        // Absent values are sent as null, so clients see every field.
        try container.encode(assigneeID, forKey: .assigneeID)
        try container.encode(dueAt, forKey: .dueAt)
        try container.encode(dueTimeZone, forKey: .dueTimeZone)
        try container.encode(labels, forKey: .labels)
        try container.encode(position, forKey: .position)
        try container.encode(version, forKey: .version)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, title, content, labels, position, version
        case boardID = "board_id"
        case columnID = "column_id"
        case assigneeID = "assignee_id"
        case dueAt = "due_at"
        case dueTimeZone = "due_time_zone"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

struct TaskPageOut: Encodable {
    var tasks: [TaskOut]
    var nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tasks, forKey: .tasks)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey {
        case tasks
        case nextCursor = "next_cursor"
    }
}

struct CommentOut: Encodable {
    var id: String
    var taskID: String
    var authorID: String
    var body: String
    var createdAt: String

    init(_ comment: TaskComment) {
        id = comment.id
        taskID = comment.taskID
        authorID = comment.authorID
        body = comment.body
        createdAt = WireTime.format(comment.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, body
        case taskID = "task_id"
        case authorID = "author_id"
        case createdAt = "created_at"
    }
}

struct HistoryOut: Encodable {
    var id: String
    var taskID: String?
    var actorID: String
    var action: String
    var field: String?
    var oldValue: String?
    var newValue: String?
    var at: String

    init(_ event: AuditEvent) {
        id = event.id
        taskID = event.taskID
        actorID = event.actorID
        action = event.action
        field = event.field
        if event.field == "due_at" {
            oldValue = event.oldValue.flatMap { Int64($0) }.map(WireTime.format)
            newValue = event.newValue.flatMap { Int64($0) }.map(WireTime.format)
        } else {
            oldValue = event.oldValue
            newValue = event.newValue
        }
        at = WireTime.format(event.at)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(taskID, forKey: .taskID)
        try container.encode(actorID, forKey: .actorID)
        try container.encode(action, forKey: .action)
        try container.encode(field, forKey: .field)
        try container.encode(oldValue, forKey: .oldValue)
        try container.encode(newValue, forKey: .newValue)
        try container.encode(at, forKey: .at)
    }

    enum CodingKeys: String, CodingKey {
        case id, action, field, at
        case taskID = "task_id"
        case actorID = "actor_id"
        case oldValue = "old_value"
        case newValue = "new_value"
    }
}

struct TokensOut: Encodable {
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    var expiresIn: Int64
    var user: UserOut

    enum CodingKeys: String, CodingKey {
        case user
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
    }
}

struct CreatedUserOut: Encodable {
    var user: UserOut
    /// Present only when the server generated the password; shown this once.
    var password: String?
}

struct PasswordOut: Encodable {
    var password: String
}

extension Response {
    /// A JSON response that is never cached.
    static func json(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func noContent(headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.cacheControl] = "no-store"
        return Response(status: .noContent, headers: headers)
    }
}
