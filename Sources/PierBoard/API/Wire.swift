import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PierBoardStore
import PierCore

/// Times on the wire: RFC 3339 in UTC with milliseconds (`2026-11-22T09:30:00.000Z`); any RFC 3339 offset is
/// accepted on input.
enum WireTime {
    /// Formats epoch milliseconds without a calendar object (days to civil date, proleptic Gregorian), because a
    /// page of tasks formats hundreds of times.
    static func format(_ milliseconds: Int64) -> String {
        let totalSeconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let millis = Int(milliseconds - totalSeconds * 1000)
        var days = totalSeconds >= 0 ? totalSeconds / 86_400 : (totalSeconds - 86_399) / 86_400
        let secondOfDay = Int(totalSeconds - days * 86_400)
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        var text = ""
        text.reserveCapacity(24)
        func pad(_ value: Int, _ width: Int) {
            let digits = String(value)
            if digits.count < width { text.append(String(repeating: "0", count: width - digits.count)) }
            text.append(digits)
        }
        pad(year, 4)
        text.append("-")
        pad(month, 2)
        text.append("-")
        pad(day, 2)
        text.append("T")
        pad(secondOfDay / 3600, 2)
        text.append(":")
        pad(secondOfDay / 60 % 60, 2)
        text.append(":")
        pad(secondOfDay % 60, 2)
        text.append(".")
        pad(millis, 3)
        text.append("Z")
        return text
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

/// A response value written straight to JSON text: the API's answers are flat and known, and a hand-written
/// writer costs a fraction of `JSONEncoder` on a page of a hundred tasks.
protocol JSONWritable {
    func writeJSON(to out: inout JSONOut)
}

/// Builds one JSON value; object members are written in the order given.
struct JSONOut {
    var text = ""
    private var needsComma = false

    mutating func object(_ body: (inout JSONOut) -> Void) {
        text.append("{")
        needsComma = false
        body(&self)
        text.append("}")
        needsComma = true
    }

    mutating func array<Element: JSONWritable>(_ elements: [Element]) {
        text.append("[")
        needsComma = false
        for element in elements {
            if needsComma { text.append(",") }
            element.writeJSON(to: &self)
            needsComma = true
        }
        text.append("]")
        needsComma = true
    }

    private mutating func key(_ name: String) {
        if needsComma { text.append(",") }
        text.append("\"")
        text.append(name)
        text.append("\":")
        needsComma = false
    }

    mutating func field(_ name: String, _ value: String?) {
        key(name)
        if let value { JSONText.appendQuoted(value, to: &text) } else { text.append("null") }
        needsComma = true
    }

    mutating func field(_ name: String, _ value: Int64) {
        key(name)
        text.append(String(value))
        needsComma = true
    }

    mutating func field(_ name: String, _ value: Double) {
        key(name)
        text.append(value.isFinite ? "\(value)" : "null")
        needsComma = true
    }

    mutating func field(_ name: String, _ value: Bool) {
        key(name)
        text.append(value ? "true" : "false")
        needsComma = true
    }

    mutating func field(_ name: String, strings: [String]) {
        key(name)
        text.append("[")
        for (index, value) in strings.enumerated() {
            if index > 0 { text.append(",") }
            JSONText.appendQuoted(value, to: &text)
        }
        text.append("]")
        needsComma = true
    }

    mutating func field(_ name: String, _ value: some JSONWritable) {
        key(name)
        value.writeJSON(to: &self)
        needsComma = true
    }

    mutating func field<Element: JSONWritable>(_ name: String, array: [Element]) {
        key(name)
        self.array(array)
    }

    static func render(_ value: some JSONWritable) -> String {
        var out = JSONOut()
        out.text.reserveCapacity(4096)
        value.writeJSON(to: &out)
        return out.text
    }
}

extension Array: JSONWritable where Element: JSONWritable {
    func writeJSON(to out: inout JSONOut) { out.array(self) }
}

/// A flat object of strings, such as `{"status":"ok"}`.
struct StringsOut: JSONWritable {
    var members: KeyValuePairs<String, String>

    func writeJSON(to out: inout JSONOut) {
        out.object { out in for (name, value) in members { out.field(name, value) } }
    }
}

struct UserOut: JSONWritable {
    var user: User

    init(_ user: User) { self.user = user }

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", user.id)
            out.field("email", user.email)
            out.field("name", user.name)
            out.field("role", user.role.rawValue)
            out.field("disabled", user.disabled)
            out.field("created_at", WireTime.format(user.createdAt))
            out.field("language", user.language)
            out.field("password_change_required", user.passwordChangeRequired)
        }
    }
}

