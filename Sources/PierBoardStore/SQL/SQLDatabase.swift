/// Which SQL engine is behind a ``SQLDatabase``, for the few statements that differ.
public enum SQLDialect: Sendable {
    case postgres
    case sqlite
}

/// The small SQL surface the board repository needs, implemented over PostgreSQL (postgres-nio) and SQLite
/// (sqlite-nio).
///
/// Statements use `$1`, `$2`, … as parameter markers; each adapter binds them its own way.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
}

extension SQLDatabase {
    @discardableResult
    public func query(_ sql: String) async throws -> [SQLRow] {
        try await query(sql, [])
    }
}
