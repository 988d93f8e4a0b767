import Logging
import PostgresNIO
import Synchronization

/// PostgreSQL behind ``SQLDatabase``, over a pooled `PostgresClient` (whose `run()` the caller's service runs).
///
/// Waiting for a pooled connection is bounded: postgres-nio queues requests for as long as it cannot connect (until
/// its circuit breaker opens after a minute), so without a bound every request would hang while PostgreSQL is down.
/// Instead the statement fails with ``StoreError/unavailable(_:)``, as do statements whose connection is lost.
public struct PostgresSQLDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    public let client: PostgresClient
    let logger: Logger
    /// How long a statement waits for a pooled connection.
    public let acquireTimeout: Duration
    /// The shorter wait while the last attempt to get a connection failed, so that an outage is answered quickly;
    /// the pool keeps reconnecting in the background and the first successful lease ends it.
    public let outageAcquireTimeout: Duration
    let reachability = Reachability()
    let metrics = DatabaseMetrics(system: "postgresql")

    public init(
        client: PostgresClient,
        logger: Logger,
        acquireTimeout: Duration = .seconds(3),
        outageAcquireTimeout: Duration = .seconds(1)
    ) {
        self.client = client
        self.logger = logger
        self.acquireTimeout = acquireTimeout
        self.outageAcquireTimeout = min(outageAcquireTimeout, acquireTimeout)
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let logger = logger
        do {
            return try await metrics.timeStatement {
                try await withConnection { connection in
                    try await Self.collect(connection.query(Self.makeQuery(sql, binds), logger: logger))
                }
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    /// Runs `body` in a transaction, retried (up to three times) when PostgreSQL reports a deadlock or a
    /// serialization failure, which are safe to retry because the transaction was rolled back.
    public func transaction<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        let logger = logger
        var attempt = 0
        while true {
            attempt += 1
            do {
                // The body does not escape: the call below returns only after it has finished.
                return try await metrics.timeTransaction {
                    try await withoutActuallyEscaping(body) { body in
                        try await withConnection { connection in
                            try await connection.withTransaction(logger: logger) { connection in
                                try await body(Connection(connection: connection, logger: logger))
                            }
                        }
                    }
                }
            } catch let error as PostgresTransactionError {
                let underlying: any Error = error.closureError ?? error.beginError ?? error.commitError ?? error
                if attempt < 3, Self.isRetryable(underlying) { continue }
                throw Self.mapped(underlying)
            } catch {
                throw Self.mapped(error)
            }
        }
    }

    static func isRetryable(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// PostgreSQL errors that say the database cannot be used right now rather than that the statement is wrong:
    /// the connection was lost or refused, or the server is shutting down, starting or out of connections.
    static func mapped(_ error: any Error) -> any Error {
        guard let psql = error as? PSQLError else { return error }
        let lost: Set<PSQLError.Code> = [
            .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed,
        ]
        if lost.contains(psql.code) {
            return StoreError.unavailable("the connection to PostgreSQL was lost (\(psql.code))")
        }
        if psql.code == .server, let state = psql.serverInfo?[.sqlState],
            state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state)
        {
            return StoreError.unavailable("PostgreSQL cannot serve the statement now (SQLSTATE \(state))")
        }
        return error
    }

    /// Leases a pooled connection for `body`, waiting at most ``acquireTimeout`` (``outageAcquireTimeout`` while
    /// the previous lease failed). A failure to get a connection is ``StoreError/unavailable(_:)``.
    func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let wait = reachability.isReachable ? acquireTimeout : outageAcquireTimeout
        let race = LeaseRace()
        let client = client
        do {
            return try await withThrowingTaskGroup(of: LeaseRace.Outcome<Result>.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        // The timer may have given up just as the connection came.
                        guard race.claim(.leased) else { throw CancellationError() }
                        return .value(try await body(connection))
                    }
                }
                group.addTask {
                    try await Task.sleep(for: wait)
                    guard race.claim(.timedOut) else { return .timerLost }
                    throw StoreError.unavailable("no PostgreSQL connection within \(wait)")
                }
                while let outcome = try await group.next() {
                    if case .value(let value) = outcome {
                        group.cancelAll()
                        reachability.isReachable = true
                        return value
                    }
                }
                throw CancellationError()
            }
        } catch {
            if race.state == .leased {
                reachability.isReachable = true
                throw error
            }
            // Refused, timed out, or the pool's circuit breaker is open: all mean PostgreSQL is out of reach.
            reachability.isReachable = false
            if let error = error as? StoreError { throw error }
            throw StoreError.unavailable("no PostgreSQL connection (\(String(reflecting: error)))")
        }
    }

    /// One leased connection inside a transaction.
    struct Connection: SQLDatabase {
        let dialect = SQLDialect.postgres
        let connection: PostgresConnection
        let logger: Logger

        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            do {
                return try await PostgresSQLDatabase.collect(
                    connection.query(PostgresSQLDatabase.makeQuery(sql, binds), logger: logger))
            } catch {
                throw PostgresSQLDatabase.mapped(error)
            }
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

/// Whether the last attempt to lease a PostgreSQL connection succeeded.
final class Reachability: Sendable {
    private let reachable = Atomic<Bool>(true)

    var isReachable: Bool {
        get { reachable.load(ordering: .relaxed) }
        set { reachable.store(newValue, ordering: .relaxed) }
    }
}

/// Decides, exactly once, whether a lease arrived before its timer fired.
final class LeaseRace: Sendable {
    enum State: Int {
        case waiting
        case leased
        case timedOut
    }

    /// What a child task of the race returns.
    enum Outcome<Value: Sendable>: Sendable {
        case value(Value)
        case timerLost
    }

    private let raw = Atomic<Int>(State.waiting.rawValue)

    var state: State { State(rawValue: raw.load(ordering: .acquiring)) ?? .waiting }

    /// Moves from waiting to `state`; false when the other side already won.
    func claim(_ state: State) -> Bool {
        raw.compareExchange(expected: State.waiting.rawValue, desired: state.rawValue, ordering: .acquiringAndReleasing)
            .exchanged
    }
}
