import ArgumentParser
import Crypto
import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import PierBoard
import PierBoardStore
import PierCore
import PierNotify
import PierTokens
import ServiceLifecycle
import UnixSignals

/// Parses `--database-url`, or the environment's `PIER_DATABASE_URL` without it.
struct DatabaseOptions: ParsableArguments {
    /// Where the URL comes from when `--database-url` is not given: the environment keeps a password out of the
    /// process's command line, which every local user can read.
    static let environmentVariable = "PIER_DATABASE_URL"

    @Option(
        name: .customLong("database-url"),
        help: """
            sqlite:///abs/path.sqlite, sqlite://./relative.sqlite or postgres://user:pass@host:port/db. Default:             $PIER_DATABASE_URL, else sqlite://./pier-data/pier.sqlite. Prefer the environment variable for a URL             with a password: the command line is visible to every local user.
            """
    )
    var text: String?

    func validate() throws {
        _ = try parsed()
    }

    /// The URL given, else the environment's, else `nil`.
    static func resolve(_ text: String?) -> (text: String, source: String)? {
        if let text { return (text, "--database-url") }
        if let value = ProcessInfo.processInfo.environment[environmentVariable], !value.isEmpty {
            return (value, environmentVariable)
        }
        return nil
    }

    func parsed() throws -> DatabaseURL {
        guard let (text, source) = Self.resolve(text) else { return .default }
        do {
            return try DatabaseURL(parsing: text)
        } catch {
            throw ValidationError("\(source): \(error.description)")
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
        subcommands: [BoardServeCommand.self, BoardMigrateCommand.self, BoardOpenAPICommand.self]
    )
}

/// `pier board serve`: the board's HTTP API.
struct BoardServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the board's HTTP API (JSON under /api/v1, /healthz, /readyz).",
        discussion: """
            Migrates the schema at start unless --no-migrate is given. On an empty database it creates one Supervisor \
            with a generated password and prints the credentials once. SIGTERM or SIGINT first drains (/readyz \
            answers 503 for --drain-period while requests are still served), then stops accepting connections and \
            lets in-flight requests finish.
            """
    )

    @Option(help: "host:port to listen on; port 0 picks a free port (printed at start).")
    var listen = "127.0.0.1:9001"

    @OptionGroup var database: DatabaseOptions

    @Option(
        help: ArgumentHelp(
            "The token signing key file (PASERK k4.secret, mode 0600), created when missing. Default: signing-key next to a SQLite database, else ./pier-data/signing-key. Instances that share users must share the key; PIER_SIGNING_KEY (a k4.secret PASERK) takes precedence.",
            valueName: "path"))
    var signingKeyFile: String?

    @Option(help: "bcrypt cost for new passwords (10-16).")
    var bcryptCost: UInt8 = 12

    @Option(
        name: .customLong("allowed-origin"),
        help:
            "An origin (https://board.example.com) allowed to make cookie-authenticated changes besides the board's own; repeatable."
    )
    var allowedOrigins: [String] = []

    @Option(
        help: """
            Peers whose X-Forwarded-For/-Proto/-Host are believed: none, loopback, or comma-separated addresses and \
            address ranges (10.0.0.0/8, fd00::/8, for edge pods whose addresses change).
            """)
    var trustedProxies = "none"

    @Option(help: "Email of the Supervisor created on an empty database.")
    var initialSupervisorEmail = "admin@pier.localhost"

    @Flag(inversion: .prefixedNo, help: "Apply pending schema migrations at start.")
    var migrate = true

    @Option(
        help: ArgumentHelp(
            "After SIGTERM/SIGINT, how long /readyz answers 503 while requests are still served, before the listener closes (so a load balancer's health checks stop choosing this instance first); 0s to stop at once.",
            valueName: "duration"))
    var drainPeriod = "5s"

    @Option(
        help: ArgumentHelp(
            "host:port for GET /metrics (Prometheus text format); off unless given. Keep it on loopback or a private network: it tells anyone who can reach it how the instance is used.",
            valueName: "host:port"))
    var metricsListen: String?

    @OptionGroup(title: "Email notifications") var mail: MailOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        _ = try mail.settings(defaultPublicURL: nil)
        _ = try parsedListen()
        _ = try parsedMetricsListen()
        _ = try parsedProxies()
        _ = try parsedDrainPeriod()
        guard (PasswordHasher.minimumCost...16).contains(bcryptCost) else {
            throw ValidationError("--bcrypt-cost must be between \(PasswordHasher.minimumCost) and 16")
        }
        for origin in allowedOrigins where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
            throw ValidationError(
                "--allowed-origin \(origin): an origin is scheme://host[:port], such as https://board.example.com")
        }
        if let problem = AccountRules.emailProblem(initialSupervisorEmail) {
            throw ValidationError("--initial-supervisor-email: \(problem)")
        }
    }

    func parsedListen() throws -> SocketAddressSpec {
        guard let address = SocketAddressSpec(parsing: listen) else {
            throw ValidationError(
                "--listen: \"\(listen)\" is not host:port or [address]:port with a port from 0 to 65535")
        }
        return address
    }

    func parsedMetricsListen() throws -> SocketAddressSpec? {
        guard let metricsListen else { return nil }
        guard let address = SocketAddressSpec(parsing: metricsListen) else {
            throw ValidationError(
                "--metrics-listen: \"\(metricsListen)\" is not host:port or [address]:port with a port from 0 to 65535")
        }
        return address
    }

    func parsedDrainPeriod() throws -> Duration {
        guard let period = ConfigDuration.parse(drainPeriod), period <= .seconds(600) else {
            throw ValidationError(
                "--drain-period: \"\(drainPeriod)\" is not a duration such as 5s, 500ms or 0s, up to 10m")
        }
        return period
    }

    func parsedProxies() throws -> TrustedProxies {
        do { return try TrustedProxies(parsing: trustedProxies) } catch {
            throw ValidationError("--trusted-proxies: \(error)")
        }
    }

    /// Where the signing key lives when not given.
    var keyPath: String {
        if let signingKeyFile { return signingKeyFile }
        if case .sqlite(let path) = database.databaseURL {
            return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("signing-key").path
        }
        return "./pier-data/signing-key"
    }

    func run() async throws {
        let registry = Bootstrap.observability(global)
        let logger = Logger(label: "pier.board")
        let signingKey: Curve25519.Signing.PrivateKey
        do {
            let (key, created) = try Bootstrap.signingKey(path: keyPath)
            if created { logger.notice("created a token signing key", metadata: ["pier.path": "\(keyPath)"]) }
            signingKey = key
        } catch {
            printError("pier: \(error)")
            throw ExitCode(1)
        }
        let opened = try await BoardDatabase.open(database.databaseURL, logger: logger)
        let passwords = PasswordHasher(cost: bcryptCost)
        let api = BoardAPI(
            repository: opened.repository,
            tokens: AccessTokenIssuer(signingKey: signingKey),
            passwords: passwords,
            settings: BoardAPISettings(
                allowedOrigins: Set(allowedOrigins), trustedProxies: try parsedProxies(),
                allowPrivateWebhookTargets: mail.webhooksAllowPrivate),
            logger: logger
        )
        let (migrate, email) = (migrate, initialSupervisorEmail)
        let listen = try parsedListen()
        let app = BoardServer.application(api: api, listen: listen, logger: logger) { channel in
            let port = channel.localAddress?.port ?? listen.port
            let shown = SocketAddressSpec(host: listen.host, port: port)
            printNow("pier board listening on http://\(shown)")
        }
        let prepare = PrepareBoard(
            repository: opened.repository, passwords: passwords, migrate: migrate, supervisorEmail: email,
            logger: logger)
        let notifier = try mail.notifier(database: opened.repository.database, defaultPublicURL: nil, logger: logger)
        // Last, so it is the first to hear of shutdown: the server keeps listening until the drain is over. The live
        // streams end next (their clients reconnect elsewhere), so that the server has no endless request to wait for.
        let drain = DrainBeforeShutdown(api: api, period: try parsedDrainPeriod(), logger: logger)
        var observability: [any Service] = [
            BacklogGauges(store: SQLNotificationStore(database: opened.repository.database), logger: logger)
        ]
        if let metricsAddress = try parsedMetricsListen() {
            observability.append(
                MetricsServer.application(registry: registry, listen: metricsAddress, logger: logger) { channel in
                    let port = channel.localAddress?.port ?? metricsAddress.port
                    printNow(
                        "pier board metrics on http://\(SocketAddressSpec(host: metricsAddress.host, port: port))/metrics"
                    )
                })
        }
        let hangup = HangupNotice(
            logger: logger, message: "SIGHUP: the board has nothing to reload; restart it to change its settings")
        try await Bootstrap.run(
            [hangup] + opened.services + [prepare, notifier] + observability + [app, api.live, drain], logger: logger,
            cleanup: opened.close)
    }
}

