import Crypto
import Foundation

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
        // Written completely to a private temporary file, synced, then linked into place: other instances see
        // either no key or a whole one, and link(2) fails if another instance got there first.
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot create the signing key \(path): \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary) }
        let line = Array((PASERK.encode(key) + "\n").utf8)
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == line.count, synced else { throw Failure(description: "cannot write the signing key \(path)") }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return (try load(path: path), false) }  // another instance won the race
            throw Failure(description: "cannot create the signing key \(path): \(String(cString: strerror(errno)))")
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
