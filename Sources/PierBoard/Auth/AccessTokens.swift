import Crypto
import Foundation
import PierBoardStore
import PierCore
import PierTokens

/// The claims of a Pier access token.
public struct AccessClaims: Sendable, Hashable {
    /// The user id.
    public var subject: String
    public var role: UserRole
    /// Seconds since 1970.
    public var issuedAt: Int64
    /// Seconds since 1970.
    public var expiresAt: Int64
    /// A unique token id.
    public var tokenID: String
    /// The account's ``User/sessionVersion`` when the token was issued; the token is void once it changes.
    public var sessionVersion: Int64

    public init(
        subject: String, role: UserRole, issuedAt: Int64, expiresAt: Int64, tokenID: String, sessionVersion: Int64
    ) {
        self.subject = subject
        self.role = role
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
        self.sessionVersion = sessionVersion
    }
}

/// Issues and verifies access tokens: PASETO v4.public (Ed25519), claims `sub`, `role`, `iat`, `nbf`, `exp`, `jti`
/// and `sv` (the account's session version, a decimal string), with times as RFC 3339 strings as the PASETO
/// specification recommends.
///
/// Verification needs only the public key, so any number of board instances (or the edge) can check tokens.
public struct AccessTokenIssuer: Sendable {
    /// Implicit assertion binding tokens to Pier, so a token minted for another purpose with the same key never
    /// verifies here.
    public static let implicitAssertion = Array("pier.access.v1".utf8)

    public let signingKey: Curve25519.Signing.PrivateKey?
    public let publicKey: Curve25519.Signing.PublicKey
    /// Token lifetime in seconds (15 minutes by default).
    public let lifetime: Int64
    let clock: @Sendable () -> Int64
    /// Accepted clock difference between instances, in seconds.
    let leeway: Int64 = 30

    /// Why a token was refused; deliberately without detail for the client.
    public enum VerificationError: Error, Sendable, Equatable {
        case invalid
        case expired
    }

    public init(
        signingKey: Curve25519.Signing.PrivateKey,
        lifetime: Int64 = 15 * 60,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.signingKey = signingKey
        self.publicKey = signingKey.publicKey
        self.lifetime = lifetime
        self.clock = clock
    }

    /// A verifier that cannot issue tokens.
    public init(
        publicKey: Curve25519.Signing.PublicKey,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.signingKey = nil
        self.publicKey = publicKey
        self.lifetime = 0
        self.clock = clock
    }

    /// Issues a token for a user.
    public func issue(userID: String, role: UserRole, sessionVersion: Int64 = 0) throws -> (
        token: String, claims: AccessClaims
    ) {
        guard let signingKey else { throw VerificationError.invalid }
        let now = clock()
        let claims = AccessClaims(
            subject: userID, role: role, issuedAt: now, expiresAt: now + lifetime, tokenID: Self.randomID(),
            sessionVersion: sessionVersion)
        let payload: [String: String] = [
            "sub": claims.subject,
            "role": claims.role.rawValue,
            "iat": Self.rfc3339(claims.issuedAt),
            "nbf": Self.rfc3339(claims.issuedAt),
            "exp": Self.rfc3339(claims.expiresAt),
            "jti": claims.tokenID,
            "sv": String(claims.sessionVersion),
        ]
        let message = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let token = try PASETOv4Public.sign(Array(message), with: signingKey, implicitAssertion: Self.implicitAssertion)
        return (token, claims)
    }

    /// Verifies a token's signature and lifetime and returns its claims.
    public func verify(_ token: String) throws(VerificationError) -> AccessClaims {
        guard token.utf8.count < 4096,
            let verified = try? PASETOv4Public.verify(
                token, with: publicKey, footer: [], implicitAssertion: Self.implicitAssertion),
            let object = try? JSONSerialization.jsonObject(with: Data(verified.message)) as? [String: Any],
            let subject = object["sub"] as? String, let roleText = object["role"] as? String,
            let role = UserRole(rawValue: roleText),
            let issuedText = object["iat"] as? String, let issuedAt = RFC3339.seconds(issuedText),
            let expiresText = object["exp"] as? String, let expiresAt = RFC3339.seconds(expiresText),
            let tokenID = object["jti"] as? String,
            let sessionText = object["sv"] as? String, let sessionVersion = Int64(sessionText)
        else { throw .invalid }
        // `nbf` is optional in PASETO; when present it is honoured with the same leeway as `iat`, and a value that
        // is not a time makes the token invalid rather than unrestricted.
        var notBefore = issuedAt
        if let value = object["nbf"] {
            guard let text = value as? String, let parsed = RFC3339.seconds(text) else { throw .invalid }
            notBefore = parsed
        }
        let now = clock()
        guard issuedAt <= now + leeway, notBefore <= now + leeway else { throw .invalid }
        guard now < expiresAt else { throw .expired }
        return AccessClaims(
            subject: subject, role: role, issuedAt: issuedAt, expiresAt: expiresAt, tokenID: tokenID,
            sessionVersion: sessionVersion)
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func rfc3339(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }
}

/// Refresh tokens: 256 random bits handed to the client once; only their SHA-256 is stored.
public enum RefreshTokens {
    /// A new token.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "pr1." + Base64URL.encode(bytes)
    }

    /// The stored form of a token.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
