import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import PierBoardStore
import PierCore
import PierTokens

extension BoardAPI {
    func addAuthRoutes(_ router: Router<BoardContext>) {
        let auth = router.group(RouterPath("\(Self.prefix)/auth"))
        auth.post("login") { request, context in try await self.login(request, context) }
        auth.post("refresh") { request, context in try await self.refresh(request, context) }
        auth.post("logout") { request, context in try await self.logout(request, context) }
        auth.get("public-key") { _, _ in
            Response.json(
                // Everything a PASETO library needs besides the token: the key, the version and purpose, and the
                // implicit assertion the tokens are signed with (tokens carry no footer).
                StringsOut(members: [
                    "paserk": PASERK.encode(self.tokens.publicKey),
                    "version": "v4",
                    "purpose": "public",
                    "implicit_assertion": String(decoding: AccessTokenIssuer.implicitAssertion, as: UTF8.self),
                    "footer": "",
                ]),
                headers: [.cacheControl: "public, max-age=300"])
        }
    }

    /// `POST /auth/login`: bcrypt off the event loop, the same cost for unknown emails, throttled per account and
    /// per client address.
    func login(_ request: Request, _ context: BoardContext) async throws -> Response {
        let input = try await JSONInput.read(request, allowed: ["email", "password"])
        let email = try input.string("email", maxLength: AccountRules.maxEmailLength).trimmingCharacters(
            in: .whitespaces)
        let password = try input.string("password", maxLength: 1024, allowEmpty: true)
        try Self.refuseOverlongPassword(password, field: "password")
        // Login CSRF: a browser always sends Origin on a cross-site POST.
        try checkOrigin(request, context, required: false)
        let account = email.lowercased()
        let address = clientAddress(request, context)
        // Counted as a failure before bcrypt runs, so parallel guesses cannot all slip past the check.
        if let wait = throttle.begin(account: account, address: address) {
            Self.signIns.throttled.increment()
            throw Self.throttled(wait)
        }
        let user = try await repository.user(email: email)
        var verified = false
        if let user {
            verified = try await passwords.verify(password, hash: user.passwordHash)
        } else {
            try await passwords.verifyNothing(password)
        }
        // A disabled account answers like a wrong password: otherwise the answer would confirm a guessed password.
        guard let user, verified, !user.disabled else {
            logger.info("sign-in failed", metadata: ["pier.client": "\(address)"])
            Self.signIns.failed.increment()
            throw APIProblem(.unauthorized, code: "invalid_credentials", detail: "the email or password is wrong")
        }
        throttle.recordSuccess(account: account, address: address)
        Self.signIns.ok.increment()
        if passwords.needsRehash(user.passwordHash) {
            let rehashed = try await passwords.hash(password)
            _ = try await repository.replacePasswordHash(id: user.id, from: user.passwordHash, to: rehashed)
        }
        let refreshToken = RefreshTokens.generate()
        try await repository.createSession(
            userID: user.id, tokenHash: RefreshTokens.hash(refreshToken),
            expiresAt: clock() + settings.refreshLifetime * 1000)
        return try tokenResponse(user: user, refreshToken: refreshToken)
    }

    /// `pier.board.signins` by outcome.
    static let signIns = (
        ok: Counter(label: PierMetric.signIns.name, dimensions: [("outcome", "ok")]),
        failed: Counter(label: PierMetric.signIns.name, dimensions: [("outcome", "failed")]),
        throttled: Counter(label: PierMetric.signIns.name, dimensions: [("outcome", "throttled")])
    )

    /// bcrypt reads only the first 72 bytes, so a longer password would be accepted when its start matches; no
    /// account can have one (creation refuses them), so it is refused before any account is looked at.
    static func refuseOverlongPassword(_ password: String, field: String) throws {
        guard password.utf8.count <= AccountRules.maxPasswordBytes else {
            throw APIProblem.invalidField(field, "at most \(AccountRules.maxPasswordBytes) bytes (UTF-8)")
        }
    }

    static func throttled(_ wait: Double) -> APIProblem {
        let seconds = max(1, Int(wait.rounded(.up)))
        return APIProblem(
            .tooManyRequests, code: "too_many_attempts",
            detail: "too many failed sign-ins; try again in \(seconds) seconds",
            extensions: [("retry_after", String(seconds))], headers: [.retryAfter: String(seconds)])
    }

    /// The refresh token from the body, or else from the cookie (which then needs an Origin check).
    func presentedRefreshToken(_ request: Request, _ context: BoardContext) async throws -> String? {
        let input = try await JSONInput.read(request, allowed: ["refresh_token"], optionalBody: true)
        if let token = try input.optionalString("refresh_token", maxLength: 512) { return token }
        guard let cookie = request.cookies[Self.refreshCookie]?.value, !cookie.isEmpty else { return nil }
        try checkOrigin(request, context)
        return cookie
    }

    /// `POST /auth/refresh`: rotates the refresh token; a reused one revokes its whole family.
    func refresh(_ request: Request, _ context: BoardContext) async throws -> Response {
        guard let presented = try await presentedRefreshToken(request, context) else {
            throw APIProblem.unauthenticated("no refresh token was presented")
        }
        let successor = RefreshTokens.generate()
        let rotation = try await repository.rotateSession(
            presentedHash: RefreshTokens.hash(presented), newHash: RefreshTokens.hash(successor),
            expiresAt: clock() + settings.refreshLifetime * 1000)
        switch rotation {
        case .rotated(let user):
            return try tokenResponse(user: user, refreshToken: successor)
        case .reused:
            logger.warning(
                "a used refresh token was presented again; its session was revoked",
                metadata: ["pier.client": "\(clientAddress(request, context))"])
            throw APIProblem(
                .unauthorized, code: "refresh_token_reused",
                detail: "this refresh token was already used; the session has been ended, sign in again",
                headers: Self.clearedCookies)
        case .invalid:
            throw APIProblem(
                .unauthorized, code: "invalid_refresh_token",
                detail: "the refresh token is unknown, expired or revoked; sign in again", headers: Self.clearedCookies)
        }
    }

    /// `POST /auth/logout`: ends the session of the presented refresh token and clears the cookies.
    func logout(_ request: Request, _ context: BoardContext) async throws -> Response {
        if let presented = try await presentedRefreshToken(request, context) {
            try await repository.endSession(tokenHash: RefreshTokens.hash(presented))
        }
        return Response.noContent(headers: Self.clearedCookies)
    }
}
