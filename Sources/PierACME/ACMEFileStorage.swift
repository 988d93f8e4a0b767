import Foundation
import PierCore

/// What is kept of an issued certificate besides its files.
public struct StoredCertificate: Sendable, Codable, Hashable {
    public var name: String
    public var names: [String]
    public var issuer: String
    public var notBefore: Date
    public var notAfter: Date
    public var obtainedAt: Date
    /// The directory URL of the CA that issued it.
    public var directory: String
    public var renewalID: String?
    /// The chain and key files, as absolute paths.
    public var certificatePath: String
    public var keyPath: String

    enum CodingKeys: String, CodingKey {
        case name, names, issuer, directory
        case notBefore = "not_before"
        case notAfter = "not_after"
        case obtainedAt = "obtained_at"
        case renewalID = "renewal_id"
        case certificatePath = "certificate_path"
        case keyPath = "key_path"
    }
}

/// Accounts and certificates in a directory: the directory 0700, every file 0600, written atomically (a temporary
/// file in the same directory, fsync, rename), so a crash leaves the old file or the new one, never half of one.
///
/// ```
/// STORAGE/accounts/<CA host and path>/account.key
/// STORAGE/certificates/<name>/certificate.pem, private-key.pem, certificate.json
/// ```
public struct ACMEFileStorage: Sendable {
    public let root: String

    /// - Parameter root: made absolute against the working directory.
    public init(root: String) {
        self.root =
            root.hasPrefix("/")
            ? root
            : URL(fileURLWithPath: root, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                .standardizedFileURL.path
    }

    /// A directory name for a CA (host and path, with anything unusual replaced).
    static func directoryName(_ url: String) -> String {
        let trimmed = url.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
        return String(trimmed.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
    }

    /// A directory name for a certificate's name (`*.example.org` is `_wildcard.example.org`).
    static func certificateDirectoryName(_ name: String) -> String {
        name.hasPrefix("*.") ? "_wildcard" + name.dropFirst(1) : name
    }

    func accountKeyPath(directory: String) -> String {
        "\(root)/accounts/\(Self.directoryName(directory))/account.key"
    }

    func certificateDirectory(_ name: String) -> String {
        "\(root)/certificates/\(Self.certificateDirectoryName(name))"
    }

    /// The account key for a CA, made and stored on first use.
    public func accountKey(directory: String) throws(ACMEError) -> ACMEAccountKey {
        let path = accountKeyPath(directory: directory)
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            do {
                return try ACMEAccountKey(pem: text)
            } catch {
                throw ACMEError(.storage, step: "account key", detail: "\(path) is not a P-256 private key: \(error)")
            }
        }
        let key = ACMEAccountKey()
        try write(key.pem, to: path)
        return key
    }

    /// The stored certificate for `name`, if its record and files are there.
    public func certificate(_ name: String) -> StoredCertificate? {
        let path = certificateDirectory(name) + "/certificate.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let stored = try? decoder.decode(StoredCertificate.self, from: data),
            FileManager.default.fileExists(atPath: stored.certificatePath),
            FileManager.default.fileExists(atPath: stored.keyPath)
        else { return nil }
        return stored
    }

    /// The stored certificates of `settings.domains` that can serve: issued by the configured CA for the name.
    public func certificates(for settings: ACMESettings) -> [StoredCertificate] {
        settings.domains.compactMap { name in
            certificate(name).flatMap { $0.directory == settings.directory && $0.names.contains(name) ? $0 : nil }
        }
    }

    /// Stores an issued certificate: key, then chain, then the record that points at them.
    public func store(_ issued: IssuedCertificate, name: String, directory: String, now: Date) throws(ACMEError)
        -> StoredCertificate
    {
        let folder = certificateDirectory(name)
        let stored = StoredCertificate(
            name: name, names: issued.names, issuer: issued.issuer, notBefore: issued.notBefore,
            notAfter: issued.notAfter, obtainedAt: now, directory: directory, renewalID: issued.renewalID,
            certificatePath: folder + "/certificate.pem", keyPath: folder + "/private-key.pem")
        // The key and chain are replaced together as far as a reader that checks them together can tell: the edge
        // loads the pair named by the record, and a pair that does not match is refused with the old one kept.
        try write(issued.keyPEM, to: stored.keyPath)
        try write(issued.chainPEM, to: stored.certificatePath)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let record: Data
        do {
            record = try encoder.encode(stored)
        } catch {
            throw ACMEError(.storage, step: "store", detail: "\(error)")
        }
        try write(String(decoding: record, as: UTF8.self), to: folder + "/certificate.json")
        return stored
    }

    /// Writes a file atomically with mode 0600, making its directories 0700 (and tightening existing ones).
    func write(_ text: String, to path: String) throws(ACMEError) {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        do {
            try PrivateFile.write(Array(text.utf8), to: path, .replace)
        } catch {
            throw ACMEError(.storage, step: "store", detail: "\(error)")
        }
    }

    private func makeDirectories(_ path: String) throws(ACMEError) {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: nil)
            // The storage root and everything below it: owner only, also when the directory existed.
            var current = path
            while current.hasPrefix(root) {
                let mode = (try manager.attributesOfItem(atPath: current)[.posixPermissions] as? NSNumber)?.intValue
                if mode != 0o700 { try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: current) }
                if current == root { break }
                current = (current as NSString).deletingLastPathComponent
            }
        } catch {
            throw ACMEError(.storage, step: "store", detail: "cannot create \(path) with mode 0700: \(error)")
        }
    }
}
