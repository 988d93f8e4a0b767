import Crypto
import Foundation
import PierTokens
import Synchronization

/// The token check of one `auth:` route: finds the token in the request, verifies it with the route's key set and
/// remembers the outcome, so a client's repeated requests with the same token cost a dictionary lookup instead of
/// an Ed25519 verification.
final class EdgeAuthenticator: Sendable {
    /// Who a verified token speaks for, forwarded as `X-Pier-User` and `X-Pier-Role`.
    struct Identity: Sendable, Equatable {
        var user: String
        var role: String?
    }

    /// Why a request is refused.
    enum Refusal: Error, Sendable, Equatable {
        /// No `Authorization` field and no cookie.
        case missing
        /// `Authorization` is there but not `Bearer <token>`.
        case notBearer
        /// Not a token, not signed with the key, or not valid yet.
        case invalid
        case expired
        /// The key could not be fetched: the edge cannot check tokens.
        case unavailable
    }

    enum Outcome: Equatable {
        case allowed(Identity)
        case refused(Refusal)
        /// The token does not verify with the key in hand and the key may have changed: fetch it, then check again.
        case fetchKeys
    }

    let keys: TokenKeySet
    private let leeway: Int64
    private let cookie: String?
    private final class Shard: Sendable {
        let tokens: Mutex<VerifiedTokens>
        init(capacity: Int) { tokens = Mutex(VerifiedTokens(capacity: capacity)) }
    }

    private let shards: [Shard]

    /// Tokens longer than this are refused unread.
    static let maxTokenBytes = 4096

    init(keys: TokenKeySet, shardCount: Int = 16, capacityPerShard: Int = 8192) {
        self.keys = keys
        self.leeway = keys.config.leeway.components.seconds
        self.cookie = keys.config.cookie
        self.shards = (0..<shardCount).map { _ in Shard(capacity: capacityPerShard) }
    }

    /// Checks the exchange's token. `mayFetch`: whether a token that does not verify may wait for the key to be
    /// fetched again (once per request).
    func check(_ exchange: EdgeExchange, mayFetch: Bool) -> Outcome {
        let now = Int64(exchange.epochSeconds)
        let shard = exchange.traits.loopIndex
        // Remembered by the field's value as received, so a known token costs no copy of it.
        if let authorization = exchange.request.headers.first(.authorization) {
            return check(credential: authorization, bearer: true, now: now, shard: shard, mayFetch: mayFetch)
        }
        if let cookie, let value = exchange.keyValue(.cookie(cookie)), !value.isEmpty {
            return check(credential: value, bearer: false, now: now, shard: shard, mayFetch: mayFetch)
        }
        return .refused(.missing)
    }

    /// Checks a bare token.
    func check(token: String, now: Int64, shard: Int, mayFetch: Bool) -> Outcome {
        check(credential: token, bearer: false, now: now, shard: shard, mayFetch: mayFetch)
    }

    /// Checks an `Authorization` value (`bearer`) or a bare token.
    private func check(credential: String, bearer: Bool, now: Int64, shard index: Int, mayFetch: Bool) -> Outcome {
        guard credential.utf8.count <= Self.maxTokenBytes + 16 else { return .refused(.invalid) }
        let shard = shards[max(0, index) % shards.count]
        let generation = keys.currentGeneration
        if let known = shard.tokens.withLock({ $0.lookup(credential) }), known.generation == generation {
            return evaluate(known.claims, now: now)
        }
        var token = credential
        if bearer {
            guard let parsed = Self.bearerToken(credential) else { return .refused(.notBearer) }
            token = parsed
        }
        guard token.utf8.count <= Self.maxTokenBytes else { return .refused(.invalid) }
        guard let current = keys.current else {
            return mayFetch && keys.shouldRefetch() ? .fetchKeys : .refused(.unavailable)
        }
        switch TokenClaims.verify(token, key: current.key, implicitAssertion: current.implicitAssertion) {
        case .success(let claims):
            shard.tokens.withLock {
                $0.insert(credential, VerifiedTokens.Entry(claims: claims, generation: current.generation))
            }
            return evaluate(claims, now: now)
        case .failure(.malformed):
            return .refused(.invalid)
        case .failure(.signature):
            // Perhaps signed with a key the publisher has moved to since the edge fetched it.
            return mayFetch && keys.shouldRefetch() ? .fetchKeys : .refused(.invalid)
        }
    }

