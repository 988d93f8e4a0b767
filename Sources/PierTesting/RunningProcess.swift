import Foundation
import Synchronization

/// A child process started by a test: its output collected as it arrives, waited on for a line, and stopped by PID
/// (SIGTERM, then SIGKILL) when the test is done.
public final class RunningProcess: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    private let process: Process
    private let output: Collected
    private let errorOutput: Collected

    public init(executable: URL, arguments: [String], environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let standardOutput = Pipe()
        let standardError = Pipe()
        process.standardOutput = standardOutput
        process.standardError = standardError
        process.standardInput = FileHandle.nullDevice
        self.process = process
        output = Collected(from: standardOutput)
        errorOutput = Collected(from: standardError)
        try ChildExit.start(process)
    }

    public var pid: Int32 { process.processIdentifier }
    public var standardOutput: String { output.value }
    public var standardError: String { errorOutput.value }
    public var isRunning: Bool { process.isRunning }

    /// Waits until standard output (or standard error) contains `text`; fails if the process exits first or the
    /// time runs out.
    @discardableResult
    public func waitForOutput(
        containing text: String, inStandardError: Bool = false, timeout: Duration = .seconds(30)
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = inStandardError ? standardError : standardOutput
            if current.contains(text) { return current }
            guard process.isRunning else {
                throw Failure(
                    description:
                        "the process exited (status \(process.terminationStatus)) before printing \"\(text)\"; output: \(current) errors: \(standardError)"
                )
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "\"\(text)\" did not appear within \(timeout); output: \(standardOutput)")
    }

    /// The first match of a pattern's first capture group in standard output (or standard error).
    public func firstMatch(_ pattern: String, inStandardError: Bool = false) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return nil }
        let text = inStandardError ? standardError : standardOutput
        let range = NSRange(text.startIndex..., in: text)
        guard let match = regex.firstMatch(in: text, range: range), match.numberOfRanges > 1,
            let captured = Range(match.range(at: 1), in: text)
        else { return nil }
        return String(text[captured])
    }

    /// Sends SIGTERM and waits for the exit; SIGKILL if it takes longer than `timeout`. Returns the exit status.
    @discardableResult
    public func stop(timeout: Duration = .seconds(15)) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        if await !ChildExit.wait(for: process, upTo: timeout) {
            kill(process.processIdentifier, SIGKILL)
            await ChildExit.wait(for: process, upTo: .seconds(10))
            return -9
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Output collected from a child process's pipe as it arrives, by a thread of its own blocked in `read(2)` (never a
/// Swift concurrency thread). Foundation's `readabilityHandler` is not used: on Linux it stops delivering now and
/// then, leaving the rest of the output (and the end of the pipe) unseen.
final class Collected: Sendable {
    private let state = Mutex((data: Data(), ended: false))

    init(from pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        let reader = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                state.withLock { $0.data.append(contentsOf: chunk[0..<count]) }
            }
            state.withLock { $0.ended = true }
        }
        reader.start()
    }

    var value: String { state.withLock { String(decoding: $0.data, as: UTF8.self) } }
    var ended: Bool { state.withLock { $0.ended } }

    /// Waits (polling) until the pipe has reached its end or `limit` has passed.
    func waitForEnd(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !ended && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
