import Synchronization

/// Failed sign-in bookkeeping, per account and per client address: a pure value, driven with explicit times so it
/// can be tested without waiting.
///
/// - An account is refused for a growing time after `accountFreeFailures` failures: 30 s, then doubling, at most
///   15 minutes. A success clears it.
/// - A client address is refused for `window` (15 minutes), counted from the failure that reached
///   `addressFailures` failures within `window`.
///
/// The state is per instance; with N instances behind the edge an attacker gets at most N times the budget.
struct LoginThrottleState: Sendable {
    struct Counter: Sendable {
        var failures: Int
        var windowStart: Double
        var blockedUntil: Double
    }

    var accountFreeFailures = 5
    var addressFailures = 30
    var window: Double = 15 * 60
    var maxBlock: Double = 15 * 60
    /// Bounds memory under a spray of distinct accounts or addresses.
    var maxEntries = 100_000

    private(set) var accounts: [String: Counter] = [:]
    private(set) var addresses: [String: Counter] = [:]

    /// Seconds to wait before trying again, or `nil` when a sign-in may be attempted now.
    func retryAfter(account: String, address: String, now: Double) -> Double? {
        let waits = [accounts[account], addresses[address]].compactMap { counter -> Double? in
            guard let counter, counter.blockedUntil > now else { return nil }
            return counter.blockedUntil - now
        }
        return waits.max()
    }

    mutating func recordFailure(account: String, address: String, now: Double) {
        prune(now: now)
        var accountCounter = current(accounts[account], now: now)
        accountCounter.failures += 1
        if accountCounter.failures >= accountFreeFailures {
            let doublings = min(accountCounter.failures - accountFreeFailures, 10)
            accountCounter.blockedUntil = now + min(30 * Double(1 << doublings), maxBlock)
        }
        accounts[account] = accountCounter

        var addressCounter = current(addresses[address], now: now)
        addressCounter.failures += 1
        if addressCounter.failures >= addressFailures {
            // From now, not from the window's first failure: failures spread over the window would otherwise buy
            // a block of a minute or so instead of the documented 15 minutes.
            addressCounter.blockedUntil = now + window
        }
        addresses[address] = addressCounter
    }

    /// Checks and, when allowed, counts the attempt as a failure at once, in one step: concurrent attempts cannot
    /// all pass the check before any of them is counted. A success then takes it back (``recordSuccess``).
    mutating func begin(account: String, address: String, now: Double) -> Double? {
        if let wait = retryAfter(account: account, address: address, now: now) { return wait }
        recordFailure(account: account, address: address, now: now)
        return nil
    }

    mutating func recordSuccess(account: String, address: String) {
        accounts[account] = nil
        if var counter = addresses[address], counter.failures > 0 {
            counter.failures -= 1
            addresses[address] = counter
        }
    }

    private func current(_ counter: Counter?, now: Double) -> Counter {
        guard let counter, now - counter.windowStart < window || counter.blockedUntil > now else {
            return Counter(failures: 0, windowStart: now, blockedUntil: 0)
        }
        return counter
    }

    private mutating func prune(now: Double) {
        guard accounts.count + addresses.count >= maxEntries else { return }
        let window = window
        let stale = { (counter: Counter) in now - counter.windowStart >= window && counter.blockedUntil <= now }
        accounts = accounts.filter { !stale($0.value) }
        addresses = addresses.filter { !stale($0.value) }
        // Still full: forget the oldest counters that block nothing, rather than grow without bound. Active
        // blocks are always kept (they expire within `maxBlock`), so a spray cannot lift one.
        if accounts.count + addresses.count >= maxEntries {
            func trimmed(_ counters: [String: Counter]) -> [String: Counter] {
                let blocked = counters.filter { $0.value.blockedUntil > now }
                let rest = counters.filter { $0.value.blockedUntil <= now }
                    .sorted { $0.value.windowStart > $1.value.windowStart }.prefix(maxEntries / 4)
                return blocked.merging(rest.map { ($0.key, $0.value) }) { first, _ in first }
            }
            accounts = trimmed(accounts)
            addresses = trimmed(addresses)
        }
    }
}

/// The shared, locked ``LoginThrottleState`` of one board instance.
final class LoginThrottle: Sendable {
    private let state: Mutex<LoginThrottleState>
    private let clock: @Sendable () -> Double

    init(state: LoginThrottleState = LoginThrottleState(), clock: @escaping @Sendable () -> Double) {
        self.state = Mutex(state)
        self.clock = clock
    }

    /// Seconds to wait if the attempt is refused; otherwise `nil`, and the attempt is counted as a failure until
    /// ``recordSuccess`` takes it back.
    func begin(account: String, address: String) -> Double? {
        let now = clock()
        return state.withLock { $0.begin(account: account, address: address, now: now) }
    }

    func recordSuccess(account: String, address: String) {
        state.withLock { $0.recordSuccess(account: account, address: address) }
    }
}