    /// The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1; the scheme in any case).
    static func bearerToken(_ authorization: String) -> String? {
        let value = authorization[...].trimmingASCIISpaces()
        guard value.utf8.count > 7, value.utf8.prefix(6).elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 }),
            value.utf8.dropFirst(6).first == UInt8(ascii: " ")
        else { return nil }
        let token = value.dropFirst(7).trimmingASCIISpaces()
        return token.isEmpty ? nil : String(token)
    }

    private func evaluate(_ claims: TokenClaims, now: Int64) -> Outcome {
        if let notBefore = claims.notBefore, notBefore > now + leeway { return .refused(.invalid) }
        if let issuedAt = claims.issuedAt, issuedAt > now + leeway { return .refused(.invalid) }
        guard now < claims.expiresAt else { return .refused(.expired) }
        return .allowed(claims.identity)
    }
}

/// The claims of a verified token that the edge uses.
struct TokenClaims: Sendable, Equatable {
    var identity: EdgeAuthenticator.Identity
    /// Seconds since 1970.
    var expiresAt: Int64
    var notBefore: Int64?
    var issuedAt: Int64?

    enum Failure: Error, Equatable {
        /// Not a v4.public token, or its claims are not what the edge needs (`sub`, `exp` as RFC 3339).
        case malformed
        /// Well formed, but the signature does not verify with the key and assertion.
        case signature
    }

    /// Verifies `token` and reads its claims: `sub` (required), `role`, `exp` (required), `nbf`, `iat`.
    static func verify(
        _ token: String, key: Curve25519.Signing.PublicKey, implicitAssertion: [UInt8]
    ) -> Result<TokenClaims, Failure> {
        let message: [UInt8]
        do {
            message = try PASETOv4Public.verify(token, with: key, implicitAssertion: implicitAssertion).message
        } catch .invalidSignature {
            return .failure(.signature)
        } catch {
            return .failure(.malformed)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(message)) as? [String: Any],
            let subject = object["sub"] as? String, isFieldSafe(subject),
            let expiresText = object["exp"] as? String, let expiresAt = RFC3339.seconds(expiresText)
        else { return .failure(.malformed) }
        var claims = TokenClaims(identity: .init(user: subject, role: nil), expiresAt: expiresAt)
        if let role = object["role"] {
            guard let text = role as? String, isFieldSafe(text) else { return .failure(.malformed) }
            claims.identity.role = text
        }
        // Present but not a time: the token is refused rather than taken as unrestricted.
        for (name, path) in [("nbf", \TokenClaims.notBefore), ("iat", \TokenClaims.issuedAt)] {
            guard let value = object[name] else { continue }
            guard let text = value as? String, let seconds = RFC3339.seconds(text) else { return .failure(.malformed) }
            claims[keyPath: path] = seconds
        }
        return .success(claims)
    }

    /// Whether a claim can go into a header field as it is: 1 to 256 visible ASCII characters or spaces.
    static func isFieldSafe(_ text: String) -> Bool {
        let bytes = text.utf8
        return !bytes.isEmpty && bytes.count <= 256 && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }
}

/// Tokens verified recently, in two generations: when the current one is full it becomes the previous one (and
/// the older previous one is dropped), so memory stays bounded and tokens in use stay.
struct VerifiedTokens {
    struct Entry {
        var claims: TokenClaims
        var generation: Int
    }

    let capacity: Int
    private var current: [String: Entry] = [:]
    private var previous: [String: Entry] = [:]

    init(capacity: Int) {
        self.capacity = max(2, capacity / 2)
    }

    var count: Int { current.count + previous.count }

    mutating func lookup(_ token: String) -> Entry? {
        if let entry = current[token] { return entry }
        guard let entry = previous.removeValue(forKey: token) else { return nil }
        insert(token, entry)
        return entry
    }

    mutating func insert(_ token: String, _ entry: Entry) {
        if current.count >= capacity {
            previous = current
            current = [:]
            current.reserveCapacity(capacity)
        }
        current[token] = entry
    }
}
