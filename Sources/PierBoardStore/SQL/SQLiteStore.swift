import Foundation
import Logging
import NIOCore
import SQLiteNIO
import Synchronization

/// SQLite behind ``SQLDatabase``: one connection, every statement and transaction serialised through a FIFO lock
/// (SQLite allows one writer at a time anyway), so concurrent requests never interleave inside a transaction.
public final class SQLiteSQLDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    let connection: SQLiteConnection
    let lock = AsyncLock()
    /// Set while SQLite keeps a transaction open that a ROLLBACK could not end: nothing else runs until a later
    /// ROLLBACK succeeds, since statements would otherwise silently join that transaction and be lost with it.
    let stranded = Mutex(false)
    let metrics = DatabaseMetrics(system: "sqlite")

    /// Opens (creating if needed) the database file, with WAL journaling and foreign keys on.
    public static func open(path: String, logger: Logger) async throws -> SQLiteSQLDatabase {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let database = SQLiteSQLDatabase(connection: connection)
        try await database.query("PRAGMA busy_timeout = 5000")
        try await database.query("PRAGMA journal_mode = WAL")
        try await database.query("PRAGMA foreign_keys = ON")
        try await database.query("PRAGMA synchronous = NORMAL")
        return database
    }

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    public func close() async throws {
        try await connection.close()
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await metrics.timeStatement {
            try await lock.withLock {
                try await endStrandedTransaction()
                return try await Self.run(connection, sql, binds)
            }
        }
    }

    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        try await metrics.timeTransaction {
            try await transactionLocked(body)
        }
    }

    private func transactionLocked<Result: Sendable>(
        _ body: @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        try await lock.withLock {
            try await endStrandedTransaction()
            let inside = Transaction(connection: connection)
            try await Self.run(connection, "BEGIN IMMEDIATE", [])
            do {
                let result = try await body(inside)
                try await Self.run(connection, "COMMIT", [])
                return result
            } catch {
                await rollBack()
                throw error
            }
        }
    }

    /// Ends the transaction a failed body or COMMIT left open. After SQLITE_FULL, I/O errors and a few others
    /// SQLite may have rolled the whole transaction back by itself, and then ROLLBACK fails with "no transaction is
    /// active": only a transaction that is really still open counts as stranded.
    private func rollBack() async {
        if (try? await Self.run(connection, "ROLLBACK", [])) != nil { return }
        if await transactionIsOpen() { stranded.withLock { $0 = true } }
    }

    /// Tries again to end a stranded transaction; refuses the statement while that is impossible.
    private func endStrandedTransaction() async throws {
        guard stranded.withLock({ $0 }) else { return }
        if (try? await Self.run(connection, "ROLLBACK", [])) == nil, await transactionIsOpen() {
            throw StoreError.unavailable("the SQLite connection has a transaction open that it cannot roll back")
        }
        stranded.withLock { $0 = false }
    }

    /// Whether SQLite has a transaction open, which `sqlite3_get_autocommit` would say if sqlite-nio exposed the
    /// handle: a BEGIN succeeds only outside a transaction (and then begins an empty one, ended at once). A probe
    /// that fails for another reason answers "open", the safe side.
    private func transactionIsOpen() async -> Bool {
        do {
            try await Self.run(connection, "BEGIN DEFERRED", [])
        } catch {
            return true
        }
        return (try? await Self.run(connection, "ROLLBACK", [])) == nil
    }

    /// The connection as seen inside a transaction: the lock is already held.
    struct Transaction: SQLDatabase {
        let dialect = SQLDialect.sqlite
        let connection: SQLiteConnection

        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await SQLiteSQLDatabase.run(connection, sql, binds)
        }

        func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
            -> Result
        {
            try await body(self)
        }
    }

    @discardableResult
    static func run(_ connection: SQLiteConnection, _ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let rows: [SQLiteRow]
        do {
            rows = try await connection.query(translate(sql), binds.map(sqliteValue))
        } catch let error as SQLiteError {
            throw storeError(error) ?? error
        }
        var columns: SQLColumns?
        return rows.map { row in
            let cells = row.columns.map { column -> SQLValue in
                switch column.data {
                case .null: .null
                case .integer(let value): .integer(Int64(value))
                case .float(let value): .double(value)
                case .text(let value): .text(value)
                case .blob(let buffer): .text(String(buffer: buffer))
                }
            }
            // Every row of one result has the same columns.
            let shared = columns ?? SQLColumns(row.columns.map(\.name))
            columns = shared
            return SQLRow(columns: shared, cells: cells)
        }
    }

    /// What a SQLite failure means for the caller when it is about the storage rather than the statement: a full
    /// disk, or an I/O error or lock that may pass. Anything else stays as it is (an internal error).
    static func storeError(_ error: SQLiteError) -> StoreError? {
        switch error.reason {
        case .full:
            .storageFull("the disk holding the SQLite database is full (\(error.message))")
        case .ioError, .ioErrorFailedWrite, .ioErrorFailedSync, .ioErrorFailedRead, .ioErrorFailedTruncate, .busy,
            .busyTimeout, .locked, .cantOpen:
            .unavailable("the SQLite database could not be used (\(error.message))")
        default:
            nil
        }
    }

    /// `$n` parameter markers become SQLite's numbered `?n`.
    static func translate(_ sql: String) -> String {
        guard sql.contains("$") else { return sql }
        var output = ""
        output.reserveCapacity(sql.utf8.count)
        var iterator = sql.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if character == "$" {
                var digits = ""
                while let next = iterator.next() {
                    if next.isASCII && next.isNumber {
                        digits.append(next)
                    } else {
                        pending = next
                        break
                    }
                }
                output += digits.isEmpty ? "$" : "?" + digits
            } else {
                output.append(character)
            }
        }
        return output
    }

    static func sqliteValue(_ value: SQLValue) -> SQLiteData {
        switch value {
        case .null: .null
        case .integer(let value): .integer(SQLiteInt64(value))
        case .double(let value): .float(value)
        case .text(let value): .text(value)
        case .bool(let value): .integer(value ? 1 : 0)
        }
    }
}

/// A first-in, first-out async mutex.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func withLock<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
