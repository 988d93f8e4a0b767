import Crypto
import Foundation
import PierCore
import PierTokens
import Testing

@testable import PierBoard

/// The official PASETO v4.public test vectors, kept in `Fixtures/paseto-v4.json` (licence beside it) and embedded
/// in the test binary.
struct PASETOVector: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var expectFail: Bool
    var publicKey: String?
    var secretKey: String?
    var key: String?
    var token: String
    var payload: String?
    var footer: String
    var implicitAssertion: String

    enum CodingKeys: String, CodingKey {
        case name, token, payload, footer, key
        case expectFail = "expect-fail"
        case publicKey = "public-key"
        case secretKey = "secret-key"
        case implicitAssertion = "implicit-assertion"
    }

    var testDescription: String { name }

    static func load() throws -> [PASETOVector] {
        struct File: Decodable { var tests: [PASETOVector] }
        return try JSONDecoder().decode(File.self, from: Data(PackageResources.paseto_v4_json)).tests
    }

    static let all: [PASETOVector] = (try? load()) ?? []
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite("PASETO v4.public")
struct PASETOVectorTests {
    @Test("the vector file is present and complete")
    func vectorsPresent() throws {
        let vectors = try PASETOVector.load()
        #expect(vectors.filter { $0.name.hasPrefix("4-S-") }.count == 3)
        #expect(vectors.filter { $0.name.hasPrefix("4-F-") }.count == 5)
    }

    @Test(
        "every 4-S vector verifies and signs to the exact token",
        arguments: PASETOVector.all.filter { $0.name.hasPrefix("4-S-") })
    func signAndVerify(vector: PASETOVector) throws {
        let secret = hexBytes(try #require(vector.secretKey))
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: secret.prefix(32))
        let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: hexBytes(try #require(vector.publicKey)))
        #expect(privateKey.publicKey.rawRepresentation == publicKey.rawRepresentation)

        let verified = try PASETOv4Public.verify(
            vector.token,
            with: publicKey,
            footer: Array(vector.footer.utf8),
            implicitAssertion: Array(vector.implicitAssertion.utf8)
        )
        #expect(String(decoding: verified.message, as: UTF8.self) == vector.payload)

        let signed = try PASETOv4Public.sign(
            Array(try #require(vector.payload).utf8),
            with: privateKey,
            footer: Array(vector.footer.utf8),
            implicitAssertion: Array(vector.implicitAssertion.utf8)
        )
        #expect(signed == vector.token)
    }

    @Test("every 4-F vector is rejected", arguments: PASETOVector.all.filter { $0.name.hasPrefix("4-F-") })
    func mustFail(vector: PASETOVector) throws {
        let keyBytes = hexBytes(try #require(vector.publicKey ?? vector.key))
        let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: keyBytes.prefix(32))
        #expect(throws: PASETOv4Public.VerificationError.self) {
            try PASETOv4Public.verify(
                vector.token,
                with: publicKey,
                footer: Array(vector.footer.utf8),
                implicitAssertion: Array(vector.implicitAssertion.utf8)
            )
        }
    }

    @Test("tampering, a wrong key, a wrong footer or assertion are all rejected")
    func tampering() throws {
        let key = Curve25519.Signing.PrivateKey()
        let token = try PASETOv4Public.sign(Array("{\"sub\":\"1\"}".utf8), with: key, footer: Array("kid".utf8))
        #expect(try PASETOv4Public.verify(token, with: key.publicKey).footer == Array("kid".utf8))

        var bytes = Array(token.utf8)
        let position = "v4.public.".utf8.count + 3
        bytes[position] = bytes[position] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: PASETOv4Public.VerificationError.invalidSignature) {
            try PASETOv4Public.verify(String(decoding: bytes, as: UTF8.self), with: key.publicKey)
        }
        #expect(throws: PASETOv4Public.VerificationError.invalidSignature) {
            try PASETOv4Public.verify(token, with: Curve25519.Signing.PrivateKey().publicKey)
        }
        #expect(throws: PASETOv4Public.VerificationError.footerMismatch) {
            try PASETOv4Public.verify(token, with: key.publicKey, footer: Array("other".utf8))
        }
        #expect(throws: PASETOv4Public.VerificationError.invalidSignature) {
            try PASETOv4Public.verify(token, with: key.publicKey, implicitAssertion: [1])
        }
        #expect(throws: PASETOv4Public.VerificationError.malformed) {
            try PASETOv4Public.verify("v4.public.AAAA", with: key.publicKey)
        }
        #expect(throws: PASETOv4Public.VerificationError.malformed) {
            try PASETOv4Public.verify(token + "=", with: key.publicKey)
        }
    }

    @Test("PASERK round trip")
    func paserk() throws {
        let key = Curve25519.Signing.PrivateKey()
        let publicText = PASERK.encode(key.publicKey)
        #expect(publicText.hasPrefix("k4.public."))
        #expect(try PASERK.publicKey(publicText).rawRepresentation == key.publicKey.rawRepresentation)
        #expect(try PASERK.secretKey(PASERK.encode(key)).rawRepresentation == key.rawRepresentation)
        #expect(throws: PASERK.FormatError.self) { try PASERK.publicKey("k3.public.AAAA") }
    }

    @Test("base64url is strict and round-trips every length")
    func base64() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("AB") == nil)  // non-zero trailing bits
        #expect(Base64URL.decode("AA==") == nil)
        #expect(Base64URL.decode("A+") == nil)
        #expect(Base64URL.decode("A") == nil)
    }
}
