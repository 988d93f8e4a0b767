import Foundation

/// The Python side of the tests: the virtual environment scripts/test prepares (`PIER_TEST_VENV`, or `.venv` in the
/// repository) and the probes and servers under `Tests/Probes`.
public enum TestPython {
    /// The repository's root directory.
    public static let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized.path

    /// The virtual environment's directory.
    public static var venv: String {
        ProcessInfo.processInfo.environment["PIER_TEST_VENV"] ?? repositoryRoot + "/.venv"
    }

    /// The environment's `python`, or `nil` when it has not been prepared.
    public static var interpreter: String? {
        let path = venv + "/bin/python"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// The path of a script under `Tests/Probes`.
    public static func probe(_ name: String) -> String {
        repositoryRoot + "/Tests/Probes/" + name
    }

    /// Runs a probe server (`Tests/Probes/NAME`, which prints `listening on PORT` once it listens) for `body`, and
    /// stops it by PID afterwards, also when `body` throws.
    public static func withProbe<Result: Sendable>(
        _ name: String, arguments: [String], _ body: (Int) async throws -> Result
    ) async throws -> Result {
        guard let python = interpreter else {
            throw RunningProcess.Failure(
                description: "the Python venv (scripts/test prepares it) is missing at \(venv)")
        }
        let process = try RunningProcess(
            executable: URL(fileURLWithPath: python), arguments: [probe(name)] + arguments)
        let result: Result
        do {
            try await process.waitForOutput(containing: "listening on ")
            guard let port = process.firstMatch("listening on (\\d+)").flatMap({ Int($0) }) else {
                throw RunningProcess.Failure(description: "\(name) printed no port: \(process.standardOutput)")
            }
            result = try await body(port)
        } catch {
            await process.stop()
            throw error
        }
        await process.stop()
        return result
    }
}