struct BoardOut: JSONWritable {
    var board: Board
    /// The id of the board's last live event when it was read (single board answers only).
    var lastEventID: Int64?

    init(_ board: Board, lastEventID: Int64? = nil) {
        self.board = board
        self.lastEventID = lastEventID
    }

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", board.id)
            out.field("name", board.name)
            out.field("created_by", board.createdBy)
            out.field("created_at", WireTime.format(board.createdAt))
            out.field("columns", array: board.columns.sorted { $0.position < $1.position }.map(ColumnOut.init))
            if let lastEventID { out.field("last_event_id", lastEventID) }
        }
    }
}

struct ColumnOut: JSONWritable {
    var column: BoardColumn

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", column.id)
            out.field("name", column.name)
            out.field("position", Int64(column.position))
            out.field("is_done", column.isDone)
        }
    }
}

/// A task; absent values are sent as `null`, so clients always see every field.
struct TaskOut: JSONWritable {
    var task: BoardTask

    init(_ task: BoardTask) { self.task = task }

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", task.id)
            out.field("board_id", task.boardID)
            out.field("column_id", task.columnID)
            out.field("title", task.title)
            out.field("content", task.content)
            out.field("assignee_id", task.assigneeID)
            out.field("due_at", task.dueAt.map(WireTime.format))
            out.field("due_time_zone", task.dueTimeZone)
            out.field("labels", strings: task.labels)
            out.field("position", task.position)
            out.field("version", task.version)
            out.field("created_by", task.createdBy)
            out.field("created_at", WireTime.format(task.createdAt))
            out.field("updated_at", WireTime.format(task.updatedAt))
        }
    }
}

struct TaskPageOut: JSONWritable {
    var tasks: [TaskOut]
    var nextCursor: String?

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("tasks", array: tasks)
            out.field("next_cursor", nextCursor)
        }
    }
}

struct CommentOut: JSONWritable {
    var comment: TaskComment

    init(_ comment: TaskComment) { self.comment = comment }

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", comment.id)
            out.field("task_id", comment.taskID)
            out.field("author_id", comment.authorID)
            out.field("body", comment.body)
            out.field("created_at", WireTime.format(comment.createdAt))
        }
    }
}

/// One audit event; due dates are shown as times, not raw milliseconds.
struct HistoryOut: JSONWritable {
    var event: AuditEvent

    init(_ event: AuditEvent) { self.event = event }

    func writeJSON(to out: inout JSONOut) {
        let isTime = event.field == "due_at"
        func shown(_ value: String?) -> String? {
            isTime ? value.flatMap { Int64($0) }.map(WireTime.format) : value
        }
        out.object { out in
            out.field("id", event.id)
            out.field("task_id", event.taskID)
            out.field("actor_id", event.actorID)
            out.field("action", event.action)
            out.field("field", event.field)
            out.field("old_value", shown(event.oldValue))
            out.field("new_value", shown(event.newValue))
            out.field("at", WireTime.format(event.at))
        }
    }
}

struct TokensOut: JSONWritable {
    var accessToken: String
    var refreshToken: String
    var expiresIn: Int64
    var user: UserOut

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("access_token", accessToken)
            out.field("refresh_token", refreshToken)
            out.field("token_type", "Bearer")
            out.field("expires_in", expiresIn)
            out.field("user", user)
        }
    }
}

struct CreatedUserOut: JSONWritable {
    var user: UserOut
    /// Present only when the server generated the password; shown this once.
    var password: String?

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("user", user)
            if let password { out.field("password", password) }
        }
    }
}

extension Response {
    /// A JSON response that is never cached.
    static func json(
        _ value: some JSONWritable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
        return Response(
            status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: JSONOut.render(value))))
    }

    static func noContent(headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.cacheControl] = "no-store"
        return Response(status: .noContent, headers: headers)
    }
}
