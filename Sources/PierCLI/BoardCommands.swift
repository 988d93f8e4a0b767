import ArgumentParser
import Foundation
import HummingbirdBcrypt
import Logging
import PierBoard
import PierBoardStore
import PierCore

/// Parses `--database-url`.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: "sqlite:///abs/path.sqlite, sqlite://./relative.sqlite or postgres://user:pass@host:port/db"
    )
    var text = "sqlite://./pier-data/pier.sqlite"

    func validate() throws {
        _ = try parsed()
    }

    func parsed() throws -> DatabaseURL {
        do {
            return try DatabaseURL(parsing: text)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The parsed URL (validated before `run`).
    var databaseURL: DatabaseURL { (try? parsed()) ?? .default }
}

/// `pier board`: the task-board service.
struct BoardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "board",
        abstract: "The task board service.",
        subcommands: [BoardMigrateCommand.self]
    )
}

/// `pier board migrate`: brings the database schema up to date.
struct BoardMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the board's database schema (safe to run from several instances at once)."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = Logger(label: "pier.board")
        let applied = try await BoardDatabase.withRepository(database.databaseURL, logger: logger) { repository in
            try await Migrations.migrate(repository.database, now: Int64(Date().timeIntervalSince1970 * 1000))
        }
        if applied.isEmpty {
            print("\(database.databaseURL): schema is current (version \(Migrations.latestVersion))")
        } else {
            print(
                "\(database.databaseURL): applied migration\(applied.count == 1 ? "" : "s") \(applied.map(String.init).joined(separator: ", "))"
            )
        }
    }
}

/// `pier user`: account administration from the command line.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage board accounts.",
        subcommands: [UserCreateCommand.self]
    )
}

/// `pier user create`: adds an account, with a password from standard input or a generated one printed once.
struct UserCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a user. Without --password-stdin a password is generated and printed once."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The sign-in email address.")
    var email: String

    @Option(help: "The name shown on the board.")
    var name: String

    @Option(
        help: "supervisor or pic.",
        transform: { text in
            guard let role = UserRole(rawValue: text.lowercased()) else {
                throw ValidationError("role must be supervisor or pic")
            }
            return role
        })
    var role: UserRole

    @Flag(help: "Read the password from standard input (one line) instead of generating one.")
    var passwordStdin = false

    @Option(help: "bcrypt cost (10-16).")
    var bcryptCost: UInt8 = 12

    func validate() throws {
        if let problem = AccountRules.emailProblem(email) { throw ValidationError(problem) }
        if let problem = AccountRules.nameProblem(name) { throw ValidationError(problem) }
        guard (10...16).contains(bcryptCost) else { throw ValidationError("--bcrypt-cost must be between 10 and 16") }
    }

    func run() async throws {
        let password: String
        var generated = false
        if passwordStdin {
            guard let line = readLine(strippingNewline: true) else {
                throw ValidationError("no password on standard input")
            }
            if let problem = AccountRules.passwordProblem(line) { throw ValidationError(problem) }
            password = line
        } else {
            password = AccountRules.generatePassword()
            generated = true
        }
        let hash = Bcrypt.hash(password, cost: bcryptCost)
        let logger = Logger(label: "pier.board")
        let (email, name, role) = (email, name, role)
        do {
            let user = try await BoardDatabase.withRepository(database.databaseURL, logger: logger) { repository in
                try await repository.migrate()
                return try await repository.createUser(
                    email: email, name: name, role: role, passwordHash: hash, actorID: nil)
            }
            print("created \(user.role.rawValue) \(user.email) (id \(user.id))")
            if generated {
                print("password: \(password)")
                print("This password is shown only once; store it now.")
            }
        } catch let error as StoreError where error.isDuplicate {
            printError("pier: \(error.reason)")
            throw ExitCode(1)
        }
    }
}
