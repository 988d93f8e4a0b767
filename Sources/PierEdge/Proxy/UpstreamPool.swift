import Logging
import NIOCore
import PierCore
import Synchronization

/// One back-end server of a pool: its health, its load, and its idle keep-alive connections per event loop.
///
/// Shared by all event loops and kept across reloads while the configuration still lists it, so health and
/// connections survive a reload. The counters read on every request are atomics.
final class UpstreamTarget: Sendable {
    let upstream: String
    let address: SocketAddressSpec
    /// The address ready to connect to when the target is an IP literal; host names are resolved per connect.
    let socketAddress: SocketAddress?
    let weight: Int
    let healthCheck: HealthCheckConfig?
    let passive: PassiveHealthConfig
    let keepalive: KeepaliveConfig
    let logger: Logger

    /// Requests in flight.
    let inFlight = Atomic<Int>(0)
    /// ``TargetHealth/Active`` raw value, readable without the lock.
    private let activeState: Atomic<UInt8>
    /// Uptime nanoseconds until which the target is ejected.
    private let ejectedUntil = Atomic<Int64>(0)
    private let consecutiveFailures = Atomic<Int>(0)
    private let draining = Atomic<Bool>(false)
    let requests = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let ejections = Atomic<Int>(0)
    private let health: Mutex<TargetHealth>
    /// Health-check bookkeeping: when the next check is due and whether one runs.
    let checkSchedule = Mutex<(next: NIODeadline, running: Bool)>((.uptimeNanoseconds(0), false))
    private let pools = Mutex<[ObjectIdentifier: LoopConnectionPool]>([:])

    init(upstream: String, config: UpstreamConfig, target: UpstreamTargetConfig, logger: Logger) {
        self.upstream = upstream
        self.address = target.address
        self.socketAddress = try? SocketAddress(ipAddress: target.address.host, port: target.address.port)
        self.weight = target.weight
        self.healthCheck = config.healthCheck
        self.passive = config.passive
        self.keepalive = config.keepalive
        self.logger = logger
        let initial = TargetHealth(checked: config.healthCheck != nil)
        self.health = Mutex(initial)
        self.activeState = Atomic(initial.active.rawValue)
    }

    /// The configuration this target was built from; a reload keeps the target only if it is unchanged.
    func matches(upstream: String, config: UpstreamConfig, target: UpstreamTargetConfig) -> Bool {
        self.upstream == upstream && address == target.address && weight == target.weight
            && healthCheck == config.healthCheck && passive == config.passive && keepalive == config.keepalive
    }

    var active: TargetHealth.Active { TargetHealth.Active(rawValue: activeState.load(ordering: .relaxed)) ?? .unknown }
    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Whether new requests may go to this target now.
    func isUsable(now: Int64) -> Bool {
        activeState.load(ordering: .relaxed) == TargetHealth.Active.healthy.rawValue
            && ejectedUntil.load(ordering: .relaxed) <= now && !draining.load(ordering: .relaxed)
    }

    /// Seconds left of a current ejection, if any.
    func ejectedFor(now: Int64) -> Double? {
        let until = ejectedUntil.load(ordering: .relaxed)
        return until > now ? Double(until - now) / 1e9 : nil
    }

    // MARK: - Passive health

    func recordSuccess() {
        guard consecutiveFailures.load(ordering: .relaxed) != 0 else { return }
        consecutiveFailures.store(0, ordering: .relaxed)
        health.withLock { $0.recovered() }
    }

    func recordFailure(_ reason: String) {
        failures.add(1, ordering: .relaxed)
        guard passive.consecutiveFailures > 0 else { return }
        let count = consecutiveFailures.add(1, ordering: .relaxed).newValue
        guard count >= passive.consecutiveFailures else { return }
        consecutiveFailures.store(0, ordering: .relaxed)
        let duration = health.withLock { $0.eject(base: passive.ejectFor) }
        let until = Int64(NIODeadline.now().uptimeNanoseconds) + Int64(TimeAmount(duration).nanoseconds)
        ejectedUntil.store(until, ordering: .relaxed)
        ejections.add(1, ordering: .relaxed)
        logger.warning(
            "upstream target ejected",
            metadata: [
                "pier.upstream": "\(upstream)", "pier.target": "\(address)", "pier.reason": "\(reason)",
                "pier.failures": "\(count)", "pier.eject_for": "\(ConfigDuration.format(duration))",
            ])
    }

    // MARK: - Active health

