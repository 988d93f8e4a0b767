import Foundation
import Synchronization

/// One description of a change, from which ``ChangeRecorder`` writes everything that records it, inside the change's
/// own transaction: the audit events, the task's column transition, the outbox events that notify people, and the
/// board's live event.
struct Change: Sendable {
    /// One audit row: `task.updated` of `title` from `old` to `new`.
    struct Audit: Sendable {
        var action: String
        var field: String?
        var old: String?
        var new: String?
    }

    /// An outbox event: who is told is decided by the notifier; `key` makes writing it twice write it once.
    struct Notification: Sendable {
        var kind: String
        var key: String
        var payload: [String: String]
    }

    var boardID: String?
    var taskID: String?
    var actorID: String
    var audit: [Audit] = []
    /// The task moved from one column (`nil` when it was created) to another.
    var transition: (from: String?, to: String)?
    var notifications: [Notification] = []
    /// What the board's live streams are told (``BoardEventRecord``); requires ``boardID``.
    var live: BoardEventRecord.Subject?
    var liveKind: BoardEventKind?
    /// An account whose access changed (disabled, new password, sessions ended): its open streams check again.
    var accessChangedFor: String?

    init(boardID: String?, taskID: String? = nil, actorID: String) {
        self.boardID = boardID
        self.taskID = taskID
        self.actorID = actorID
    }

    mutating func audit(_ action: String, field: String? = nil, old: String? = nil, new: String? = nil) {
        audit.append(Audit(action: action, field: field, old: old, new: new))
    }

    mutating func notify(_ kind: String, key: String, payload: [String: String]) {
        notifications.append(Notification(kind: kind, key: key, payload: payload))
    }

    mutating func live(_ kind: BoardEventKind, _ subject: BoardEventRecord.Subject) {
        liveKind = kind
        live = subject
    }

    var isEmpty: Bool {
        audit.isEmpty && transition == nil && notifications.isEmpty && live == nil && accessChangedFor == nil
    }
}

/// Writes ``Change``s in a transaction and remembers which live streams to wake once it has committed.
///
/// A board's live events are numbered by a counter row per board (`board_event_heads`), taken as the last lock of
/// every writing transaction: events of a board are numbered in commit order, so a stream that has read up to `n`
/// never misses an event committed later with a smaller number.
final class ChangeRecorder: Sendable {
    let ids: IDGenerator
    let now: Int64
    private let pending = Mutex<[ChangeSignal]>([])

    /// Events of a board kept at least this long, and at least the last ``retainedEvents`` of them.
    static let retention: Int64 = 10 * 60 * 1000
    static let retainedEvents: Int64 = 10_000

    init(ids: IDGenerator, now: Int64) {
        self.ids = ids
        self.now = now
    }

    /// Forgets what an earlier attempt of the transaction recorded (PostgreSQL retries deadlocked transactions).
    func begin() {
        pending.withLock { $0.removeAll() }
    }

    /// The wake-ups for the streams, once the transaction has committed.
    var signals: [ChangeSignal] {
        pending.withLock { $0 }
    }

    /// Notification channel on PostgreSQL; the payload is a ``ChangeSignal/encoded`` signal.
    static let channel = "pier_changes"

