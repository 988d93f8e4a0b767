/// What a board's live event says happened.
public enum BoardEventKind: String, Sendable, Hashable, CaseIterable {
    case taskCreated = "task.created"
    case taskUpdated = "task.updated"
    /// Another column, or another place in the same column.
    case taskMoved = "task.moved"
    case taskDeleted = "task.deleted"
    case taskCommented = "task.commented"
    case columnCreated = "column.created"
    case columnUpdated = "column.updated"
    case columnDeleted = "column.deleted"
    case memberAdded = "member.added"
    case memberRemoved = "member.removed"
}

/// One committed change of a board, numbered in commit order per board (`seq` is the stream's event id).
public struct BoardEventRecord: Sendable, Hashable {
    /// What changed: the stream sends its current state along.
    public enum Subject: Sendable, Hashable {
        /// A task, and the version the change gave it.
        case task(id: String, version: Int64)
        case column(id: String)
        case member(userID: String)
        case board
    }

    public var boardID: String
    public var seq: Int64
    public var kind: BoardEventKind
    public var actorID: String?
    public var subject: Subject
    public var at: Int64

    public init(
        boardID: String, seq: Int64, kind: BoardEventKind, actorID: String?, subject: Subject, at: Int64
    ) {
        self.boardID = boardID
        self.seq = seq
        self.kind = kind
        self.actorID = actorID
        self.subject = subject
        self.at = at
    }
}

/// The events of a board after some event id, and where the board's numbering stands.
public struct BoardEventWindow: Sendable, Hashable {
    /// In order; at most the limit asked for.
    public var events: [BoardEventRecord]
    /// The number of the board's last event (0 before the first).
    public var head: Int64
    /// Whether the events asked for are still all kept: `false` when some after the given id were pruned (or the id
    /// is from the future, as after a restore), so the client must reload the board.
    public var isContinuous: Bool

    public init(events: [BoardEventRecord], head: Int64, isContinuous: Bool) {
        self.events = events
        self.head = head
        self.isContinuous = isContinuous
    }
}