    /// Records an active check's result and logs a change of state.
    func recordCheck(passed: Bool, detail: String) {
        guard let check = healthCheck else { return }
        let change = health.withLock {
            $0.recordCheck(
                passed: passed, healthyThreshold: check.healthyThreshold, unhealthyThreshold: check.unhealthyThreshold)
        }
        guard let change else { return }
        activeState.store(change.rawValue, ordering: .relaxed)
        let metadata: Logger.Metadata = [
            "pier.upstream": "\(upstream)", "pier.target": "\(address)", "pier.check": "\(detail)",
        ]
        if change == .healthy {
            logger.notice("upstream target healthy", metadata: metadata)
        } else {
            logger.warning("upstream target unhealthy", metadata: metadata)
        }
    }

    // MARK: - Connections

    /// The idle connections of this target on `loop`.
    func pool(on loop: any EventLoop) -> LoopConnectionPool {
        let key = ObjectIdentifier(loop)
        return pools.withLock { pools in
            if let pool = pools[key] { return pool }
            let pool = LoopConnectionPool(loop: loop, keepalive: keepalive)
            pools[key] = pool
            return pool
        }
    }

    func connectionClosed(_ connection: UpstreamConnection) {
        guard let loop = connection.channel?.eventLoop else { return }
        pools.withLock { $0[ObjectIdentifier(loop)] }?.remove(connection)
    }

    /// Stops new requests; idle connections close now, busy ones when their exchange ends.
    func drain() {
        draining.store(true, ordering: .relaxed)
        let all = pools.withLock { Array($0.values) }
        for pool in all { pool.loop.execute { pool.closeAll() } }
    }
}

/// The idle keep-alive connections to one target on one event loop. Used only on that loop.
final class LoopConnectionPool: @unchecked Sendable {
    let loop: any EventLoop
    let keepalive: KeepaliveConfig
    private var idle: [UpstreamConnection] = []
    private var sweeper: Scheduled<Void>?
    private var closed = false

    init(loop: any EventLoop, keepalive: KeepaliveConfig) {
        self.loop = loop
        self.keepalive = keepalive
    }

    var idleCount: Int { idle.count }

    /// The most recently used idle connection that is still open, if any.
    func take() -> UpstreamConnection? {
        while let connection = idle.popLast() {
            if connection.isOpen && connection.pending == nil { return connection }
            connection.close()
        }
        return nil
    }

    /// Returns a connection after a complete exchange; closes it when the pool is full or drained.
    func release(_ connection: UpstreamConnection) {
        connection.owner = nil
        guard !closed, connection.isOpen, idle.count < keepalive.maxIdlePerTarget else {
            connection.close()
            return
        }
        connection.idleSince = .now()
        idle.append(connection)
        if sweeper == nil { scheduleSweep() }
    }

    func remove(_ connection: UpstreamConnection) {
        idle.removeAll { $0 === connection }
    }

    func closeAll() {
        closed = true
        sweeper?.cancel()
        sweeper = nil
        let connections = idle
        idle = []
        for connection in connections { connection.close() }
    }

    /// Closes connections idle for longer than `idle_timeout`; runs only while there are idle connections.
    private func scheduleSweep() {
        let period = min(TimeAmount(keepalive.idleTimeout), .seconds(1))
        sweeper = loop.assumeIsolated().scheduleTask(in: period) { [self] in
            sweeper = nil
            let cutoff = NIODeadline.now() - TimeAmount(keepalive.idleTimeout)
            let expired = idle.filter { $0.idleSince <= cutoff }
            if !expired.isEmpty {
                idle.removeAll { $0.idleSince <= cutoff }
                for connection in expired { connection.close() }
            }
            if !idle.isEmpty && !closed { scheduleSweep() }
        }
    }
}

/// A pool of targets with its balancing and retry budget, as configured at one point in time.
final class UpstreamPool: Sendable {
    let name: String
    let config: UpstreamConfig
    let targets: [UpstreamTarget]
    /// Round-robin order with each target as often as its weight, interleaved.
    private let schedule: [Int]
    /// Consistent-hash ring: points sorted by hash, each naming a target index.
    private let ring: [(point: UInt64, target: Int)]
    private let counter = Atomic<Int>(0)
    private let requestCount = Atomic<Int>(0)
    private let budget = Mutex(RetryBudgetState())

    init(name: String, config: UpstreamConfig, targets: [UpstreamTarget]) {
        self.name = name
        self.config = config
        self.targets = targets
        self.schedule = Self.interleave(weights: targets.map(\.weight))
        var ring: [(point: UInt64, target: Int)] = []
        if config.balance == .hash {
            for (index, target) in targets.enumerated() {
                for replica in 0..<(target.weight * 100) {
                    ring.append((Self.hash("\(target.address)#\(replica)"), index))
                }
            }
            ring.sort { $0.point < $1.point }
        }
        self.ring = ring
    }

