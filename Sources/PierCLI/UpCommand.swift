import ArgumentParser
import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import PierACME
import PierBoard
import PierBoardStore
import PierCore
import PierEdge
import PierNotify
import PierTokens
import Prometheus
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `pier up`: the whole system on one machine — the edge serving the web app and proxying `/api/` to one or more
/// board instances, stored in SQLite under `./pier-data/` or in PostgreSQL.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the whole board on this machine: the web app, the API and the database, behind the edge.",
        discussion: """
            Opens http://127.0.0.1:8080/ by default. On an empty database it creates a Supervisor and prints the \
            generated credentials once. Data lives in --data-dir (SQLite database and the token signing key) unless \
            --database-url points at PostgreSQL. Ctrl-C or SIGTERM stops everything gracefully.
            """
    )

    @Option(help: "host:port the edge listens on; port 0 picks a free port (printed at start).")
    var listen = "127.0.0.1:8080"

    @Option(help: "Directory for the SQLite database and the signing key (created with mode 0700).")
    var dataDir = "./pier-data"

    @Option(
        name: .customLong("database-url"),
        help: """
            postgres://user:pass@host:port/db to use PostgreSQL. Default: $PIER_DATABASE_URL, else SQLite in \
            --data-dir. Prefer the environment variable for a URL with a password: the command line is visible to \
            every local user.
            """)
    var databaseURL: String?

    @Option(help: "Board instances behind the edge's health-checked pool (1-16).")
    var instances = 1

    @Option(help: "The web app's directory (default: ./web, or the web folder installed next to the binary).")
    var webRoot: String?

    @Option(help: "bcrypt cost for new passwords (10-16).")
    var bcryptCost: UInt8 = 12

    @Option(help: "Email of the Supervisor created on an empty database.")
    var initialSupervisorEmail = "admin@pier.localhost"

    @Flag(help: "Write an access log line per request to standard output.")
    var accessLog = false

    @Option(help: "PEM certificate chain: serve HTTPS (and HTTP/2) on --listen. Needs --tls-key.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert (PKCS#8, RSA or EC).")
    var tlsKey: String?

    @Option(
        help: """
            With --tls-cert or --domain: also listen on this host:port for plain HTTP and redirect it to HTTPS (308); \
            with --domain it also answers the CA's http-01 challenges (default: port 80 of --listen's host).
            """)
    var redirectFrom: String?

    @Option(
        help: """
            Serve HTTPS on --listen with a certificate for this name obtained and renewed automatically by ACME \
            (repeatable; the name must reach this machine on port 80).
            """)
    var domain: [String] = []

    @Option(help: "With --domain: the contact address of the ACME account.")
    var acmeEmail: String?

    @Option(help: "With --domain: the CA's ACME directory URL (default: Let's Encrypt).")
    var acmeDirectory: String?

    @Option(help: "With --domain: a PEM file of roots for the CA's HTTPS endpoint (for a test CA only).")
    var acmeTrustedRoots: String?

    @Option(
        help: ArgumentHelp(
            "Loopback host:port for the operators' listener: GET /status (targets, certificates) and GET /metrics (edge and board, Prometheus text format). Off unless given.",
            valueName: "host:port"))
    var adminListen: String?

    @OptionGroup(title: "Email notifications") var mail: MailOptions

    @OptionGroup var global: GlobalOptions

    /// The address the edge serves on, for links in email, when its port is known before it starts.
    var servedURL: String? {
        guard let address = SocketAddressSpec(parsing: listen), address.port != 0 else { return nil }
        let host = ["0.0.0.0", "::"].contains(address.host) ? "localhost" : address.host
        return "\(isHTTPS ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(address.port)"
    }

    func validate() throws {
        _ = try mail.settings(defaultPublicURL: servedURL)
        _ = try parsedAdmin()
        guard SocketAddressSpec(parsing: listen) != nil else {
            throw ValidationError("--listen: \"\(listen)\" is not host:port or [address]:port")
        }
        guard (1...16).contains(instances) else { throw ValidationError("--instances must be between 1 and 16") }
        guard (PasswordHasher.minimumCost...16).contains(bcryptCost) else {
            throw ValidationError("--bcrypt-cost must be between \(PasswordHasher.minimumCost) and 16")
        }
        if let (text, source) = DatabaseOptions.resolve(databaseURL) {
            do { _ = try DatabaseURL(parsing: text) } catch { throw ValidationError("\(source): \(error.description)") }
        }
        if let problem = AccountRules.emailProblem(initialSupervisorEmail) {
            throw ValidationError("--initial-supervisor-email: \(problem)")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if !domain.isEmpty {
            guard tlsCert == nil else { throw ValidationError("--domain and --tls-cert: choose one") }
            for name in domain where !EdgeConfig.isACMEName(name) {
                throw ValidationError("--domain: \"\(name)\" is not a DNS name a public CA issues for")
            }
            if let acmeDirectory, !acmeDirectory.hasPrefix("https://") {
                throw ValidationError("--acme-directory must be an https:// URL")
            }
        } else if acmeEmail != nil || acmeDirectory != nil || acmeTrustedRoots != nil {
            throw ValidationError("--acme-email, --acme-directory and --acme-trusted-roots go with --domain")
        }
        if let redirectFrom {
            guard isHTTPS else { throw ValidationError("--redirect-from needs --tls-cert and --tls-key, or --domain") }
            guard SocketAddressSpec(parsing: redirectFrom) != nil else {
                throw ValidationError("--redirect-from: \"\(redirectFrom)\" is not host:port or [address]:port")
            }
        }
    }

    /// The edge's listeners: HTTPS with HTTP/2 when a certificate is given (and the redirecting plain listener), else
    /// plain HTTP.
    func listeners() -> [ListenConfig] {
        let address = SocketAddressSpec(parsing: listen)!
        if !domain.isEmpty {
            let plain =
                redirectFrom.flatMap(SocketAddressSpec.init(parsing:))
                ?? SocketAddressSpec(host: address.host, port: 80)
            return [
                ListenConfig(address: address, tls: TLSListenerConfig(certificates: [], acme: true)),
                ListenConfig(address: plain, redirectHTTPS: true),
            ]
        }
        guard let tlsCert, let tlsKey else { return [ListenConfig(address: address)] }
        let files = CertificateFiles(
            certificate: URL(fileURLWithPath: tlsCert).standardizedFileURL.path,
            key: URL(fileURLWithPath: tlsKey).standardizedFileURL.path)
        var listeners = [ListenConfig(address: address, tls: TLSListenerConfig(certificates: [files]))]
        if let redirectFrom, let plain = SocketAddressSpec(parsing: redirectFrom) {
            listeners.append(ListenConfig(address: plain, redirectHTTPS: true))
        }
        return listeners
    }

    /// `--admin-listen`, which must be a loopback address like the edge's `admin.listen`.
    func parsedAdmin() throws -> AdminConfig? {
        guard let adminListen else { return nil }
        guard let address = SocketAddressSpec(parsing: adminListen), EdgeConfig.isLoopback(address.host) else {
            throw ValidationError(
                "--admin-listen: \"\(adminListen)\" is not a loopback host:port (127.0.0.1:9901, [::1]:9901 or localhost:9901)"
            )
        }
        return AdminConfig(listen: address)
    }

    var isHTTPS: Bool { tlsCert != nil || !domain.isEmpty }

    /// With --domain: certificates for those names, kept in the data directory.
    func acmeSettings(dataDirectory: String) -> ACMESettings? {
        guard !domain.isEmpty else { return nil }
        return ACMESettings(
            directory: acmeDirectory ?? ACMESettings.letsEncrypt, email: acmeEmail,
            domains: domain.map { $0.lowercased() }, storage: dataDirectory + "/acme",
            trustedRoots: acmeTrustedRoots.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
    }

    func run() async throws {
        let registry = Bootstrap.observability(global)
        let logger = Logger(label: "pier.up")
        let web = try Self.findWebRoot(webRoot)
        let dataDirectory = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            printError("pier: cannot create the data directory \(dataDirectory): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        let database =
            try DatabaseOptions.resolve(databaseURL).map { try DatabaseURL(parsing: $0.text) }
            ?? .sqlite(path: dataDirectory + "/pier.sqlite")

        let signingKey: Curve25519.Signing.PrivateKey
        do {
            signingKey = try Bootstrap.signingKey(path: dataDirectory + "/signing-key").key
        } catch {
            printError("pier: \(error)")
            throw ExitCode(1)
        }

        let opened = try await BoardDatabase.open(database, logger: Logger(label: "pier.board"))
        let passwords = PasswordHasher(cost: bcryptCost)
        // The board believes X-Forwarded-For only from requests carrying this run's secret, which only the edge
        // started here adds (dropping any a client sent): other local processes cannot claim a client address.
        let proxySecret = RefreshTokens.generate()
        let api = BoardAPI(
            repository: opened.repository,
            tokens: AccessTokenIssuer(signingKey: signingKey),
            passwords: passwords,
            settings: BoardAPISettings(
                allowedOrigins: [], trustedProxies: TrustedProxies(), proxySecret: proxySecret,
                allowPrivateWebhookTargets: mail.webhooksAllowPrivate),
            logger: Logger(label: "pier.board")
        )
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Void.self)
        let prepare = PrepareBoard(
            repository: opened.repository, passwords: passwords, migrate: true,
            supervisorEmail: initialSupervisorEmail, logger: Logger(label: "pier.board"),
            onPrepared: { preparedSignal.finish() })

        // Each instance gets a loopback port reserved now, so the edge's pool can name it before anything runs.
        var boards: [any Service] = []
        var targets: [UpstreamTargetConfig] = []
        for _ in 0..<instances {
            let port = try LoopbackPort.reserve()
            let address = SocketAddressSpec(host: "127.0.0.1", port: port)
            targets.append(UpstreamTargetConfig(address: address))
            boards.append(BoardServer.application(api: api, listen: address, logger: Logger(label: "pier.board")))
        }

        let edgeConfig = EdgeConfig(
            listen: listeners(),
            accessLog: AccessLogConfig(format: .combined, destination: accessLog ? .standardOutput : .off),
            shutdownTimeout: .seconds(10),
            routes: [
                RouteConfig(
                    match: RouteMatch(pathPrefix: "/api/v1/auth/login"),
                    action: .proxy(Self.boardRoute(proxySecret: proxySecret)),
                    responseHeaders: Self.apiHeaders, name: "signin", rateLimit: Self.signInRateLimit
                ),
                // Signing in, refreshing and ending a session, the token key and the API description need no token;
                // everything else under /api/ is checked at the edge, so a board instance never sees a request
                // without a valid one (and still checks it itself, with the session's revocation).
                RouteConfig(
                    match: RouteMatch(pathPrefix: "/api/v1/auth/"),
                    action: .proxy(Self.boardRoute(proxySecret: proxySecret)),
                    responseHeaders: Self.apiHeaders, name: "auth"
                ),
                RouteConfig(
                    match: RouteMatch(pathPrefix: "/api/v1/openapi.json"),
                    action: .proxy(Self.boardRoute(proxySecret: proxySecret)),
                    responseHeaders: Self.apiHeaders, name: "openapi"
                ),
                RouteConfig(
                    match: RouteMatch(pathPrefix: "/api/"),
                    action: .proxy(Self.boardRoute(proxySecret: proxySecret)),
                    responseHeaders: Self.apiHeaders, name: "api",
                    auth: AuthConfig(
                        paseto: PASETOAuthConfig(
                            key: .inline(PASERK.encode(signingKey.publicKey)),
                            implicitAssertion: String(decoding: AccessTokenIssuer.implicitAssertion, as: UTF8.self)))
                ),
                RouteConfig(
                    match: RouteMatch(pathPrefix: "/", methods: ["GET", "HEAD", "OPTIONS"]),
                    action: .static(StaticConfig(root: web, spaFallback: "index.html")),
                    responseHeaders: Self.webAppHeaders, name: "web"
                ),
            ],
            upstreams: [
                "board": UpstreamConfig(
                    targets: targets,
                    balance: .leastRequests,
                    healthCheck: HealthCheckConfig(
                        path: "/readyz", interval: .milliseconds(500), timeout: .milliseconds(400),
                        healthyThreshold: 1, unhealthyThreshold: 2),
                    passive: PassiveHealthConfig(consecutiveFailures: 3, ejectFor: .seconds(5))
                )
            ],
            admin: try parsedAdmin(),
            acme: acmeSettings(dataDirectory: dataDirectory)
        )
        let edgeLogger = Logger(label: "pier.edge")
        let stack: EdgeStack
        do {
            stack = try EdgeStack(
                config: edgeConfig, configPath: nil, group: MultiThreadedEventLoopGroup.singleton, logger: edgeLogger,
                metrics: { registry.emitToBuffer() })
        } catch {
            printError("pier: \(error)")
            throw ExitCode(1)
        }
        let announce = Announce(
            stack: stack, prepared: prepared, instances: instances, host: edgeConfig.listen[0].address.host,
            scheme: isHTTPS ? "https" : "http")

        let notifier = try mail.notifier(
            database: opened.repository.database, defaultPublicURL: servedURL, logger: Logger(label: "pier.board"))

        // Started in this order and stopped in reverse: the live streams end first (the edge and the board servers
        // would wait for them), then the edge stops taking requests, the database last.
        let services: [any Service] =
            opened.services + [
                prepare, notifier,
                BacklogGauges(
                    store: SQLNotificationStore(database: opened.repository.database),
                    logger: Logger(label: "pier.board")),
            ] + boards + stack.services + [api.live, announce]
        // With TLS the edge reloads its certificate files on SIGHUP; without, the signal must not end the process.
        let hangup: [any Service] =
            stack.server.tls.contains { $0 != nil }
            ? []
            : [HangupNotice(logger: logger, message: "SIGHUP: pier up has nothing to reload without TLS; ignored")]
        try await Bootstrap.run(hangup + services, logger: logger, cleanup: opened.close)
    }

    /// Prints the address once the board is prepared (credentials printed first), the edge listens and a board
    /// instance passes its health check.
    struct Announce: Service {
        let stack: EdgeStack
        let prepared: AsyncStream<Void>
        let instances: Int
        let host: String
        let scheme: String

        func run() async throws {
            try? await cancelWhenGracefulShutdown {
                for await _ in prepared {}
                let addresses = try await stack.server.boundAddresses()
                while stack.source.usableTargets(in: "board") == 0 {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let port = addresses.first?.port ?? 0
                let shown = host.contains(":") ? "[\(host)]" : host
                printNow("pier up: open \(scheme)://\(shown):\(port)/")
                if instances > 1 { printNow("pier up: \(instances) board instances behind the edge") }
                try await gracefulShutdown()
            }
        }
    }

    /// The web app: `--web-root`, else `./web`, else a `web` folder installed next to the binary
    /// (`bin/../share/pier/web` or `bin/web`).
    static func findWebRoot(_ given: String?) throws -> String {
        let manager = FileManager.default
        func usable(_ path: String) -> String? {
            let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
            return manager.fileExists(atPath: standardized + "/index.html") ? standardized : nil
        }
        if let given {
            guard let root = usable(given) else {
                printError("pier: --web-root \(given) has no index.html")
                throw ExitCode(1)
            }
            return root
        }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let candidates = [
            "./web", binary.appendingPathComponent("../share/pier/web").path, binary.appendingPathComponent("web").path,
        ]
        for candidate in candidates {
            if let root = usable(candidate) { return root }
        }
        printError(
            "pier: cannot find the web app (looked in \(candidates.joined(separator: ", "))); pass --web-root DIR")
        throw ExitCode(1)
    }

    /// The web app's answers: a strict policy (only its own scripts, styles and API; no framing), no MIME sniffing,
    /// and no referrer beyond the origin.
    static let webAppHeaders = [
        HeaderField(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        HeaderField("X-Content-Type-Options", "nosniff"),
        HeaderField("Referrer-Policy", "same-origin"),
        HeaderField("X-Frame-Options", "DENY"),
    ]

    /// The proxy route to the board instances; it marks every request with the run's proxy secret.
    static func boardRoute(proxySecret: String) -> ProxyRouteConfig {
        var route = ProxyRouteConfig(upstream: "board", timeouts: ProxyTimeouts(response: .seconds(30)))
        route.setRequestHeaders = [HeaderField(BoardAPISettings.proxySecretField, proxySecret)]
        return route
    }

    /// Sign-in attempts per client address: 30 at once, then two a second. Each attempt costs a bcrypt hash, so a
    /// single address cannot keep the machine's cores busy; the board also throttles failed attempts per account.
    static let signInRateLimit = RateLimitConfig(requests: 120, per: .seconds(60), burst: 30)

    /// The API's answers are data, never documents to render or frame.
    static let apiHeaders = [
        HeaderField("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
        HeaderField("X-Content-Type-Options", "nosniff"),
        HeaderField("Referrer-Policy", "same-origin"),
    ]

}
