import ArgumentParser
import Foundation
import PierCore
import PierTesting
import Testing

@testable import PierCLI

@Suite("pier command line")
struct PierCommandTests {
    @Test("`pier version` parses")
    func parsesVersion() throws {
        let command = try PierCommand.parseAsRoot(["version"])
        #expect(command is VersionCommand)
    }

    @Test("unknown subcommands are refused")
    func refusesUnknown() {
        #expect(throws: (any Error).self) { try PierCommand.parseAsRoot(["frobnicate"]) }
    }

    @Test("the built binary prints its version and a help listing only real commands")
    func binary() async throws {
        let version = try await PierBinary.run(["version"])
        #expect(version.status == 0)
        #expect(version.output == "pier \(PierVersion.current)\n")

        let help = try await PierBinary.run(["--help"])
        #expect(help.status == 0)
        let listed = help.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for name in PierCommand.configuration.subcommands.compactMap({ $0.configuration.commandName }) {
            #expect(listed.contains { $0.hasPrefix(name + " ") || $0 == name }, "\(name) is missing from --help")
        }
    }
}

/// Runs the `pier` executable built next to the test bundle.
enum PierBinary {
    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    static var url: URL {
        var directory = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("pier").path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("pier")
    }

    /// Runs `pier` with `arguments` to its end (without blocking a thread: see `CommandLineTool`).
    static func run(_ arguments: [String], stdin: String? = nil) async throws -> Result {
        let result = try await CommandLineTool.run(url.path, arguments, input: stdin ?? "", timeout: .seconds(120))
        return Result(status: result.status, output: result.output, error: result.errors)
    }
}
