import Logging
import NIOCore
import Synchronization

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
