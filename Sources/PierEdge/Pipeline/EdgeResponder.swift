import NIOCore
import PierACME
import PierCore

/// The edge's request pipeline, the same for every protocol: route → CORS → static | proxy. The protocol logs the
/// exchange when its answer is complete.
///
/// Each stage answers through the exchange's ``EdgeResponseSink`` or hands on to the next; none of them knows
/// which protocol carries the exchange.
enum EdgeResponder {
    /// Where a request goes: a route (with its checked path), or nowhere.
    enum Resolution {
        case route(EdgeRuntime.Route, RequestPath)
        /// The route's `rate_limit` refuses the request: one is allowed again in `retryIn` nanoseconds.
        case rateLimited(EdgeRuntime.Route, retryIn: Int64)
        /// The route's `auth:` refuses the request's token (or its absence).
        case unauthorized(EdgeRuntime.Route, EdgeAuthenticator.Refusal)
        case invalidPath
        case noRoute
    }

    /// Starts answering an exchange whose head has arrived.
    static func handle(_ exchange: EdgeExchange) {
        if let challenges = exchange.runtime.acmeChallenges, exchange.traits.tlsVersion == nil,
            answerChallenge(exchange, challenges)
        {
            return
        }
        if let port = exchange.traits.redirectHTTPSPort, !isACMEChallenge(exchange.request.target) {
            redirectToHTTPS(exchange, port: port)
            return
        }
        var resolved = resolve(exchange)
        var preflight = false
        if case .route(let route, _) = resolved {
            exchange.routeHeaders = route.renderedHeaders
            exchange.route = route
            preflight = isPreflight(exchange.request, route)
            if let limiter = route.rateLimiter, !preflight {
                // Preflights are answered here and never reach the upstream: they do not count.
                let decision = limiter.admit(
                    key: RateLimiter.key(of: exchange, limiter.config.key),
                    now: Int64(exchange.start.uptimeNanoseconds))
                exchange.rateLimitState = limiter.stateField(decision)
                if case .limited(let retryIn, _) = decision { resolved = .rateLimited(route, retryIn: retryIn) }
            }
            if case .route = resolved, let authenticator = route.authenticator, !preflight {
                switch authenticator.check(exchange, mayFetch: true) {
                case .allowed(let identity):
                    exchange.identity = identity
                case .refused(let refusal):
                    resolved = .unauthorized(route, refusal)
                case .fetchKeys:
                    awaitKeys(exchange, authenticator, resolved)
                    return
                }
            }
        }
        proceed(exchange, resolved, preflight: preflight)
    }

    /// The token did not verify with the key in hand (or there is none yet): the request waits, its body unread,
    /// for the key to be fetched, and is then checked once more.
    static func awaitKeys(_ exchange: EdgeExchange, _ authenticator: EdgeAuthenticator, _ resolved: Resolution) {
        guard case .route(let route, _) = resolved else { return }
        exchange.awaitingKeys = true
        let eventLoop = exchange.sink.eventLoop
        let bound = NIOLoopBound(exchange, eventLoop: eventLoop)
        authenticator.keys.refetch(on: eventLoop) {
            let exchange = bound.value
            exchange.awaitingKeys = false
            guard !exchange.cancelled else { return }
            var resolved = resolved
            switch authenticator.check(exchange, mayFetch: false) {
            case .allowed(let identity): exchange.identity = identity
            case .refused(let refusal): resolved = .unauthorized(route, refusal)
            case .fetchKeys: resolved = .unauthorized(route, .unavailable)
            }
            proceed(exchange, resolved, preflight: false)
            exchange.sink.requestDemandChanged(exchange)
        }
    }

    /// Proxies the request, or answers it once its body is read.
    static func proceed(_ exchange: EdgeExchange, _ resolved: Resolution, preflight: Bool) {
        if case .route(let route, let path) = resolved, case .proxy(let config) = route.action, !preflight {
            // Proxied requests stream their bodies to the upstream as they arrive.
            ProxyExchange.start(exchange, route: route, config: config, path: path)
            return
        }
        let request = exchange.request
        if request.expectsContinue {
            // Answer at once instead of inviting a body the edge would only discard; the unread body means the
            // connection cannot be reused.
            exchange.keepAlive = false
        } else if !exchange.requestEnded {
            // The edge answers only after reading (and discarding, within max_body_bytes) the body, so malformed
            // chunked framing is refused and the connection stays usable.
            exchange.whenRequestEnds = { dispatch(exchange, resolved) }
            return
        }
        dispatch(exchange, resolved)
    }

