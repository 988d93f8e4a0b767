import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PierBoardStore
import PierCore

/// Settings of the board API that an operator chooses.
public struct BoardAPISettings: Sendable {
    /// Lifetime of a refresh token, in seconds; every refresh starts a new one.
    public var refreshLifetime: Int64
    /// Origins (`https://board.example.com`) allowed to make cookie-authenticated changes besides the board's own.
    public var allowedOrigins: Set<String>
    /// Peers whose `X-Forwarded-*` headers are believed (none by default).
    public var trustedProxies: TrustedProxies
    /// A secret the edge that `pier up` starts adds to every request it proxies (``proxySecretField``): a request
    /// carrying it came through that edge, whatever the peer, so its `X-Forwarded-*` headers are believed.
    public var proxySecret: String?
    /// Whether webhooks may call loopback, private and link-local addresses (refused by default).
    public var allowPrivateWebhookTargets: Bool

    public init(
        refreshLifetime: Int64 = 30 * 24 * 3600,
        allowedOrigins: Set<String> = [],
        trustedProxies: TrustedProxies = TrustedProxies(),
        proxySecret: String? = nil,
        allowPrivateWebhookTargets: Bool = false
    ) {
        self.allowPrivateWebhookTargets = allowPrivateWebhookTargets
        self.refreshLifetime = refreshLifetime
        self.allowedOrigins = Set(allowedOrigins.map { $0.lowercased() })
        self.trustedProxies = trustedProxies
        self.proxySecret = proxySecret.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The request field that carries ``proxySecret``.
    public static let proxySecretField = "Pier-Proxy-Secret"
}

/// The board's HTTP API under `/api/v1`, plus `/healthz` and `/readyz`.
///
/// Stateless apart from the per-instance login throttle: tokens verify with the public key and everything else is
/// in the database, so any number of instances can serve the same board.
public final class BoardAPI: Sendable {
    public static let prefix = "/api/v1"
    static let accessCookie = "pier_access"
    static let refreshCookie = "pier_refresh"

    let repository: any BoardRepository
    let tokens: AccessTokenIssuer
    let passwords: PasswordHasher
    let settings: BoardAPISettings
    let throttle: LoginThrottle
    let logger: Logger
    /// Milliseconds since 1970.
    let clock: @Sendable () -> Int64
    /// Set when shutdown begins (see ``startDraining()``).
    let drain = DrainState()
    /// The live streams of this process; a `Service` to run with the server, stopped before it.
    public let live: LiveBoardHub

    public init(
        repository: any BoardRepository,
        tokens: AccessTokenIssuer,
        passwords: PasswordHasher,
        settings: BoardAPISettings = BoardAPISettings(),
        logger: Logger,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
        feed: ChangeFeed? = nil
    ) {
        self.live = LiveBoardHub(
            repository: repository, feed: feed ?? (repository as? SQLBoardRepository)?.feed ?? ChangeFeed(),
            logger: logger)
        self.repository = repository
        self.tokens = tokens
        self.passwords = passwords
        self.settings = settings
        self.logger = logger
        self.clock = clock
        self.throttle = LoginThrottle { Double(clock()) / 1000 }
    }

    /// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
    public static var openAPIJSON: String { OpenAPIDocument.json }

    /// The router with every route; ``routeTable`` lists them for the OpenAPI coverage test.
    public func router() -> Router<BoardContext> {
        let router = Router(context: BoardContext.self)
        let allowedMethods = AllowedMethods()
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: ProblemMiddleware(allowedMethods: allowedMethods))
        router.get("/healthz") { _, _ in Response.json(StringsOut(members: ["status": "ok"])) }
        router.get("/readyz") { [repository, drain] _, _ in
            guard !drain.isDraining else {
                throw APIProblem(
                    .serviceUnavailable, code: "draining",
                    detail: "the instance is shutting down and finishes the requests it has; send new ones elsewhere")
            }
            guard await repository.isReady() else {
                throw APIProblem(
                    .serviceUnavailable, code: "not_ready",
                    detail: "the database is unreachable or its schema is not current")
            }
            return Response.json(StringsOut(members: ["status": "ready"]))
        }
        router.get("\(Self.prefix)/openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        addAuthRoutes(router)

        let signedIn = router.group(RouterPath(Self.prefix)).add(middleware: AuthenticationMiddleware(api: self))
        addAccountRoutes(signedIn)
        addBoardRoutes(signedIn)
        addTaskRoutes(signedIn)
        addDeliveryRoutes(signedIn)
        addInboxRoutes(signedIn)
        addLiveRoutes(signedIn)
        addWebhookRoutes(signedIn)
        allowedMethods.set(router.routes.map { (path: "\($0.path)", method: $0.method) })
        return router
    }

