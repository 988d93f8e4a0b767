import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority for TLS tests: it issues P-256 leaf certificates for given names, written as PEM
/// files that the edge (and `openssl`, `curl`) read like any other.
public struct TestCertificateAuthority: Sendable {
    public let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    /// The authority's certificate as PEM, for clients to trust.
    public var pem: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    public init(name: String = "Pier Test CA") throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let now = Date()
        self.key = key
        self.certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey), notValidBefore: now - 3600, notValidAfter: now + 86400 * 30,
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
    }

    /// A leaf certificate for `names` (the first is also its common name) and its key, as PEM.
    public func issue(_ names: [String], validFor days: Double = 30) throws -> (certificate: String, key: String) {
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: .init(leafKey.publicKey), notValidBefore: now - 3600, notValidAfter: now + 86400 * days,
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(names.first ?? "localhost") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
                Self.crlDistributionPoint("http://crl.pier.test/ca.crl")
            },
            issuerPrivateKey: .init(key))
        return (try leaf.serializeAsPEM().pemString + "\n" + pem + "\n", leafKey.pemRepresentation + "\n")
    }

    /// A CRL distribution point (RFC 5280 §4.2.1.13) naming `uri`, as public CAs add them; swift-certificates has
    /// no type for it, so it is written as DER: SEQUENCE { SEQUENCE { [0] { [0] { [6] uri } } } }.
    static func crlDistributionPoint(_ uri: String) -> Certificate.Extension {
        func tagged(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
            precondition(content.count < 128)
            return [tag, UInt8(content.count)] + content
        }
        let value = tagged(0x30, tagged(0x30, tagged(0xA0, tagged(0xA0, tagged(0x86, Array(uri.utf8))))))
        return Certificate.Extension(oid: [2, 5, 29, 31], critical: false, value: value[...])
    }

    /// Issues a certificate and writes it (with the authority's certificate after it) and its key under
    /// `directory` as `NAME.pem` and `NAME.key`; returns their paths.
    @discardableResult
    public func write(_ names: [String], as name: String, under directory: String, validFor days: Double = 30) throws
        -> (certificate: String, key: String)
    {
        let (certificate, key) = try issue(names, validFor: days)
        let certificatePath = directory + "/" + name + ".pem"
        let keyPath = directory + "/" + name + ".key"
        try certificate.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try key.write(toFile: keyPath, atomically: true, encoding: .utf8)
        return (certificatePath, keyPath)
    }

    /// Writes the authority's certificate as `ca.pem` under `directory`; returns its path.
    public func writeAuthority(under directory: String) throws -> String {
        let path = directory + "/ca.pem"
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