    /// Smooth weighted round robin: spreads each target's turns evenly across one cycle.
    static func interleave(weights: [Int]) -> [Int] {
        let total = weights.reduce(0, +)
        var current = [Int](repeating: 0, count: weights.count)
        var order: [Int] = []
        order.reserveCapacity(total)
        for _ in 0..<total {
            var best = 0
            for index in weights.indices {
                current[index] += weights[index]
                if current[index] > current[best] { best = index }
            }
            current[best] -= total
            order.append(best)
        }
        return order
    }

    /// FNV-1a, then a final mix: stable across processes, so every edge replica maps a key to the same target.
    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }

    func countRequest() {
        requestCount.add(1, ordering: .relaxed)
    }

    /// Whether the retry budget allows one more retry (and takes it).
    func allowRetry() -> Bool {
        let second = Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
        let requests = requestCount.load(ordering: .relaxed)
        return budget.withLock {
            $0.tryRetry(
                now: second, requestsSoFar: requests, ratio: config.retryBudget.ratio,
                minPerSecond: config.retryBudget.minPerSecond)
        }
    }

    /// Chooses a usable target that is not in `excluded`, or `nil` when none is left.
    func pick(hashKey: String?, excluded: [Int], now: Int64) -> Int? {
        let count = targets.count
        func eligible(_ index: Int) -> Bool {
            !excluded.contains(index) && targets[index].isUsable(now: now)
        }
        switch config.balance {
        case .roundRobin:
            let start = counter.add(1, ordering: .relaxed).newValue
            for offset in 0..<schedule.count {
                let index = schedule[(start &+ offset) % schedule.count]
                if eligible(index) { return index }
            }
            return nil
        case .leastRequests:
            let start = counter.add(1, ordering: .relaxed).newValue
            var best: Int?
            var bestLoad = Double.infinity
            for offset in 0..<count {
                let index = (start &+ offset) % count
                guard eligible(index) else { continue }
                let load = Double(targets[index].inFlight.load(ordering: .relaxed)) / Double(targets[index].weight)
                if load < bestLoad {
                    best = index
                    bestLoad = load
                }
            }
            return best
        case .p2c:
            let candidates = (0..<count).filter(eligible)
            guard let first = candidates.randomElement() else { return nil }
            guard candidates.count > 1 else { return first }
            var second = candidates.randomElement()!
            while second == first { second = candidates.randomElement()! }
            func load(_ index: Int) -> Double {
                Double(targets[index].inFlight.load(ordering: .relaxed)) / Double(targets[index].weight)
            }
            return load(second) < load(first) ? second : first
        case .hash:
            guard !ring.isEmpty else { return nil }
            guard let hashKey else {
                // No key in this request: spread it like round robin.
                let start = counter.add(1, ordering: .relaxed).newValue
                for offset in 0..<count where eligible((start &+ offset) % count) { return (start &+ offset) % count }
                return nil
            }
            let point = Self.hash(hashKey)
            var low = 0
            var high = ring.count
            while low < high {
                let middle = (low + high) / 2
                if ring[middle].point < point { low = middle + 1 } else { high = middle }
            }
            for offset in 0..<ring.count {
                let index = ring[(low + offset) % ring.count].target
                if eligible(index) { return index }
            }
            return nil
        }
    }
}

/// Keeps targets alive across reloads: a new configuration reuses the target objects (health, connections) of
/// entries that did not change, and drains the ones it no longer lists.
public final class UpstreamRegistry: Sendable {
    private let logger: Logger
    private let active = Mutex<[UpstreamTarget]>([])

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Pools for a configuration, reusing current targets where they match.
    func makePools(_ upstreams: [String: UpstreamConfig]) -> [String: UpstreamPool] {
        let current = active.withLock { $0 }
        var pools: [String: UpstreamPool] = [:]
        for (name, config) in upstreams {
            let targets = config.targets.map { targetConfig in
                current.first { $0.matches(upstream: name, config: config, target: targetConfig) }
                    ?? UpstreamTarget(upstream: name, config: config, target: targetConfig, logger: logger)
            }
            pools[name] = UpstreamPool(name: name, config: config, targets: targets)
        }
        return pools
    }

    /// Makes `pools` the ones in force; targets no longer used are drained.
    func activate(_ pools: [String: UpstreamPool]) {
        let targets = pools.values.flatMap(\.targets)
        let removed = active.withLock { active -> [UpstreamTarget] in
            let removed = active.filter { old in !targets.contains { $0 === old } }
            active = targets
            return removed
        }
        for target in removed {
            logger.notice(
                "upstream target removed; draining",
                metadata: ["pier.upstream": "\(target.upstream)", "pier.target": "\(target.address)"])
            target.drain()
        }
    }

    /// Every target in force.
    var targets: [UpstreamTarget] { active.withLock { $0 } }
}
