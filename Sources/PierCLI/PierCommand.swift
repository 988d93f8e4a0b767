import ArgumentParser
import PierCore

/// The `pier` command: every Pier capability behind one executable.
@main
struct PierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier",
        abstract: "Pier: the front door, the task board and the whole stack in one Swift binary.",
        version: PierVersion.current,
        subcommands: [
            UpCommand.self, EdgeCommand.self, BoardCommand.self, UserCommand.self, ConfigCommand.self, CertCommand.self,
            BackupCommand.self, VersionCommand.self,
        ]
    )
}
