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
