import Metrics
import PierCore

/// The duration of statements and transactions, by database system (`db_system` `postgresql` | `sqlite`) and
/// `db_operation` (`statement` | `transaction`), the time a request waited for its connection included.
struct DatabaseMetrics: Sendable {
    private let statement: Metrics.Timer
    private let transaction: Metrics.Timer

    init(system: String) {
        statement = Metrics.Timer(
            label: PierMetric.databaseOperation.name,
            dimensions: [("db_system", system), ("db_operation", "statement")])
        transaction = Metrics.Timer(
            label: PierMetric.databaseOperation.name,
            dimensions: [("db_system", system), ("db_operation", "transaction")])
    }

    func timeStatement<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        let start = ContinuousClock.now
        defer { statement.record(duration: start.duration(to: .now)) }
        return try await body()
    }

    func timeTransaction<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        let start = ContinuousClock.now
        defer { transaction.record(duration: start.duration(to: .now)) }
        return try await body()
    }
}