/// Start-up work that needs the database pool running: migrations and the first Supervisor. It then waits for
/// shutdown like any other service. The HTTP server answers `/readyz` with 503 until the schema is current.
struct PrepareBoard: Service {
    let repository: SQLBoardRepository
    let passwords: PasswordHasher
    let migrate: Bool
    let supervisorEmail: String
    let logger: Logger
    /// Called once the schema is current and the first Supervisor exists.
    var onPrepared: @Sendable () -> Void = {}

    func run() async throws {
        // A database that is not reachable yet (PostgreSQL still starting) is waited for, not a failed start.
        while true {
            do {
                try await prepare()
                break
            } catch let error as StoreError where error.isUnavailable {
                if Task.isShuttingDownGracefully { return }
                logger.warning("the database is unavailable; retrying in 1 s", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
        onPrepared()
        try await gracefulShutdown()
    }

    func prepare() async throws {
        if migrate {
            let applied = try await Migrations.migrate(
                repository.database, now: Int64(Date().timeIntervalSince1970 * 1000))
            if !applied.isEmpty {
                logger.notice("applied migrations", metadata: ["pier.versions": "\(applied)"])
            }
        }
        try await passwords.prepare()
        if try await repository.countUsers() == 0 {
            let password = AccountRules.generatePassword()
            do {
                let user = try await repository.createUser(
                    email: supervisorEmail, name: "Supervisor", role: .supervisor,
                    passwordHash: try await passwords.hash(password), actorID: nil, passwordChangeRequired: true)
                printNow(
                    """
                    Created the first Supervisor account:
                      email:    \(user.email)
                      password: \(password)
                    This password is shown only once. At the first sign-in you choose your name and a new password.
                    """)
            } catch let error as StoreError where error.isDuplicate {
                // Another instance created it at the same moment.
            }
        }
    }
}

/// Drains the instance when shutdown begins: `/readyz` answers 503 for `period` while the HTTP server (stopped after
/// this service, since the group stops services in reverse order) still takes and serves requests, so a load
/// balancer stops choosing the instance before its connections close.
struct DrainBeforeShutdown: Service {
    let api: BoardAPI
    let period: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is stopping without a graceful shutdown
        }
        guard period > .zero else { return }
        api.startDraining()
        logger.notice(
            "draining before shutdown: /readyz answers 503",
            metadata: ["pier.drain": "\(ConfigDuration.format(period))"])
        try? await Task.sleep(for: period)
    }
}

/// `pier board openapi`: prints the API's OpenAPI 3.1 document (also served at /api/v1/openapi.json).
struct BoardOpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the board API's OpenAPI 3.1 document (the same as GET /api/v1/openapi.json)."
    )

    func run() {
        print(BoardAPI.openAPIJSON)
    }
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
        let (email, name, role, mustChange) = (email, name, role, generated)
        do {
            let user = try await BoardDatabase.withRepository(database.databaseURL, logger: logger) { repository in
                try await repository.migrate()
                return try await repository.createUser(
                    email: email, name: name, role: role, passwordHash: hash, actorID: nil,
                    passwordChangeRequired: mustChange)
            }
            print("created \(user.role.rawValue) \(user.email) (id \(user.id))")
            if generated {
                print("password: \(password)")
                print("This password is shown only once; its owner chooses their own at the first sign-in.")
            }
        } catch let error as StoreError where error.isDuplicate {
            printError("pier: \(error.reason)")
            throw ExitCode(1)
        }
    }
}