    // MARK: Client address and origin

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!
    static let proxySecretName = HTTPField.Name(BoardAPISettings.proxySecretField)!

    /// Whether the request came through a trusted proxy: a trusted peer, or one that presents the proxy secret.
    func viaTrustedProxy(_ request: Request, _ context: BoardContext) -> Bool {
        if settings.trustedProxies.trusts(context.peerAddress) { return true }
        guard let secret = settings.proxySecret else { return false }
        let presented = request.headers[values: Self.proxySecretName]
        // Exactly one, compared in constant time: the edge drops any the client sent and writes its own once.
        guard presented.count == 1 else { return false }
        let given = Array(presented[0].utf8)
        let expected = Array(secret.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The client's address: the last hop a trusted proxy recorded, else the peer.
    func clientAddress(_ request: Request, _ context: BoardContext) -> String {
        if viaTrustedProxy(request, context),
            let forwarded = request.headers[values: Self.forwardedFor].last,
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty,
            last.utf8.count <= 64
        {
            return last
        }
        return context.peerAddress ?? "unknown"
    }

    /// The origin the request was sent to, as a browser would write it in `Origin`.
    func ownOrigin(_ request: Request, _ context: BoardContext) -> String? {
        let trusted = viaTrustedProxy(request, context)
        let scheme =
            (trusted ? request.headers[Self.forwardedProto].flatMap { $0.split(separator: ",").first } : nil)
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "http"
        let host =
            (trusted ? request.headers[Self.forwardedHost].flatMap { $0.split(separator: ",").first } : nil)
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? request.head.authority
        guard let host, !host.isEmpty else { return nil }
        return "\(scheme)://\(host.lowercased())"
    }

    /// Refuses a state change whose `Origin` is neither the board's own nor an allowed one: with cookies, the
    /// browser would otherwise attach the session to a request another site made.
    func checkOrigin(_ request: Request, _ context: BoardContext, required: Bool = true) throws {
        guard let origin = request.headers[.origin]?.lowercased() else {
            if required {
                throw APIProblem(
                    .forbidden, code: "origin_required",
                    detail: "requests that change data with a session cookie must carry an Origin header")
            }
            return
        }
        if settings.allowedOrigins.contains(origin) || origin == ownOrigin(request, context) { return }
        throw APIProblem(
            .forbidden, code: "origin_refused", detail: "requests from \(origin) may not use this session")
    }

    // MARK: Tokens and cookies

    /// Signs an access token for `user` and answers with both tokens in the body and as cookies.
    func tokenResponse(user: User, refreshToken: String) throws -> Response {
        let (accessToken, _) = try tokens.issue(userID: user.id, role: user.role, sessionVersion: user.sessionVersion)
        var headers = HTTPFields()
        headers.append(
            HTTPField(
                name: .setCookie,
                value: Self.cookie(Self.accessCookie, accessToken, path: "/api/", maxAge: tokens.lifetime)))
        headers.append(
            HTTPField(
                name: .setCookie,
                value: Self.cookie(
                    Self.refreshCookie, refreshToken, path: "\(Self.prefix)/auth/", maxAge: settings.refreshLifetime)))
        return Response.json(
            TokensOut(
                accessToken: accessToken, refreshToken: refreshToken, expiresIn: tokens.lifetime, user: UserOut(user)),
            headers: headers)
    }

    static func cookie(_ name: String, _ value: String, path: String, maxAge: Int64) -> String {
        "\(name)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Strict"
    }

    static var clearedCookies: HTTPFields {
        var headers = HTTPFields()
        headers.append(HTTPField(name: .setCookie, value: cookie(accessCookie, "", path: "/api/", maxAge: 0)))
        headers.append(
            HTTPField(name: .setCookie, value: cookie(refreshCookie, "", path: "\(prefix)/auth/", maxAge: 0)))
        return headers
    }
}

/// Turns every failure into a problem document: the API's own, storage errors, the router's 404, and anything
/// unexpected (500, logged with the request id; no detail leaks to the client).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = BoardContext
    let allowedMethods: AllowedMethods

    func handle(_ request: Request, context: BoardContext, next: (Request, BoardContext) async throws -> Response)
        async throws -> Response
    {
        do {
            var response = try await next(request, context)
            response.headers[.xContentTypeOptions] = "nosniff"
            return response
        } catch let problem as APIProblem {
            throw problem
        } catch let error as StoreError {
            let problem = APIProblem.from(error)
            if problem.status == .internalServerError {
                context.logger.error("stored data unreadable", metadata: ["error": "\(error)"])
            } else if error.isUnavailable || error.isStorageFull {
                context.logger.warning("database unavailable", metadata: ["error": "\(error)"])
            }
            throw problem
        } catch let error as HTTPError {
            if error.status == .notFound, case let allowed = allowedMethods.methods(for: request.uri.path),
                !allowed.isEmpty
            {
                let list = allowed.map(\.rawValue).joined(separator: ", ")
                throw APIProblem(
                    .methodNotAllowed, code: "method_not_allowed",
                    detail: "\(request.uri.path) does not support \(request.method); it supports \(list)",
                    headers: [.allow: list])
            }
            let code = error.status == .notFound ? "no_route" : "http_\(error.status.code)"
            throw APIProblem(
                error.status, code: code,
                detail: error.status == .notFound
                    ? "no such endpoint: \(request.method) \(request.uri.path)" : error.body,
                headers: error.headers)
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["error": "\(error)", "method": "\(request.method)", "path": "\(request.uri.path)"])
            throw APIProblem(
                .internalServerError, code: "internal_error",
                detail: "the server failed to handle the request; the request id identifies it in the server log")
        }
    }
}

/// Verifies the access token (the `Authorization: Bearer` header, or the `pier_access` cookie) and loads the user,
/// so that a disabled account stops working at once and roles come from the database, not the token.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = BoardContext
    let api: BoardAPI

