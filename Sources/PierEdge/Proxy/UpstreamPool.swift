import NIOCore
import PierCore
import Synchronization

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