    /// `/.well-known/acme-challenge/…`: http-01 validation, which must stay on plain HTTP.
    static func isACMEChallenge(_ target: String) -> Bool {
        target.hasPrefix("/.well-known/acme-challenge/")
    }

    /// http-01 (RFC 8555 §8.3): the key authorization of a pending challenge, before any route or redirect.
    static func answerChallenge(_ exchange: EdgeExchange, _ challenges: HTTP01Challenges) -> Bool {
        let target = exchange.request.target
        guard isACMEChallenge(target), exchange.request.method == "GET" || exchange.request.method == "HEAD" else {
            return false
        }
        let token = target.dropFirst("/.well-known/acme-challenge/".count)
        guard let keyAuthorization = challenges.keyAuthorization(token: token) else { return false }
        if !exchange.requestEnded { exchange.keepAlive = false }
        var response = EdgeResponseHead(status: 200)
        response.add("Content-Type", "application/octet-stream")
        response.add("Cache-Control", "no-store")
        var body = exchange.sink.allocator.buffer(capacity: keyAuthorization.utf8.count)
        body.writeString(keyAuthorization)
        exchange.sink.respond(exchange, response, body: body)
        return true
    }

    /// `308` to the same path and query on the TLS listener (RFC 9110 §15.4.9: the method and body are kept).
    static func redirectToHTTPS(_ exchange: EdgeExchange, port: Int) {
        if !exchange.requestEnded { exchange.keepAlive = false }
        guard let host = exchange.host, !host.isEmpty else {
            problem(exchange, status: 400, code: "missing_host", detail: "a redirect to HTTPS needs the Host header")
            return
        }
        let request = exchange.request
        var target = request.target
        if target.utf8.first != UInt8(ascii: "/") {
            // An absolute-form target: keep its path and query.
            let path = (try? RequestPath(target: target))
            target = (path.map { StaticResponder.encodePath($0.path) } ?? "/") + (path?.query.map { "?" + $0 } ?? "")
        }
        let authority = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        var response = EdgeResponseHead(status: 308)
        response.add("Location", "https://\(authority)\(port == 443 ? "" : ":\(port)")\(target)")
        response.add("Cache-Control", "no-cache")
        exchange.sink.respond(exchange, response, body: nil)
    }

    static func resolve(_ exchange: EdgeExchange) -> Resolution {
        let request = exchange.request
        guard let path = try? RequestPath(target: request.target) else { return .invalidPath }
        if request.target.utf8.first != UInt8(ascii: "/") && exchange.targetAuthority == nil {
            // An absolute-form target whose scheme or authority is not plainly http(s)://host[:port].
            return .invalidPath
        }
        guard let route = exchange.runtime.route(host: exchange.host, path: path.path, method: request.method) else {
            return .noRoute
        }
        if path.hasEncodedSlash {
            // Never meaningful for files; passed on only where a proxy route says its upstream expects it.
            guard case .proxy(let config) = route.action, config.passEncodedSlashes else { return .invalidPath }
        }
        return .route(route, path)
    }

    /// A CORS preflight the route's policy answers at the edge.
    static func isPreflight(_ request: EdgeRequest, _ route: EdgeRuntime.Route) -> Bool {
        route.cors != nil && request.method == "OPTIONS" && request.headers.contains(.origin)
            && request.headers.contains(.accessControlRequestMethod)
    }

