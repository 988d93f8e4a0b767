/// The health of one upstream target as a pure state machine: active check results move it between unknown,
/// healthy and unhealthy; request failures in a row eject it for a while (passive health), with back-off.
struct TargetHealth: Sendable, Hashable {
    enum Active: UInt8, Sendable, Hashable {
        case unknown = 0
        case healthy = 1
        case unhealthy = 2

        var name: String {
            switch self {
            case .unknown: "unknown"
            case .healthy: "healthy"
            case .unhealthy: "unhealthy"
            }
        }
    }

    var active: Active
    /// Check results in a row of the same kind.
    var passes = 0
    var failures = 0
    /// Ejections without a success in between; each one lasts twice as long as the one before, up to ten times
    /// `eject_for`.
    var ejectionStreak = 0

    /// Targets without active checks are healthy from the start; checked ones start unknown.
    init(checked: Bool) {
        self.active = checked ? .unknown : .healthy
    }

    /// Records one active check; returns the new state when it changed.
    mutating func recordCheck(passed: Bool, healthyThreshold: Int, unhealthyThreshold: Int) -> Active? {
        if passed {
            passes += 1
            failures = 0
            if active != .healthy && passes >= healthyThreshold {
                active = .healthy
                return .healthy
            }
        } else {
            failures += 1
            passes = 0
            if active != .unhealthy && failures >= unhealthyThreshold {
                active = .unhealthy
                return .unhealthy
            }
        }
        return nil
    }

    /// Starts an ejection and returns how long it lasts.
    mutating func eject(base: Duration) -> Duration {
        ejectionStreak += 1
        let factor = min(1 << min(ejectionStreak - 1, 10), 10)
        return base * factor
    }

    /// A request succeeded after an ejection: the next one starts from `eject_for` again.
    mutating func recovered() {
        ejectionStreak = 0
    }
}

/// Retries allowed per upstream: over the last ten seconds, at most `ratio` of the requests or `min_per_second`
/// per second, whichever is more. Pure; the pool feeds it the request count and the time.
struct RetryBudgetState: Sendable {
    static let window = 10

    /// Request totals seen at the start of each of the last seconds, newest last.
    private var marks: [(second: Int64, requests: Int)] = []
    private var retries: [(second: Int64, count: Int)] = []

    /// Whether one more retry fits; if so it is counted.
    mutating func tryRetry(
        now second: Int64, requestsSoFar: Int, ratio: Double, minPerSecond: Int
    ) -> Bool {
        if marks.last?.second != second { marks.append((second, requestsSoFar)) }
        marks.removeAll { $0.second <= second - Int64(Self.window) }
        retries.removeAll { $0.second <= second - Int64(Self.window) }
        let oldest = marks.first?.requests ?? requestsSoFar
        let requests = max(0, requestsSoFar - oldest)
        let allowed = max(Double(minPerSecond * Self.window), ratio * Double(requests))
        let used = retries.reduce(0) { $0 + $1.count }
        guard Double(used) < allowed else { return false }
        if retries.last?.second == second {
            retries[retries.count - 1].count += 1
        } else {
            retries.append((second, 1))
        }
        return true
    }
}
