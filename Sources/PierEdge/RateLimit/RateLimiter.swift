import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The generic cell rate algorithm: a token bucket kept as one number per key, the *theoretical arrival time*
/// (TAT) — when the bucket would be full again. Pure: times are nanoseconds of a monotonic clock.
struct RateLimitPolicy: Sendable, Hashable {
    /// Nanoseconds between two requests at the sustained rate.
    let interval: Int64
    /// How far ahead of now the TAT may run: `burst` intervals.
    let capacity: Int64

    init(interval: Int64, burst: Int) {
        self.interval = interval
        self.capacity = interval * Int64(burst)
    }

    enum Decision: Equatable {
        /// `remaining` more requests would be allowed now; the bucket is full again in `fullIn` nanoseconds.
        case allowed(remaining: Int, fullIn: Int64)
        /// Refused; one request is allowed again in `retryIn` nanoseconds.
        case limited(retryIn: Int64, fullIn: Int64)
    }

    /// The decision for a request at `now` for a key whose TAT is `tat` (`nil`: a key not seen, or dropped), and
    /// the TAT to keep (`nil`: unchanged).
    func decide(tat: Int64?, now: Int64) -> (Decision, newTAT: Int64?) {
        let base = max(tat ?? now, now)
        let next = base + interval
        let ahead = next - now
        if ahead > capacity {
            return (.limited(retryIn: ahead - capacity, fullIn: base - now), nil)
        }
        return (.allowed(remaining: Int((capacity - ahead) / interval), fullIn: ahead), next)
    }
}

/// The buckets of one route's `rate_limit`, shared by every event loop.
///
/// Keys are hashed with the process's random seed (so clients cannot aim collisions) into 16 shards, each behind
/// its own lock. Memory is bounded by `max_keys`: a shard keeps two generations of at most half its share each;
/// when the newer is full, the older is dropped and the newer takes its place. A key seen again is moved to the
/// newer generation, so only keys idle for a whole generation are dropped, and a dropped key only starts again
/// with a full bucket — what an idle bucket would have refilled to anyway unless a flood of new keys turned the
/// generations over first.
final class RateLimiter: Sendable {
    let config: RateLimitConfig
    let policy: RateLimitPolicy
    /// `RateLimit-Policy`, rendered for the route's answers.
    let policyField: String
    /// The policy's name in the `RateLimit` field, quoted.
    let quotedName: String
    private let shards: [Shard]
    private let limitedCount = Atomic<Int>(0)

    private static let shardCount = 16

    private final class Shard: Sendable {
        struct Generations {
            var current: [UInt64: Int64] = [:]
            var previous: [UInt64: Int64] = [:]
        }
        let state = Mutex(Generations())
    }

