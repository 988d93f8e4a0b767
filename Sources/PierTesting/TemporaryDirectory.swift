import Foundation

/// A directory under the system temporary directory that is removed when the body returns.
public enum TemporaryDirectory {
    /// Creates a fresh directory, runs `body` with its path, and removes it afterwards.
    public static func with<Result>(
        _ body: (String) async throws -> Result
    ) async throws -> Result {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("pier-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Resolve symlinks (e.g. /tmp on some systems) so paths compare equal to what servers report.
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        defer { try? FileManager.default.removeItem(atPath: resolved) }
        return try await body(resolved)
    }

    /// Writes `contents` to `relativePath` under `root`, creating intermediate directories.
    public static func write(_ contents: String, to relativePath: String, under root: String) throws {
        try write(Array(contents.utf8), to: relativePath, under: root)
    }

    /// Writes bytes to `relativePath` under `root`, creating intermediate directories.
    public static func write(_ bytes: [UInt8], to relativePath: String, under root: String) throws {
        let url = URL(fileURLWithPath: root).appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }
}
