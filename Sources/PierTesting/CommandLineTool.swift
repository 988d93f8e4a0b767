import Foundation

/// Runs a command-line tool (`openssl`, `curl`, `nghttp`, `h2load`, a Python script) to its end, for tests that
/// check the edge with the tools people use.
public enum CommandLineTool {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
        /// Standard output and standard error together.
        public var all: String { output + errors }
    }

    /// Where a tool is on `PATH`, or `nil`.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `tool` (a name on `PATH` or a path) with `arguments`, giving it `input` on standard input; kills it
    /// after `timeout`.
    public static func run(
        _ tool: String, _ arguments: [String], input: String = "", environment: [String: String] = [:],
        timeout: Duration = .seconds(30)
    ) async throws -> Result {
        guard let executable = tool.hasPrefix("/") ? tool : find(tool) else {
            throw RunningProcess.Failure(description: "\(tool) is not installed")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let standardInput = Pipe()
        let standardOutput = Pipe()
        let standardError = Pipe()
        process.standardInput = standardInput
        process.standardOutput = standardOutput
        process.standardError = standardError
        let output = Collected()
        let errors = Collected()
        standardOutput.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        standardError.fileHandleForReading.readabilityHandler = { errors.append($0.availableData) }
        try process.run()
        standardInput.fileHandleForWriting.write(Data(input.utf8))
        try? standardInput.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                process.waitUntilExit()
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        standardOutput.fileHandleForReading.readabilityHandler = nil
        standardError.fileHandleForReading.readabilityHandler = nil
        output.append(standardOutput.fileHandleForReading.readDataToEndOfFile())
        errors.append(standardError.fileHandleForReading.readDataToEndOfFile())
        return Result(status: process.terminationStatus, output: output.value, errors: errors.value)
    }
}
