import Foundation

/// What a user may do: Supervisors manage boards, tasks and users; PICs work on the tasks assigned to them.
public enum UserRole: String, Sendable, Hashable, Codable, CaseIterable {
    case supervisor
    case pic
}

/// A person who signs in.
public struct User: Sendable, Hashable, Codable {
    public var id: String
    public var email: String
    public var name: String
    public var role: UserRole
    public var disabled: Bool
    public var createdAt: Int64
    /// The bcrypt hash; never leaves the server.
    public var passwordHash: String
    /// Raised whenever the account's sessions end (sign-out, a new password, disabling): access tokens carry the
    /// value they were issued with and stop working once it changes.
    public var sessionVersion: Int64
    /// The language the account uses the board in (`ko`, `en`), for email; `nil` until chosen.
    public var language: String?
    /// The password was generated for the account (the first Supervisor, an account or a reset without a chosen
    /// password): until its owner picks one of their own, only `/me` and `/me/password` answer them.
    public var passwordChangeRequired: Bool

    public init(
        id: String, email: String, name: String, role: UserRole, disabled: Bool, createdAt: Int64, passwordHash: String,
        sessionVersion: Int64 = 0, language: String? = nil, passwordChangeRequired: Bool = false
    ) {
        self.passwordChangeRequired = passwordChangeRequired
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.disabled = disabled
        self.createdAt = createdAt
        self.passwordHash = passwordHash
        self.sessionVersion = sessionVersion
        self.language = language
    }
}

/// A status column of a board, in board order.
public struct BoardColumn: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var position: Int
    /// Tasks here count as finished (never overdue).
    public var isDone: Bool
}

/// What to change on a column; `nil` leaves a field as it is.
public struct ColumnChanges: Sendable, Hashable {
    public var name: String?
    public var isDone: Bool?
    public var position: Int?

    public init(name: String? = nil, isDone: Bool? = nil, position: Int? = nil) {
        self.name = name
        self.isDone = isDone
        self.position = position
    }
}

/// A kanban board with its ordered columns.
public struct Board: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var createdBy: String
    public var createdAt: Int64
    public var columns: [BoardColumn]
}

/// A task on a board.
public struct BoardTask: Sendable, Hashable, Codable {
    public var id: String
    public var boardID: String
    public var columnID: String
    public var title: String
    /// Markdown source.
    public var content: String
    public var assigneeID: String?
    /// Milliseconds since 1970 (UTC).
    public var dueAt: Int64?
    /// The IANA time zone the due date was set in, for display.
    public var dueTimeZone: String?
    public var labels: [String]
    /// Order within the column (ascending).
    public var position: Double
    /// Incremented by every change; updates must name the version they saw.
    public var version: Int64
    public var createdBy: String
    public var createdAt: Int64
    public var updatedAt: Int64
}

/// A comment on a task.
public struct TaskComment: Sendable, Hashable, Codable {
    public var id: String
    public var taskID: String
    public var authorID: String
    public var body: String
    public var createdAt: Int64
}

/// One recorded change: who changed which field from what to what, and when.
public struct AuditEvent: Sendable, Hashable, Codable {
    public var id: String
    public var boardID: String?
    public var taskID: String?
    public var actorID: String
    /// `task.created`, `task.updated`, `task.moved`, `task.deleted`, `comment.added`, `board.created`, …
    public var action: String
    public var field: String?
    public var oldValue: String?
    public var newValue: String?
    public var at: Int64
}

/// A notification waiting to be delivered, written in the same transaction as the change that caused it.
public struct OutboxMessage: Sendable, Hashable, Codable {
    public var id: String
    /// `task.assigned`, `task.status_changed`, `task.due_changed`, …
    public var kind: String
    /// JSON payload.
    public var payload: String
    /// Stable across retries, so receivers can drop duplicates.
    public var idempotencyKey: String
    public var createdAt: Int64
    public var deliveredAt: Int64?
    public var attempts: Int64
}

/// The fields of a new task.
public struct NewTask: Sendable, Hashable {
    public var title: String
    public var content: String
    public var columnID: String?
    public var assigneeID: String?
    public var dueAt: Int64?
    public var dueTimeZone: String?
    public var labels: [String]

    public init(
        title: String,
        content: String = "",
        columnID: String? = nil,
        assigneeID: String? = nil,
        dueAt: Int64? = nil,
        dueTimeZone: String? = nil,
        labels: [String] = []
    ) {
        self.title = title
        self.content = content
        self.columnID = columnID
        self.assigneeID = assigneeID
        self.dueAt = dueAt
        self.dueTimeZone = dueTimeZone
        self.labels = labels
    }
}

/// A partial update of a task; `nil` leaves a field as it is, `.some(nil)` clears it.
public struct TaskChanges: Sendable, Hashable {
    public var title: String?
    public var content: String?
    public var columnID: String?
    public var assigneeID: String??
    public var dueAt: Int64??
    public var dueTimeZone: String??
    public var labels: [String]?

    public init(
        title: String? = nil,
        content: String? = nil,
        columnID: String? = nil,
        assigneeID: String?? = nil,
        dueAt: Int64?? = nil,
        dueTimeZone: String?? = nil,
        labels: [String]? = nil
    ) {
        self.title = title
        self.content = content
        self.columnID = columnID
        self.assigneeID = assigneeID
        self.dueAt = dueAt
        self.dueTimeZone = dueTimeZone
        self.labels = labels
    }

    /// Whether nothing would change.
    public var isEmpty: Bool {
        title == nil && content == nil && columnID == nil && assigneeID == nil && dueAt == nil && dueTimeZone == nil
            && labels == nil
    }
}

/// Filters and keyset pagination for listing a board's tasks.
public struct TaskQuery: Sendable, Hashable {
    public var assigneeID: String?
    public var columnID: String?
    public var label: String?
    /// Case-insensitive text search in title and content.
    public var text: String?
    public var dueBefore: Int64?
    /// Only tasks past due and not in a done column, as of `now`.
    public var overdue: Bool
    public var now: Int64
    public var limit: Int
    /// Opaque cursor from the previous page.
    public var cursor: String?

    public init(
        assigneeID: String? = nil,
        columnID: String? = nil,
        label: String? = nil,
        text: String? = nil,
        dueBefore: Int64? = nil,
        overdue: Bool = false,
        now: Int64,
        limit: Int = 100,
        cursor: String? = nil
    ) {
        self.assigneeID = assigneeID
        self.columnID = columnID
        self.label = label
        self.text = text
        self.dueBefore = dueBefore
        self.overdue = overdue
        self.now = now
        self.limit = limit
        self.cursor = cursor
    }
}

/// One page of tasks.
public struct TaskPage: Sendable, Hashable {
    public var tasks: [BoardTask]
    /// Pass back as `cursor` for the next page; `nil` on the last page.
    public var nextCursor: String?
}

/// What presenting a refresh token led to.
public enum SessionRotation: Sendable, Hashable {
    /// A new token was stored for this user.
    case rotated(User)
    /// The token had already been used: the family is now revoked.
    case reused
    /// Unknown, expired, revoked, or its user is disabled.
    case invalid
}
