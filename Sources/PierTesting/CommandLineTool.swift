import Foundation

/// Runs a command-line tool (`openssl`, `curl`, `nghttp`, `h2load`, a Python script, the `pier` binary) to its end,
/// for tests that check Pier with the tools people use.
///
/// Nothing here blocks a thread: the exit is polled and output arrives through readability handlers. Foundation's
/// `waitUntilExit()` and `readDataToEndOfFile()` would each park one of the few threads Swift concurrency has (two on
/// a 2-core machine), and `waitUntilExit()` can miss the exit altogether, so a parallel run could stop for good.
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
        let output = Collected(from: standardOutput)
        let errors = Collected(from: standardError)
        try ChildExit.start(process)
        standardInput.fileHandleForWriting.write(Data(input.utf8))
        try? standardInput.fileHandleForWriting.close()
        if await !ChildExit.wait(for: process, upTo: timeout) {
            process.terminate()
            if await !ChildExit.wait(for: process, upTo: .seconds(5)) {
                kill(process.processIdentifier, SIGKILL)
                await ChildExit.wait(for: process, upTo: .seconds(5))
            }
        }
        // A descendant that outlives the tool may hold its pipes open: take what arrived, without waiting for ever.
        await output.waitForEnd(upTo: .seconds(5))
        await errors.waitForEnd(upTo: .seconds(5))
        let status = process.isRunning ? -9 : process.terminationStatus
        return Result(status: status, output: output.value, errors: errors.value)
    }
}

/// Starting child processes as a shell would, and waiting for them to exit without blocking a thread.
enum ChildExit {
    /// Starts `process` with no signal blocked. Foundation spawns it from the calling thread, whose mask it inherits,
    /// and the threads Swift concurrency runs on block most signals: a child started from one (a Python server, say)
    /// would never see the SIGTERM that is to stop it.
    static func start(_ process: Process) throws {
        var unblocked = sigset_t()
        var previous = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Polls until `process` has exited or `limit` has passed; true when it has exited.
    @discardableResult
    static func wait(for process: Process, upTo limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
