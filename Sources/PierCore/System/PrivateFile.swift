#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Secrets on disk (signing keys, account and certificate keys): written whole to a temporary file readable only
/// by its owner (0600) beside the target, synced, then moved into place, so a reader or a crash sees the old file
/// or the new one, never part of one.
public enum PrivateFile {
    public enum Placement: Sendable {
        /// Replace what is there (rename(2)).
        case replace
        /// Only if nothing is there (link(2)): several processes racing to create one file agree on the winner's.
        case createOnly
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Writes `bytes` to `path`; returns `false` when `createOnly` found a file there already. The directory must
    /// exist.
    @discardableResult
    public static func write(_ bytes: [UInt8], to path: String, _ placement: Placement) throws(Failure) -> Bool {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(path: path, reason: "cannot create \(temporary): \(error())") }
        defer { unlink(temporary) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { writeBytes(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let reason = error()
                close(descriptor)
                throw Failure(path: path, reason: "cannot write: \(reason)")
            }
            written += count
        }
        let synced = fsync(descriptor) == 0 ? nil : error()
        close(descriptor)
        if let synced { throw Failure(path: path, reason: "cannot sync: \(synced)") }
        switch placement {
        case .replace:
            guard rename(temporary, path) == 0 else { throw Failure(path: path, reason: "cannot rename: \(error())") }
        case .createOnly:
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { return false }
                throw Failure(path: path, reason: "cannot create: \(error())")
            }
        }
        return true
    }

    private static func error() -> String { String(cString: strerror(errno)) }
}

/// write(2), by a name `PrivateFile.write` does not shadow.
private func writeBytes(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