    func record(_ db: any SQLDatabase, _ change: Change) async throws {
        for entry in change.audit {
            try await db.query(
                "INSERT INTO audit_events (id, board_id, task_id, actor_id, action, field, old_value, new_value, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    .text(ids.next(now: now)), change.boardID.sql, change.taskID.sql, .text(change.actorID),
                    .text(entry.action), entry.field.sql, entry.old.sql, entry.new.sql, .integer(now),
                ]
            )
        }
        if let transition = change.transition, let taskID = change.taskID {
            try await db.query(
                "INSERT INTO task_transitions (id, task_id, from_column_id, to_column_id, actor_id, at) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    .text(ids.next(now: now)), .text(taskID), transition.from.sql, .text(transition.to),
                    .text(change.actorID), .integer(now),
                ]
            )
        }
        for notification in change.notifications {
            try await Self.enqueue(
                db, ids: ids, now: now, kind: notification.kind, key: notification.key, payload: notification.payload)
        }
        var signals: [ChangeSignal] = []
        if let boardID = change.boardID, let kind = change.liveKind, let subject = change.live {
            try await appendLiveEvent(db, boardID: boardID, kind: kind, subject: subject, actorID: change.actorID)
            signals.append(.board(boardID))
        }
        if let userID = change.accessChangedFor { signals.append(.user(userID)) }
        guard !signals.isEmpty else { return }
        if db.dialect == .postgres {
            // Delivered to every listening instance when (and only if) the transaction commits.
            for signal in signals {
                try await db.query("SELECT pg_notify($1, $2)", [.text(Self.channel), .text(signal.encoded)])
            }
        }
        pending.withLock { $0.append(contentsOf: signals) }
    }

    func appendLiveEvent(
        _ db: any SQLDatabase, boardID: String, kind: BoardEventKind, subject: BoardEventRecord.Subject,
        actorID: String
    ) async throws {
        guard
            let seq = try await db.query(
                "UPDATE board_event_heads SET last_seq = last_seq + 1 WHERE board_id = $1 RETURNING last_seq",
                [.text(boardID)]
            ).first?.int("last_seq")
        else {
            throw StoreError.notFound("board")
        }
        var task: String?
        var column: String?
        var user: String?
        var version: Int64?
        switch subject {
        case .task(let id, let taskVersion):
            task = id
            version = taskVersion
        case .column(let id): column = id
        case .member(let id): user = id
        case .board: break
        }
        try await db.query(
            "INSERT INTO board_events (board_id, seq, kind, actor_id, task_id, column_id, user_id, version, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                .text(boardID), .integer(seq), .text(kind.rawValue), .text(actorID), task.sql, column.sql, user.sql,
                version.sql, .integer(now),
            ]
        )
        if seq % 256 == 0 {
            try await db.query(
                "DELETE FROM board_events WHERE board_id = $1 AND seq <= $2 AND at < $3",
                [.text(boardID), .integer(seq - Self.retainedEvents), .integer(now - Self.retention)])
        }
    }

    /// Writes an outbox event unless one with the same idempotency `key` exists; true when it was new.
    @discardableResult
    static func enqueue(
        _ db: any SQLDatabase, ids: IDGenerator, now: Int64, kind: String, key: String, payload: [String: String]
    ) async throws -> Bool {
        let data = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        return try await !db.query(
            "INSERT INTO outbox (id, kind, payload, idempotency_key, created_at, available_at, attempts) VALUES ($1, $2, $3, $4, $5, $5, 0) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [
                .text(ids.next(now: now)), .text(kind), .text(String(decoding: data, as: UTF8.self)), .text(key),
                .integer(now),
            ]
        ).isEmpty
    }
}

/// A wake-up for the live streams of this instance: something of a board changed, an account's access changed, or
/// (after the PostgreSQL listener reconnected) anything may have.
public enum ChangeSignal: Sendable, Hashable {
    case board(String)
    case user(String)
    case resync

    var encoded: String {
        switch self {
        case .board(let id): "b:\(id)"
        case .user(let id): "u:\(id)"
        case .resync: "*"
        }
    }

    public init?(encoded: String) {
        if encoded == "*" {
            self = .resync
        } else if encoded.hasPrefix("b:") {
            self = .board(String(encoded.dropFirst(2)))
        } else if encoded.hasPrefix("u:") {
            self = .user(String(encoded.dropFirst(2)))
        } else {
            return nil
        }
    }
}

/// Fans ``ChangeSignal``s out to whoever listens in this process: the repository publishes what it committed,
/// and on PostgreSQL the listener publishes what other instances committed.
public final class ChangeFeed: Sendable {
    private let listeners = Mutex<[UInt64: AsyncStream<ChangeSignal>.Continuation]>([:])
    private let nextID = Atomic<UInt64>(0)

    public init() {}

    /// Signals from now on. A listener that falls more than a few thousand behind loses the oldest, which is why
    /// a signal only says "look again", never what changed.
    public func subscribe() -> AsyncStream<ChangeSignal> {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(
            of: ChangeSignal.self, bufferingPolicy: .bufferingNewest(4096))
        continuation.onTermination = { [weak self] _ in
            _ = self?.listeners.withLock { $0.removeValue(forKey: id) }
        }
        listeners.withLock { $0[id] = continuation }
        return stream
    }

    public func publish(_ signals: [ChangeSignal]) {
        guard !signals.isEmpty else { return }
        let continuations = listeners.withLock { Array($0.values) }
        for continuation in continuations {
            for signal in signals { continuation.yield(signal) }
        }
    }
}
