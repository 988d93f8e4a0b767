import ArgumentParser
import PierCore

/// `pier version`: prints the version of this build.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print Pier's version."
    )

    func run() {
        print("pier \(PierVersion.current)")
    }
}
