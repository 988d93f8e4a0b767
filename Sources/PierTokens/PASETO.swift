import Crypto
import Foundation
import PierCore

/// PASETO version 4, `public` purpose: Ed25519-signed tokens, implemented from the specification
/// (https://github.com/paseto-standard/paseto-spec, `docs/01-Protocol-Versions/Version4.md`).
///
/// The payload is not encrypted, only signed. Footers are authenticated but not encrypted; an implicit assertion
/// is authenticated without being part of the token.
public enum PASETOv4Public {
    static let header = "v4.public."
    static let signatureLength = 64

    /// Why a token was refused. Deliberately coarse: callers must not learn which check failed.
    public enum VerificationError: Error, Sendable, Equatable {
        /// Wrong version or purpose, bad encoding, or too short.
        case malformed
        /// The footer differs from the one required.
        case footerMismatch
        /// The signature does not verify with the given key.
        case invalidSignature
    }

    /// Signs `message` and returns the token.
    public static func sign(
        _ message: [UInt8],
        with key: Curve25519.Signing.PrivateKey,
        footer: [UInt8] = [],
        implicitAssertion: [UInt8] = []
    ) throws -> String {
        let preAuthentication = preAuthenticationEncoding([Array(header.utf8), message, footer, implicitAssertion])
        let signature = try key.signature(for: preAuthentication)
        var token = header + Base64URL.encode(message + Array(signature))
        if !footer.isEmpty { token += "." + Base64URL.encode(footer) }
        return token
    }

    /// Verifies a token and returns its message.
    ///
    /// - Parameter footer: the footer the token must carry; `nil` accepts any footer (it is still authenticated).
    public static func verify(
        _ token: String,
        with key: Curve25519.Signing.PublicKey,
        footer expectedFooter: [UInt8]? = nil,
        implicitAssertion: [UInt8] = []
    ) throws(VerificationError) -> (message: [UInt8], footer: [UInt8]) {
        guard token.hasPrefix(header) else { throw .malformed }
        let parts = token.dropFirst(header.utf8.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { throw .malformed }
        guard let body = Base64URL.decode(parts[0]), body.count >= signatureLength else { throw .malformed }
        var footer: [UInt8] = []
        if parts.count == 2 {
            guard !parts[1].isEmpty, let decoded = Base64URL.decode(parts[1]) else { throw .malformed }
            footer = decoded
        }
        if let expectedFooter, !constantTimeEqual(expectedFooter, footer) { throw .footerMismatch }
        let message = Array(body.dropLast(signatureLength))
        let signature = Array(body.suffix(signatureLength))
        let preAuthentication = preAuthenticationEncoding([Array(header.utf8), message, footer, implicitAssertion])
        guard key.isValidSignature(signature, for: preAuthentication) else { throw .invalidSignature }
        return (message, footer)
    }

    /// PAE from the PASETO specification: the piece count, then each piece's length and bytes,
    /// every length as a little-endian 64-bit integer with the top bit cleared.
    static func preAuthenticationEncoding(_ pieces: [[UInt8]]) -> [UInt8] {
        var output = [UInt8]()
        output.reserveCapacity(8 + pieces.reduce(0) { $0 + 8 + $1.count })
        func appendLength(_ value: Int) {
            var number = UInt64(value) & 0x7FFF_FFFF_FFFF_FFFF
            for _ in 0..<8 {
                output.append(UInt8(truncatingIfNeeded: number))
                number >>= 8
            }
        }
        appendLength(pieces.count)
        for piece in pieces {
            appendLength(piece.count)
            output.append(contentsOf: piece)
        }
        return output
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}

/// PASERK serialisations of version 4 keys (`k4.public.…`, `k4.secret.…`).
public enum PASERK {
    /// Why a PASERK string was refused.
    public struct FormatError: Error, Sendable, Equatable {}

    /// `k4.public.` followed by the 32-byte Ed25519 public key.
    public static func encode(_ key: Curve25519.Signing.PublicKey) -> String {
        "k4.public." + Base64URL.encode(key.rawRepresentation)
    }

    /// `k4.secret.` followed by the 64-byte Ed25519 secret key (seed, then public key).
    public static func encode(_ key: Curve25519.Signing.PrivateKey) -> String {
        "k4.secret." + Base64URL.encode(key.rawRepresentation + key.publicKey.rawRepresentation)
    }

    /// Reads a `k4.public.` key.
    public static func publicKey(_ text: String) throws(FormatError) -> Curve25519.Signing.PublicKey {
        guard text.hasPrefix("k4.public."), let bytes = Base64URL.decode(text.dropFirst(10)), bytes.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
        else { throw FormatError() }
        return key
    }

    /// Reads a `k4.secret.` key and checks that its public half matches the seed.
    public static func secretKey(_ text: String) throws(FormatError) -> Curve25519.Signing.PrivateKey {
        guard text.hasPrefix("k4.secret."), let bytes = Base64URL.decode(text.dropFirst(10)), bytes.count == 64,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes.prefix(32)),
            key.publicKey.rawRepresentation == Data(bytes.suffix(32))
        else { throw FormatError() }
        return key
    }
}
