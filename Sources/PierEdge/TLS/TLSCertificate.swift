import Foundation
import NIOSSL
import PierACME
import SwiftASN1
import X509

/// A certificate chain with its private key, loaded from PEM files and checked: the key belongs to the leaf, and
/// the names the leaf is valid for are known, for choosing it by SNI.
public struct TLSCertificate: Sendable {
    public let chain: [NIOSSLCertificate]
    public let key: NIOSSLPrivateKey
    /// The DNS names of the leaf's subject alternative names (lowercased; `*.example.org` for wildcards).
    public let names: [String]
    public let notAfter: Date
    public let issuer: String
    /// Where it was read from.
    public let files: CertificateFiles

    /// Why a certificate could not be used; names the file.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Reads and checks a chain and its key.
    public static func load(_ files: CertificateFiles) throws(LoadError) -> TLSCertificate {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificate)
        } catch {
            throw LoadError(file: files.certificate, reason: "not a PEM certificate chain (\(error))")
        }
        guard let leafCertificate = chain.first else {
            throw LoadError(file: files.certificate, reason: "holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key, format: .pem)
        } catch {
            throw LoadError(file: files.key, reason: "not a PEM private key (PKCS#8, RSA or EC) (\(error))")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: try leafCertificate.toDERBytes())
        } catch {
            throw LoadError(file: files.certificate, reason: "the first certificate cannot be read (\(error))")
        }
        // A context built from the pair checks that the key belongs to the leaf certificate.
        do {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw LoadError(
                file: files.key, reason: "the key does not belong to the certificate in \(files.certificate)")
        }
        var names: [String] = []
        if let alternatives = try? leaf.extensions.subjectAlternativeNames {
            for name in alternatives {
                if case .dnsName(let dns) = name { names.append(dns.lowercased()) }
            }
        }
        return TLSCertificate(
            chain: chain, key: key, names: names, notAfter: leaf.notValidAfter, issuer: leaf.issuer.description,
            files: files)
    }

    /// Whether the certificate is valid for `serverName` (exact, or a `*.` wildcard one label deep).
    public func covers(_ serverName: String) -> Bool {
        let host = serverName.lowercased()
        return names.contains { name in
            if name == host { return true }
            guard name.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
            return host[dot...] == name.dropFirst(1) && host.startIndex != dot
        }
    }
}

extension StoredCertificate {
    /// The chain and key files of an ACME certificate.
    var files: CertificateFiles { CertificateFiles(certificate: certificatePath, key: keyPath) }
}
