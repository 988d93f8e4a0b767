import Logging
import PostgresNIO

/// PostgreSQL behind ``SQLDatabase``, over a pooled `PostgresClient` (whose `run()` the caller's service runs).
public struct PostgresSQLDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    public let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await Self.collect(client.query(Self.makeQuery(sql, binds), logger: logger))
    }

    /// Runs `body` in a transaction, retried (up to three times) when PostgreSQL reports a deadlock or a
    /// serialization failure, which are safe to retry because the transaction was rolled back.
    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    try await body(Connection(connection: connection, logger: logger))
                }
            } catch let error as PostgresTransactionError {
                let underlying: any Error = error.closureError ?? error.beginError ?? error.commitError ?? error
                if attempt < 3, Self.isRetryable(underlying) { continue }
                throw underlying
            }
        }
    }

    static func isRetryable(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// One leased connection inside a transaction.
    struct Connection: SQLDatabase {
        let dialect = SQLDialect.postgres
        let connection: PostgresConnection
        let logger: Logger

        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await PostgresSQLDatabase.collect(
                connection.query(PostgresSQLDatabase.makeQuery(sql, binds), logger: logger))
        }

        func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
            -> Result
        {
            try await body(self)
        }
    }

    static func makeQuery(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let number): bindings.append(number)
            case .double(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .bool(let flag): bindings.append(flag)
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var result: [SQLRow] = []
        var columns: SQLColumns?
        for try await row in rows {
            var cells: [SQLValue] = []
            cells.reserveCapacity(row.count)
            for cell in row { cells.append(try decode(cell)) }
            let shared = columns ?? SQLColumns(row.map(\.columnName))
            columns = shared
            result.append(SQLRow(columns: shared, cells: cells))
        }
        return result
    }

    static func decode(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8, .numeric: return .double(try cell.decode(Double.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        default: return .text(try cell.decode(String.self))
        }
    }
}
