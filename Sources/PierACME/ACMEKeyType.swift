import Crypto
import X509
import _CryptoExtras

/// The key type of the certificates ordered.
public enum ACMEKeyType: String, Sendable, Hashable, CaseIterable {
    case ecdsaP256 = "ecdsa-p256"
    case rsa2048 = "rsa-2048"

    func makeKey() throws -> Certificate.PrivateKey {
        switch self {
        case .ecdsaP256: Certificate.PrivateKey(P256.Signing.PrivateKey())
        case .rsa2048: Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        }
    }

    var signatureAlgorithm: Certificate.SignatureAlgorithm {
        switch self {
        case .ecdsaP256: .ecdsaWithSHA256
        case .rsa2048: .sha256WithRSAEncryption
        }
    }
}
