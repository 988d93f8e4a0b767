import Crypto
import Foundation
import PierCore
import PierTokens

/// The board's token signing key on disk: a PASERK `k4.secret` line in a file readable only by its owner (0600).
///
/// The first instance generates it; every instance sharing the file (or given the same key in configuration)
/// signs and verifies the same tokens.
public enum SigningKeyFile {
    /// Why the key could not be loaded.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the key at `path`, creating it (and its directory, 0700) when it does not exist.
    public static func loadOrCreate(path: String) throws -> (key: Curve25519.Signing.PrivateKey, created: Bool) {
        let manager = FileManager.default
        if manager.fileExists(atPath: path) {
            return (try load(path: path), false)
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try manager.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = Curve25519.Signing.PrivateKey()
        // Other instances see either no key or a whole one; if another instance got there first, its key is used.
        do {
            guard try PrivateFile.write(Array((PASERK.encode(key) + "\n").utf8), to: path, .createOnly) else {
                return (try load(path: path), false)
            }
        } catch {
            throw Failure(description: "cannot create the signing key \(error)")
        }
        return (key, true)
    }

    /// Reads an existing key file, refusing one that others can read.
    public static func load(path: String) throws -> Curve25519.Signing.PrivateKey {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let permissions = attributes[.posixPermissions] as? Int
        else { throw Failure(description: "cannot read the signing key \(path)") }
        guard permissions & 0o077 == 0 else {
            throw Failure(description: "the signing key \(path) is readable by others; run: chmod 600 \(path)")
        }
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            return try PASERK.secretKey(text)
        } catch {
            throw Failure(description: "the signing key \(path) is not a k4.secret PASERK")
        }
    }
}