    /// - Parameter name: the route's label, which names the policy.
    init(config: RateLimitConfig, name: String) {
        self.config = config
        policy = RateLimitPolicy(interval: config.intervalNanoseconds, burst: config.burst)
        let safeName = String(name.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" })
        quotedName = "\"\(safeName.isEmpty ? "default" : safeName)\""
        policyField = "\(quotedName);q=\(config.requests);w=\(config.windowSeconds)"
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    /// Buckets one generation of a shard holds.
    private var generationLimit: Int { max(1, config.maxKeys / Self.shardCount / 2) }

    /// Counts a request of `key` at `now` (monotonic nanoseconds).
    func admit(key: UInt64, now: Int64) -> RateLimitPolicy.Decision {
        let shard = shards[Int(truncatingIfNeeded: key >> 60) & (Self.shardCount - 1)]
        let limit = generationLimit
        let decision: RateLimitPolicy.Decision = shard.state.withLock { state in
            var tat = state.current[key]
            if tat == nil { tat = state.previous.removeValue(forKey: key) }
            let (decision, newTAT) = policy.decide(tat: tat, now: now)
            if let newTAT {
                store(newTAT)
            } else if let tat {
                // Refused: the bucket stays as it was (moved to the newer generation).
                store(tat)
            }
            return decision

            func store(_ value: Int64) {
                if state.current[key] == nil, state.current.count >= limit {
                    state.previous = state.current
                    state.current = Dictionary(minimumCapacity: limit)
                }
                state.current[key] = value
            }
        }
        if case .limited = decision { limitedCount.add(1, ordering: .relaxed) }
        return decision
    }

    /// Requests refused since the route's limiter was made.
    var limited: Int { limitedCount.load(ordering: .relaxed) }

    /// Buckets held now, both generations.
    var keys: Int {
        shards.reduce(0) { total, shard in
            total + shard.state.withLock { $0.current.count + $0.previous.count }
        }
    }

    /// The `RateLimit` field's value for a decision: the requests left and the seconds until the bucket is full.
    func stateField(_ decision: RateLimitPolicy.Decision) -> String {
        switch decision {
        case .allowed(let remaining, let fullIn):
            "\(quotedName);r=\(remaining);t=\(Self.seconds(roundingUp: fullIn))"
        case .limited(_, let fullIn):
            "\(quotedName);r=0;t=\(Self.seconds(roundingUp: fullIn))"
        }
    }

    static func seconds(roundingUp nanoseconds: Int64) -> Int64 {
        nanoseconds <= 0 ? 0 : (nanoseconds + 999_999_999) / 1_000_000_000
    }

    // MARK: - Keys

    /// The bucket key of a request: the configured header or cookie, else the client's address (an IPv6 client by
    /// its /64, since one subscriber holds a whole /64).
    static func key(of exchange: EdgeExchange, _ key: RateLimitConfig.Key) -> UInt64 {
        var hasher = Hasher()
        switch key {
        case .clientIP:
            break
        case .header, .cookie:
            if let value = exchange.keyValue(key) {
                hasher.combine(1 as UInt8)
                hasher.combine(value)
                return UInt64(bitPattern: Int64(hasher.finalize()))
            }
        }
        hasher.combine(0 as UInt8)
        combineAddress(exchange.remoteAddress, into: &hasher)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// An IPv4 address as it is; an IPv6 one by its first 64 bits.
    static func combineAddress(_ address: String, into hasher: inout Hasher) {
        guard address.utf8.contains(UInt8(ascii: ":")) else {
            hasher.combine(address)
            return
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, address, &bytes) == 1 else {
            hasher.combine(address)
            return
        }
        if bytes[0..<12].elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) {
            // An IPv4-mapped address is its IPv4 address.
            hasher.combine("\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])")
        } else {
            bytes.withUnsafeBytes { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<8])) }
        }
    }
}

/// The routes' limiters, kept across reloads for as long as a route keeps its label and `rate_limit`, so a reload
/// does not hand every client a full bucket.
public final class RateLimiterRegistry: Sendable {
    private struct Key: Hashable {
        var label: String
        var config: RateLimitConfig
        /// Among routes of the same label and limit, which one.
        var ordinal: Int
    }

    private let limiters = Mutex<[Key: RateLimiter]>([:])

    public init() {}

    /// The limiter of each route (by its label and `rate_limit`), made on first use; limiters no route uses any more
    /// are dropped.
    func limiters(for routes: [(label: String, config: RateLimitConfig?)]) -> [RateLimiter?] {
        limiters.withLock { known in
            var kept: [Key: RateLimiter] = [:]
            var seen: [String: Int] = [:]
            let result: [RateLimiter?] = routes.map { route in
                guard let config = route.config else { return nil }
                let ordinal = seen[route.label, default: 0]
                seen[route.label] = ordinal + 1
                let key = Key(label: route.label, config: config, ordinal: ordinal)
                let limiter = kept[key] ?? known[key] ?? RateLimiter(config: config, name: route.label)
                kept[key] = limiter
                return limiter
            }
            known = kept
            return result
        }
    }
}
