import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate the CA issued, with the key it was issued for.
public struct IssuedCertificate: Sendable {
    /// The chain, leaf first, as PEM.
    public var chainPEM: String
    /// The private key, PKCS#8 PEM.
    public var keyPEM: String
    public var names: [String]
    public var notBefore: Date
    public var notAfter: Date
    public var issuer: String
    /// The leaf's ARI identifier (RFC 9773 §4.1), when it has an authority key identifier.
    public var renewalID: String?
}

extension ACMEClient {
    /// Orders a certificate for `names` and answers its challenges with `solvers` (tried in their order); RFC 8555
    /// §7.4: new order, authorizations, challenges, finalize with a CSR for a new key, download.
    func obtain(
        names: [String], email: String?, solvers: [any ACMEChallengeSolver], keyType: ACMEKeyType,
        preferredChain: String?, timeout: Duration
    ) async throws(ACMEError) -> IssuedCertificate {
        if accountURL == nil { _ = try await register(email: email) }
        struct NewOrder: Encodable { var identifiers: [ACMEIdentifier] }
        let created = try await post(
            try await directory().newOrder, payload: Self.payload(NewOrder(identifiers: names.map(ACMEIdentifier.dns))),
            step: "new order")
        guard let orderURL = created.location else {
            throw ACMEError(.protocolViolation, step: "new order", detail: "no order URL (Location) in the answer")
        }
        var order = try created.decode(ACMEOrder.self, step: "new order")
        let deadline = ContinuousClock.now + timeout
        for url in order.authorizations {
            try await authorize(url, solvers: solvers, deadline: deadline)
        }
        order = try await poll(orderURL, step: "order", deadline: deadline) { (order: ACMEOrder) in
            order.status != "pending" && order.status != "processing"
        }
        guard order.status == "ready" || order.status == "valid" else {
            throw ACMEError(.problem, step: "order", problem: order.error, detail: "order is \(order.status)")
        }
        let key: Certificate.PrivateKey
        let csr: [UInt8]
        do {
            key = try keyType.makeKey()
            csr = try Self.certificateRequest(names: names, key: key, keyType: keyType)
        } catch {
            throw ACMEError(.badCertificate, step: "finalize", detail: "cannot make the key or CSR: \(error)")
        }
        if order.status == "ready" {
            struct Finalize: Encodable { var csr: String }
            _ = try await post(
                order.finalize, payload: Self.payload(Finalize(csr: Base64URL.encode(csr))), step: "finalize")
            order = try await poll(orderURL, step: "finalize", deadline: deadline) { (order: ACMEOrder) in
                order.status != "processing" && order.status != "ready"
            }
        }
        guard order.status == "valid", let certificateURL = order.certificate else {
            throw ACMEError(.problem, step: "finalize", problem: order.error, detail: "order is \(order.status)")
        }
        let chain = try await download(certificateURL, preferredChain: preferredChain)
        return try Self.check(chain: chain, key: key, names: names)
    }

    private func authorize(
        _ url: String, solvers: [any ACMEChallengeSolver], deadline: ContinuousClock.Instant
    ) async throws(ACMEError) {
        let authorization = try await post(url, payload: nil, step: "authorization").decode(
            ACMEAuthorization.self, step: "authorization")
        let name = authorization.identifier.value
        if authorization.status == "valid" { return }
        guard authorization.status == "pending" else {
            throw ACMEError(.challengeFailed, step: "authorization \(name)", detail: "it is \(authorization.status)")
        }
        var chosen: (any ACMEChallengeSolver, ACMEChallenge, String)?
        for solver in solvers {
            if let challenge = authorization.challenges.first(where: { $0.type == solver.type }),
                let token = challenge.token
            {
                chosen = (solver, challenge, token)
                break
            }
        }
        guard let (solver, challenge, token) = chosen else {
            throw ACMEError(
                .noUsableChallenge, step: "authorization \(name)",
                detail: "the CA offers \(authorization.challenges.map(\.type).joined(separator: ", ")); "
                    + "configured: \(solvers.map(\.type).joined(separator: ", "))")
        }
        let keyAuthorization = accountKey.keyAuthorization(token: token)
        do {
            try await solver.present(name: name, token: token, keyAuthorization: keyAuthorization)
        } catch {
            throw ACMEError(.challengeFailed, step: "\(solver.type) \(name)", detail: "cannot present it: \(error)")
        }
        do throws(ACMEError) {
            _ = try await post(challenge.url, payload: Array("{}".utf8), step: "\(solver.type) \(name)")
            let decided = try await poll(url, step: "authorization \(name)", deadline: deadline) {
                (authorization: ACMEAuthorization) in authorization.status != "pending"
            }
            await solver.cleanUp(name: name, token: token)
            guard decided.status == "valid" else {
                let failed = decided.challenges.first { $0.type == solver.type }
                throw ACMEError(
                    .challengeFailed, step: "\(solver.type) \(name)", problem: failed?.error,
                    detail: "authorization is \(decided.status)")
            }
        } catch {
            await solver.cleanUp(name: name, token: token)
            throw error
        }
    }