    /// Answers a request that the edge itself handles (or starts the proxy for one whose body was read first).
    static func dispatch(_ exchange: EdgeExchange, _ resolved: Resolution) {
        guard !exchange.cancelled else { return }
        let request = exchange.request
        let route: EdgeRuntime.Route
        let path: RequestPath
        switch resolved {
        case .invalidPath:
            if request.target == "*" && request.method == "OPTIONS" {
                var response = EdgeResponseHead(status: 204)
                response.add("Allow", "GET, HEAD, OPTIONS")
                exchange.sink.respond(exchange, response, body: nil)
                return
            }
            problem(exchange, status: 400, code: "invalid_path", detail: "the request target is not an acceptable path")
            return
        case .noRoute:
            if let path = try? RequestPath(target: request.target),
                let allowed = exchange.runtime.allowedMethods(host: exchange.host, path: path.path)
            {
                let allow = allowed.joined(separator: ", ")
                problem(
                    exchange, status: 405, code: "method_not_allowed", detail: "this path answers \(allow)",
                    extra: [("Allow", allow)])
                return
            }
            problem(exchange, status: 404, code: "no_route", detail: "no route matches this request")
            return
        case .rateLimited(let matched, let retryIn):
            var extra = [("Retry-After", String(max(1, RateLimiter.seconds(roundingUp: retryIn))))]
            // CORS fields, so a script of an allowed origin can read the refusal.
            if let cors = matched.cors { extra += cors.responseHeaders(origin: request.headers.first(.origin)) }
            problem(
                exchange, status: 429, code: "rate_limited",
                detail: "too many requests; try again after the number of seconds in Retry-After", extra: extra)
            return
        case .unauthorized(let matched, let refusal):
            var extra: [(String, String)] = []
            if let cors = matched.cors { extra += cors.responseHeaders(origin: request.headers.first(.origin)) }
            unauthorized(exchange, refusal, extra: extra)
            return
        case .route(let matched, let checkedPath):
            route = matched
            path = checkedPath
        }
        var extra: [(String, String)] = []
        if let cors = route.cors {
            let origin = request.headers.first(.origin)
            if let origin, request.method == "OPTIONS",
                let requestedMethod = request.headers.first(.accessControlRequestMethod)
            {
                var response = EdgeResponseHead(status: 204)
                response.add(
                    cors.preflightHeaders(
                        origin: origin,
                        requestMethod: requestedMethod,
                        requestHeaders: request.headers.first(.accessControlRequestHeaders)
                    )
                )
                exchange.sink.respond(exchange, response, body: nil)
                return
            }
            extra = cors.responseHeaders(origin: origin)
        }
        switch route.action {
        case .static(let config):
            StaticResponder.serve(exchange, path: path, config: config, extra: extra)
        case .proxy(let config):
            ProxyExchange.start(exchange, route: route, config: config, path: path)
        }
    }

    /// `401` (RFC 6750 §3: `WWW-Authenticate: Bearer`, with `error="invalid_token"` when a token was sent), or `503`
    /// when the edge has no key to check tokens with. The codes are the board's own, so its web app refreshes an
    /// expired token the same way whichever of the two refused it.
    static func unauthorized(
        _ exchange: EdgeExchange, _ refusal: EdgeAuthenticator.Refusal, extra: [(String, String)]
    ) {
        let invalidToken = ("WWW-Authenticate", "Bearer error=\"invalid_token\"")
        let (status, code, detail, field): (Int, String, String, (String, String)) =
            switch refusal {
            case .missing: (401, "unauthenticated", "sign in first", ("WWW-Authenticate", "Bearer"))
            case .notBearer:
                (
                    401, "unauthenticated", "the Authorization header must be \"Bearer <token>\"",
                    ("WWW-Authenticate", "Bearer error=\"invalid_request\"")
                )
            case .invalid: (401, "unauthenticated", "the access token is not valid", invalidToken)
            case .expired: (401, "token_expired", "the access token has expired; refresh it", invalidToken)
            case .unavailable:
                (
                    503, "auth_unavailable",
                    "the edge cannot check access tokens now (its key is not available); try again shortly",
                    ("Retry-After", "1")
                )
            }
        problem(exchange, status: status, code: code, detail: detail, extra: [field] + extra)
    }

    /// Answers with an RFC 9457 problem document.
    static func problem(
        _ exchange: EdgeExchange, status: Int, code: String, detail: String?, extra: [(String, String)] = []
    ) {
        var problem = ProblemDetails(
            status: status, title: EdgeResponseHead.reasonPhrase(status), code: code, detail: detail)
        problem.extensions.append((name: "request_id", json: JSONText.quoted(exchange.requestID)))
        var response = EdgeResponseHead(status: status)
        response.add("Content-Type", ProblemDetails.contentType)
        response.add("Cache-Control", "no-store")
        response.add(extra)
        var body = exchange.sink.allocator.buffer(capacity: 256)
        body.writeString(problem.json)
        exchange.sink.respond(exchange, response, body: body)
    }
}
