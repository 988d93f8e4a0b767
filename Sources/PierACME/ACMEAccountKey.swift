import Crypto
import Foundation

/// The account's key pair (ECDSA P-256, JWS `ES256`): signs every request to the CA and proves, through its
/// thumbprint, that a challenge answer comes from this account.
public struct ACMEAccountKey: Sendable {
    let key: P256.Signing.PrivateKey

    /// A new random key.
    public init() {
        key = P256.Signing.PrivateKey()
    }

    /// A key stored as PEM (PKCS#8 or SEC 1).
    public init(pem: String) throws {
        key = try P256.Signing.PrivateKey(pemRepresentation: pem)
    }

    public var pem: String { key.pemRepresentation }

    /// The public key as a JWK with its members in the order RFC 7638 hashes them.
    var jwk: String {
        let point = Array(key.publicKey.x963Representation)  // 0x04 || x || y
        let x = Base64URL.encode(point[1..<33])
        let y = Base64URL.encode(point[33..<65])
        return "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"\(x)\",\"y\":\"\(y)\"}"
    }

    /// The JWK thumbprint (RFC 7638), base64url.
    public var thumbprint: String {
        Base64URL.encode(SHA256.hash(data: Array(jwk.utf8)))
    }

    /// The key authorization of a challenge token (RFC 8555 §8.1).
    public func keyAuthorization(token: String) -> String {
        "\(token).\(thumbprint)"
    }

    /// A flattened JWS (RFC 7515 §7.2.2) over `payload`, with the key itself (`jwk`) before the account exists and
    /// the account URL (`kid`) after; `nil` payload is the empty one of POST-as-GET.
    func sign(payload: [UInt8]?, url: String, nonce: String, accountURL: String?) throws -> [UInt8] {
        let identity = accountURL.map { "\"kid\":\(JSON.quoted($0))" } ?? "\"jwk\":\(jwk)"
        let header = "{\"alg\":\"ES256\",\(identity),\"nonce\":\(JSON.quoted(nonce)),\"url\":\(JSON.quoted(url))}"
        let protected = Base64URL.encode(header)
        let body = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try key.signature(for: Array("\(protected).\(body)".utf8))
        let jws =
            "{\"protected\":\"\(protected)\",\"payload\":\"\(body)\",\"signature\":\"\(Base64URL.encode(signature.rawRepresentation))\"}"
        return Array(jws.utf8)
    }
}

/// The few JSON strings the client writes by hand (headers must be exact bytes; the rest goes through Codable).
enum JSON {
    static func quoted(_ text: String) -> String {
        let data = try? JSONEncoder().encode(text)
        return data.flatMap { String(data: $0, encoding: .utf8) } ?? "\"\""
    }
}