    /// POST-as-GET until `done` holds (or the deadline passes), waiting as `Retry-After` asks (1 s otherwise).
    private func poll<T: Decodable>(
        _ url: String, step: String, deadline: ContinuousClock.Instant, until done: (T) -> Bool
    ) async throws(ACMEError) -> T {
        var wait = Duration.milliseconds(250)
        while true {
            let response = try await post(url, payload: nil, step: step)
            let value = try response.decode(T.self, step: step)
            if done(value) { return value }
            let pause = response.retryAfter ?? wait
            guard ContinuousClock.now + pause < deadline else {
                throw ACMEError(.challengeFailed, step: step, detail: "not decided before the time limit")
            }
            try? await Task.sleep(for: pause)
            if Task.isCancelled { throw ACMEError(.unreachable, step: step, detail: "cancelled") }
            wait = min(wait * 2, .seconds(2))
        }
    }

    /// The chain at `url`, or the alternate chain whose topmost issuer's common name is `preferredChain`.
    private func download(_ url: String, preferredChain: String?) async throws(ACMEError) -> String {
        let accept = "application/pem-certificate-chain"
        let response = try await post(url, payload: nil, step: "download", accept: accept)
        let first = String(decoding: response.body, as: UTF8.self)
        guard let preferredChain, Self.topIssuer(first) != preferredChain else { return first }
        for alternate in response.links(rel: "alternate") {
            let other = try await post(alternate, payload: nil, step: "download alternate", accept: accept)
            let chain = String(decoding: other.body, as: UTF8.self)
            if Self.topIssuer(chain) == preferredChain { return chain }
        }
        return first
    }

    static func topIssuer(_ chainPEM: String) -> String? {
        guard let last = try? PEMDocument.parseMultiple(pemString: chainPEM).last,
            let certificate = try? Certificate(pemDocument: last)
        else { return nil }
        return certificate.issuer.commonName
    }

    static func certificateRequest(names: [String], key: Certificate.PrivateKey, keyType: ACMEKeyType) throws
        -> [UInt8]
    {
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(names.map { .dnsName($0) })
        }
        let request = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { CommonName(names[0]) },
            privateKey: key,
            attributes: try CertificateSigningRequest.Attributes([
                .init(ExtensionRequest(extensions: extensions))
            ]),
            signatureAlgorithm: keyType.signatureAlgorithm)
        var serializer = DER.Serializer()
        try serializer.serialize(request)
        return serializer.serializedBytes
    }

    /// Checks an issued chain before it is stored: it parses, its leaf is for our key and covers every name.
    static func check(chain: String, key: Certificate.PrivateKey, names: [String]) throws(ACMEError)
        -> IssuedCertificate
    {
        let step = "download"
        let leaf: Certificate
        do {
            let documents = try PEMDocument.parseMultiple(pemString: chain)
            guard let first = documents.first else {
                throw ACMEError(.badCertificate, step: step, detail: "empty chain")
            }
            leaf = try Certificate(pemDocument: first)
        } catch let error as ACMEError {
            throw error
        } catch {
            throw ACMEError(.badCertificate, step: step, detail: "the chain does not parse: \(error)")
        }
        guard leaf.publicKey == key.publicKey else {
            throw ACMEError(.badCertificate, step: step, detail: "the certificate is not for the key that was sent")
        }
        let covered =
            ((try? leaf.extensions.subjectAlternativeNames) ?? nil).map { names in
                names.compactMap { name -> String? in
                    if case .dnsName(let dns) = name { return dns.lowercased() }
                    return nil
                }
            } ?? []
        for name in names where !covered.contains(name.lowercased()) {
            throw ACMEError(.badCertificate, step: step, detail: "the certificate does not name \(name)")
        }
        let keyPEM: String
        do {
            keyPEM = try key.serializeAsPEM().pemString
        } catch {
            throw ACMEError(.badCertificate, step: step, detail: "cannot write the key: \(error)")
        }
        return IssuedCertificate(
            chainPEM: chain, keyPEM: keyPEM, names: names, notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter,
            issuer: leaf.issuer.commonName ?? leaf.issuer.description, renewalID: RenewalID.of(leaf))
    }
}

extension DistinguishedName {
    var commonName: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }
}

/// The certificate identifier of ACME Renewal Information (RFC 9773 §4.1): base64url of the authority key
/// identifier's keyIdentifier, a dot, base64url of the serial number's DER content bytes.
enum RenewalID {
    static func of(_ certificate: Certificate) -> String? {
        guard let authority = try? certificate.extensions.authorityKeyIdentifier,
            let keyID = authority.keyIdentifier
        else { return nil }
        return Base64URL.encode(keyID) + "." + Base64URL.encode(certificate.serialNumber.bytes)
    }
}
