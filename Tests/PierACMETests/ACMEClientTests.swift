import Crypto
import Foundation
import PierTesting
import SwiftASN1
import Testing
import X509

@testable import PierACME

@Suite("ACME: JWS, CSR and storage")
struct ACMEClientTests {
    @Test("a request is a flattened JWS: ES256 over protected.payload, the key before the account, kid after")
    func jws() throws {
        let key = ACMEAccountKey()
        let body = try key.sign(
            payload: Array("{\"a\":1}".utf8), url: "https://ca.test/new-order", nonce: "n1", accountURL: nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: String])
        let protected = try #require(object["protected"])
        let headerBytes = try #require(Base64URL.decode(protected))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any])
        #expect(header["alg"] as? String == "ES256")
        #expect(header["nonce"] as? String == "n1")
        #expect(header["url"] as? String == "https://ca.test/new-order")
        #expect((header["jwk"] as? [String: String])?["crv"] == "P-256")
        #expect(header["kid"] == nil)
        let payload = try #require(object["payload"])
        #expect(Base64URL.decode(payload) == Array("{\"a\":1}".utf8))
        let signatureText = try #require(object["signature"])
        let signatureBytes = try #require(Base64URL.decode(signatureText))
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: signatureBytes)
        #expect(key.key.publicKey.isValidSignature(signature, for: Array("\(protected).\(object["payload"]!)".utf8)))

        let asGet = try key.sign(
            payload: nil, url: "https://ca.test/o/1", nonce: "n2", accountURL: "https://ca.test/acct/7")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(asGet)) as? [String: String])
        #expect(second["payload"] == "")
        let secondHeader = try #require(
            try JSONSerialization.jsonObject(with: Data(Base64URL.decode(second["protected"]!)!)) as? [String: Any])
        #expect(secondHeader["kid"] as? String == "https://ca.test/acct/7")
        #expect(secondHeader["jwk"] == nil)
    }

    @Test("the key authorization is token.thumbprint, the thumbprint the SHA-256 of the canonical JWK")
    func thumbprint() throws {
        let key = ACMEAccountKey()
        let expected = Base64URL.encode(SHA256.hash(data: Array(key.jwk.utf8)))
        #expect(key.thumbprint == expected)
        #expect(key.keyAuthorization(token: "tok") == "tok.\(expected)")
        #expect(key.jwk.hasPrefix("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""))
        let again = try ACMEAccountKey(pem: key.pem)
        #expect(again.thumbprint == key.thumbprint)
    }

    @Test("the CSR names every domain and is signed by the new key")
    func certificateRequest() throws {
        for type in ACMEKeyType.allCases {
            let key = try type.makeKey()
            let der = try ACMEClient.certificateRequest(names: ["a.pier.test", "b.pier.test"], key: key, keyType: type)
            let csr = try CertificateSigningRequest(derEncoded: der)
            #expect(csr.publicKey == key.publicKey)
            #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
            let names = try csr.attributes.extensionRequest?.extensions.subjectAlternativeNames
            #expect(names == SubjectAlternativeNames([.dnsName("a.pier.test"), .dnsName("b.pier.test")]))
        }
    }

    @Test("storage keeps the account key and is owner-only; a chain that is not for the key is refused")
    func storage() async throws {
        try await TemporaryDirectory.with { directory in
            let storage = ACMEFileStorage(root: directory + "/acme")
            let key = try storage.accountKey(directory: "https://ca.test/dir")
            #expect(try storage.accountKey(directory: "https://ca.test/dir").thumbprint == key.thumbprint)
            #expect(try storage.accountKey(directory: "https://other.test/dir").thumbprint != key.thumbprint)
            let mode =
                try FileManager.default.attributesOfItem(atPath: directory + "/acme")[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o700)
            #expect(storage.certificate("app.pier.test") == nil)

            let authority = try TestCertificateAuthority()
            let (chain, _) = try authority.issue(["app.pier.test"])
            #expect(throws: ACMEError.self) {
                try ACMEClient.check(chain: chain, key: try ACMEKeyType.ecdsaP256.makeKey(), names: ["app.pier.test"])
            }
        }
    }

    @Test("problem documents read as type and detail; RFC 3339 dates with nanoseconds parse")
    func problemsAndDates() throws {
        let problem = try JSONDecoder().decode(
            ACMEProblem.self,
            from: Data(#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no","status":400}"#.utf8))
        #expect(problem.description == "rejectedIdentifier: no")
        #expect(ACMEDates.parse("2026-12-03T07:08:53.123456789Z") != nil)
        #expect(ACMEDates.parse("2026-12-03T07:08:53Z") != nil)
    }
}
