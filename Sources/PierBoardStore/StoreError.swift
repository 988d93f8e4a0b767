/// Why a storage operation did not happen. Extensible: a struct over a private code, like `HTTPClientError`.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        case notFound
        case conflict
        case duplicate
        case invalid
        case corrupt
        case forbidden
        case refused
        case unavailable
        case storageFull
    }

    let code: Code
    /// What happened, safe to show.
    public let reason: String
    /// For a version conflict: the version the row has now.
    public let currentVersion: Int64?
    /// For a refused change: the rule it would break, as a stable code (`member_has_tasks`).
    public private(set) var rule: String? = nil

    public static func notFound(_ what: String) -> StoreError {
        StoreError(code: .notFound, reason: "\(what) not found", currentVersion: nil)
    }
    public static func conflict(currentVersion: Int64) -> StoreError {
        StoreError(code: .conflict, reason: "the task was changed by someone else", currentVersion: currentVersion)
    }
    public static func duplicate(_ what: String) -> StoreError {
        StoreError(code: .duplicate, reason: what, currentVersion: nil)
    }
    public static func invalid(_ what: String) -> StoreError {
        StoreError(code: .invalid, reason: what, currentVersion: nil)
    }
    /// The change is not allowed for this actor, as the row stands inside the transaction.
    public static func forbidden(_ what: String) -> StoreError {
        StoreError(code: .forbidden, reason: what, currentVersion: nil)
    }
    /// The change would break a rule of the data as it stands (a member who still has tasks cannot leave).
    public static func refused(_ rule: String, _ what: String) -> StoreError {
        StoreError(code: .refused, reason: what, currentVersion: nil, rule: rule)
    }
    public static func corrupt(_ what: String) -> StoreError {
        StoreError(code: .corrupt, reason: what, currentVersion: nil)
    }
    /// The database cannot be reached or used right now (PostgreSQL down, a connection lost, SQLite I/O errors or
    /// locks); nothing was changed and the same request may work later.
    public static func unavailable(_ what: String) -> StoreError {
        StoreError(code: .unavailable, reason: what, currentVersion: nil)
    }
    /// The database has no space left for the change, which was not made; reads still work.
    public static func storageFull(_ what: String) -> StoreError {
        StoreError(code: .storageFull, reason: what, currentVersion: nil)
    }

    public var isNotFound: Bool { code == .notFound }
    public var isConflict: Bool { code == .conflict }
    public var isDuplicate: Bool { code == .duplicate }
    public var isInvalid: Bool { code == .invalid }
    public var isForbidden: Bool { code == .forbidden }
    public var isRefused: Bool { code == .refused }
    public var isUnavailable: Bool { code == .unavailable }
    public var isStorageFull: Bool { code == .storageFull }

    public var description: String { reason }
}
