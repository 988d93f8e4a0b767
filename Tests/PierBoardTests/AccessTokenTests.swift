import Crypto
import Foundation
import PierBoardStore
import PierTesting
import PierTokens
import Synchronization
import Testing

@testable import PierBoard

final class TestClock: Sendable {
    let seconds: Atomic<Int64>

    init(_ start: Int64) { seconds = Atomic(start) }

    func advance(_ delta: Int64) { seconds.add(delta, ordering: .relaxed) }

    var now: @Sendable () -> Int64 { { self.seconds.load(ordering: .relaxed) } }
}

@Suite("Access tokens")
struct AccessTokenTests {
    @Test("issued tokens verify with the public key alone and carry the claims")
    func roundTrip() throws {
        let clock = TestClock(1_800_000_000)
        let issuer = AccessTokenIssuer(signingKey: Curve25519.Signing.PrivateKey(), clock: clock.now)
        let (token, claims) = try issuer.issue(userID: "u1", role: .supervisor)
        #expect(token.hasPrefix("v4.public."))
        #expect(claims.expiresAt - claims.issuedAt == 15 * 60)
        let verifier = AccessTokenIssuer(publicKey: issuer.publicKey, clock: clock.now)
        let verified = try verifier.verify(token)
        #expect(verified == claims)
        #expect(verified.role == .supervisor)
    }

    @Test("expired, tampered and foreign tokens are refused")
    func refusals() throws {
        let clock = TestClock(1_800_000_000)
        let issuer = AccessTokenIssuer(signingKey: Curve25519.Signing.PrivateKey(), clock: clock.now)
        let (token, _) = try issuer.issue(userID: "u1", role: .pic)
        clock.advance(15 * 60)
        #expect(throws: AccessTokenIssuer.VerificationError.expired) { try issuer.verify(token) }
        clock.advance(-15 * 60)
        var bytes = Array(token.utf8)
        bytes[20] = bytes[20] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        #expect(throws: AccessTokenIssuer.VerificationError.invalid) {
            try issuer.verify(String(decoding: bytes, as: UTF8.self))
        }
        let other = AccessTokenIssuer(signingKey: Curve25519.Signing.PrivateKey(), clock: clock.now)
        #expect(throws: AccessTokenIssuer.VerificationError.invalid) { try other.verify(token) }
        // A correctly signed PASETO without Pier's implicit assertion is not an access token.
        let key = try #require(issuer.signingKey)
        let foreign = try PASETOv4Public.sign(Array("{\"sub\":\"u1\",\"role\":\"supervisor\"}".utf8), with: key)
        #expect(throws: AccessTokenIssuer.VerificationError.invalid) { try issuer.verify(foreign) }
    }

    @Test("a token is refused before its nbf, with the same 30 s leeway as iat", arguments: [31, 365 * 24 * 3600])
    func notBefore(secondsAhead: Int64) throws {
        let clock = TestClock(1_800_000_000)
        let issuer = AccessTokenIssuer(signingKey: Curve25519.Signing.PrivateKey(), clock: clock.now)
        let key = try #require(issuer.signingKey)
        func token(nbf: String) throws -> String {
            let now = AccessTokenIssuer.rfc3339(clock.now())
            let claims = [
                "sub": "u1", "role": "pic", "iat": now, "exp": AccessTokenIssuer.rfc3339(clock.now() + 600 * 24 * 3600),
                "jti": "j", "nbf": nbf, "sv": "0",
            ]
            let message = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
            return try PASETOv4Public.sign(
                Array(message), with: key, implicitAssertion: AccessTokenIssuer.implicitAssertion)
        }
        let early = try token(nbf: AccessTokenIssuer.rfc3339(clock.now() + secondsAhead))
        #expect(throws: AccessTokenIssuer.VerificationError.invalid) { try issuer.verify(early) }
        #expect(throws: AccessTokenIssuer.VerificationError.invalid) { try issuer.verify(try token(nbf: "soon")) }
        clock.advance(secondsAhead - 30)
        #expect(try issuer.verify(early).subject == "u1")
        let withinLeeway = try token(nbf: AccessTokenIssuer.rfc3339(clock.now() + 30))
        #expect(try issuer.verify(withinLeeway).subject == "u1")
    }

    @Test("issued tokens carry nbf")
    func issuedNotBefore() throws {
        let key = Curve25519.Signing.PrivateKey()
        let issuer = AccessTokenIssuer(signingKey: key)
        let (token, claims) = try issuer.issue(userID: "u1", role: .pic)
        let verified = try PASETOv4Public.verify(
            token, with: key.publicKey, implicitAssertion: AccessTokenIssuer.implicitAssertion)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(verified.message)) as? [String: Any])
        #expect(object["nbf"] as? String == AccessTokenIssuer.rfc3339(claims.issuedAt))
    }

    @Test("refresh tokens are random and stored only as hashes")
    func refreshTokens() {
        let first = RefreshTokens.generate()
        let second = RefreshTokens.generate()
        #expect(first != second)
        #expect(first.hasPrefix("pr1."))
        #expect(RefreshTokens.hash(first).count == 64)
        #expect(RefreshTokens.hash(first) == RefreshTokens.hash(first))
        #expect(!RefreshTokens.hash(first).contains(first))
    }

    @Test("the signing key file is created once with mode 0600 and refused when others can read it")
    func keyFile() async throws {
        try await TemporaryDirectory.with { directory in
            let path = directory + "/keys/signing.paserk"
            let created = try SigningKeyFile.loadOrCreate(path: path)
            #expect(created.created)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let again = try SigningKeyFile.loadOrCreate(path: path)
            #expect(!again.created)
            #expect(again.key.rawRepresentation == created.key.rawRepresentation)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            #expect(throws: SigningKeyFile.Failure.self) { try SigningKeyFile.load(path: path) }
        }
    }
}
