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
}
