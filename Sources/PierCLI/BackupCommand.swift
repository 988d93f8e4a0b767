import ArgumentParser
import Foundation
import Logging
import PierBoardStore
import PierCore

/// `pier backup`: an online, consistent copy of the board's SQLite database, while Pier serves from it.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the board's SQLite database while Pier runs: consistent, checked, mode 0600.",
        discussion: """
            The copy holds every change committed before the backup began (one read transaction; writers go on \
            meanwhile) and is checked with PRAGMA integrity_check. It never overwrites a file. To restore: stop \
            Pier, move the database file and its -wal and -shm files aside, copy the backup to the database path, \
            start Pier. PostgreSQL is backed up with its own tools (pg_dump, or the operator's backups): see the \
            README.
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("The new file to write the copy to (must not exist).", valueName: "file"))
    var to: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if case .postgres = database.databaseURL {
            throw ValidationError(
                "--database-url: pier backup copies SQLite databases; back up PostgreSQL with pg_dump --format=custom (see the README's Backups)"
            )
        }
    }

    func run() async throws {
        _ = Bootstrap.observability(global)
        guard case .sqlite(let path) = database.databaseURL else { throw ExitCode(2) }
        do {
            let summary = try await SQLiteBackup.backup(database: path, to: to, logger: Logger(label: "pier.backup"))
            printNow(
                "pier backup: \(path) → \(to): \(summary.bytes) bytes, schema \(summary.schemaVersion), "
                    + "\(summary.users) users, \(summary.boards) boards, \(summary.tasks) tasks; integrity ok")
        } catch {
            printError("pier backup: \(error)")
            throw ExitCode(1)
        }
    }
}
