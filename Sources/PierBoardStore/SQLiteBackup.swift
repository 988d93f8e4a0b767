import Foundation
import Logging
import PierCore

/// An online, consistent copy of a SQLite board database, taken while Pier serves from it.
///
/// `VACUUM INTO` reads the database inside one read transaction (in WAL mode writers go on meanwhile), so the copy is
/// the database as of one commit: every transaction committed before the backup began is in it, none half. The copy
/// is compacted, has no WAL to carry along, and is created with mode 0600 (it holds password hashes and sessions).
/// It is checked with `PRAGMA integrity_check` before it is reported done.
public enum SQLiteBackup {
    public struct Summary: Sendable, Equatable {
        public var schemaVersion: Int
        public var users: Int64
        public var boards: Int64
        public var tasks: Int64
        public var bytes: Int64
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func backup(database path: String, to target: String, logger: Logger) async throws -> Summary {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "\(path): no such database file")
        }
        let directory = URL(fileURLWithPath: target).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure(description: "\(target): the directory \(directory) does not exist")
        }
        // An empty file of our own, 0600, that VACUUM INTO fills (it accepts an empty file); never an existing one.
        do {
            guard try PrivateFile.write([], to: target, .createOnly) else {
                throw Failure(description: "\(target) exists already; choose a new file (a backup never overwrites)")
            }
        } catch let failure as PrivateFile.Failure {
            throw Failure(description: failure.description)
        }
        do {
            let source = try await SQLiteSQLDatabase.open(path: path, logger: logger)
            do {
                guard try await Migrations.currentVersion(source) > 0 else {
                    throw Failure(description: "\(path) is not a Pier board database (no schema)")
                }
                try await source.query("VACUUM INTO $1", [.text(target)])
            } catch {
                try? await source.close()
                throw error
            }
            try await source.close()
            return try await verify(target, logger: logger)
        } catch {
            try? FileManager.default.removeItem(atPath: target)
            if let failure = error as? Failure { throw failure }
            throw Failure(description: "backup of \(path) failed: \(error)")
        }
    }

    /// Opens a backup and checks it: integrity, schema version, what it holds.
    public static func verify(_ path: String, logger: Logger) async throws -> Summary {
        let copy = try await SQLiteSQLDatabase.open(path: path, logger: logger)
        do {
            let integrity = try await copy.query("PRAGMA integrity_check")
            let verdict = try integrity.first?.text("integrity_check")
            guard integrity.count == 1, verdict == "ok" else {
                throw Failure(description: "\(path): integrity check failed: \(verdict ?? "no answer")")
            }
            func count(_ table: String) async throws -> Int64 {
                try await copy.query("SELECT COUNT(*) AS n FROM \(table)").first?.int("n") ?? 0
            }
            let summary = Summary(
                schemaVersion: try await Migrations.currentVersion(copy), users: try await count("users"),
                boards: try await count("boards"), tasks: try await count("tasks"),
                bytes: (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0)
            try await copy.close()
            return summary
        } catch {
            try? await copy.close()
            throw error
        }
    }
}