    /// What an account whose password was generated may reach: its own account and password.
    static func answersBeforePasswordChange(_ path: String) -> Bool {
        let trimmed = path.utf8.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed == "\(BoardAPI.prefix)/me" || trimmed == "\(BoardAPI.prefix)/me/password"
    }

    func handle(_ request: Request, context: BoardContext, next: (Request, BoardContext) async throws -> Response)
        async throws -> Response
    {
        var context = context
        let token: String
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIProblem.unauthenticated("the Authorization header must be \"Bearer <token>\"")
            }
            token = parts[1].trimmingCharacters(in: .whitespaces)
        } else if let cookie = request.cookies[BoardAPI.accessCookie]?.value, !cookie.isEmpty {
            token = cookie
            context.viaCookie = true
        } else {
            throw APIProblem.unauthenticated()
        }
        let claims: AccessClaims
        do {
            claims = try api.tokens.verify(token)
        } catch .expired {
            throw APIProblem.tokenExpired()
        } catch {
            throw APIProblem.unauthenticated("the access token is not valid")
        }
        // The account is read on every request anyway; its session version comes with it, so a token outlives
        // sign-out, a new password or disabling by no request, on every instance, without another query.
        guard let user = try await api.repository.user(id: claims.subject), !user.disabled else {
            throw APIProblem.unauthenticated("the account is disabled or no longer exists")
        }
        guard user.sessionVersion == claims.sessionVersion else {
            throw APIProblem.unauthenticated("the session of this access token has ended")
        }
        if context.viaCookie && ![.get, .head, .options].contains(request.method) {
            try api.checkOrigin(request, context)
        }
        if user.passwordChangeRequired && !Self.answersBeforePasswordChange(request.uri.path) {
            throw APIProblem(
                .forbidden, code: "password_change_required",
                detail:
                    "this account's password was generated: choose your own with POST \(BoardAPI.prefix)/me/password first (only \(BoardAPI.prefix)/me answers until then)"
            )
        }
        context.user = user
        context.logger[metadataKey: "pier.user"] = "\(user.id)"
        return try await next(request, context)
    }
}
