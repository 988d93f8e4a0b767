import Hummingbird
import HummingbirdBcrypt
import NIOCore
import NIOPosix
import Synchronization

/// bcrypt on a thread pool of its own, never on an event loop or a cooperative thread.
///
/// Not NIO's shared pool: SQLite statements and the edge's file lookups run there, and a burst of sign-ins (a
/// quarter of a second each at cost 12) would otherwise make them wait behind it.
public final class PasswordHasher: Sendable {
    /// One thread per core, started on first use and kept for the process's life.
    public static let sharedPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: System.coreCount)
        pool.start()
        return pool
    }()

    /// The lowest cost accepted (the floor); 12 is the default.
    public static let minimumCost: UInt8 = 10

    public let cost: UInt8
    private let pool: NIOThreadPool
    /// A hash of a random password at the same cost, verified when an email is unknown so that such a sign-in
    /// takes as long as a wrong password.
    private let dummy = Mutex<String?>(nil)

    public init(cost: UInt8, pool: NIOThreadPool = PasswordHasher.sharedPool) {
        precondition(cost >= Self.minimumCost && cost <= 31, "bcrypt cost out of range")
        self.cost = cost
        self.pool = pool
    }

    public func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await pool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await pool.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Whether a stored hash was made at another cost than this hasher's (`$2b$12$…`): it is then rehashed at the
    /// next sign-in, so every active account costs the same to check and timing tells nothing about which
    /// emails exist.
    public func needsRehash(_ hash: String) -> Bool {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count >= 4, let stored = UInt8(parts[2]) else { return false }
        return stored != cost
    }

    /// Computes the stand-in hash ahead of the first sign-in, so that one is not slower either.
    public func prepare() async throws {
        guard dummy.withLock({ $0 }) == nil else { return }
        let hash = try await self.hash(AccountRules.generatePassword())
        dummy.withLock { $0 = $0 ?? hash }
    }

    /// Spends the time of one verification without a real hash.
    public func verifyNothing(_ password: String) async throws {
        try await prepare()
        guard let hash = dummy.withLock({ $0 }) else { return }
        _ = try await verify(password, hash: hash)
    }
}
