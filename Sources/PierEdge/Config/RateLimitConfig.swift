/// `rate_limit:` of a route: a token bucket per key (client address, a header or a cookie), refilled at
/// `requests` per `per` and holding at most `burst` requests.
///
/// Limits hold per edge process: with several edge replicas, a client spread over them gets up to the sum.
public struct RateLimitConfig: Sendable, Hashable {
    /// What a bucket belongs to: the client's address (IPv6 addresses by their /64), or a request header or cookie
    /// (requests without it count by client address).
    public typealias Key = UpstreamConfig.HashKey

    /// Requests added to a bucket every `per`.
    public var requests: Int
    /// Whole seconds (the window `RateLimit-Policy` announces).
    public var per: Duration
    /// Requests a full bucket allows at once; `requests` when not given.
    public var burst: Int
    public var key: Key
    /// Most buckets kept at once; beyond it the least recently used are dropped (they start full again).
    public var maxKeys: Int

    public init(
        requests: Int, per: Duration = .seconds(1), burst: Int? = nil, key: Key = .clientIP,
        maxKeys: Int = 100_000
    ) {
        self.requests = requests
        self.per = per
        self.burst = burst ?? requests
        self.key = key
        self.maxKeys = maxKeys
    }

    /// Nanoseconds between two requests at the sustained rate.
    var intervalNanoseconds: Int64 {
        let (seconds, attoseconds) = per.components
        return max(1, (seconds * 1_000_000_000 + attoseconds / 1_000_000_000) / Int64(requests))
    }

    /// The window in whole seconds.
    var windowSeconds: Int { Int(per.components.seconds) }
}
