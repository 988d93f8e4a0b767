/// `auth:` of a route: the edge checks a bearer token before the request goes anywhere, the way an API gateway's
/// authorizer does, and tells the upstream who the caller is.
public struct AuthConfig: Sendable, Hashable {
    public var paseto: PASETOAuthConfig

    public init(paseto: PASETOAuthConfig) {
        self.paseto = paseto
    }
}

/// `auth: { paseto: … }`: PASETO v4.public tokens (Ed25519), from `Authorization: Bearer …` or a cookie.
///
/// A token passes when its signature verifies with the key and the implicit assertion, its `exp` is in the future
/// and its `nbf` (and `iat`) not beyond `leeway`. Its `sub` goes upstream as `X-Pier-User` and its `role` as
/// `X-Pier-Role`; copies a client sent are never forwarded.
public struct PASETOAuthConfig: Sendable, Hashable {
    public enum KeySource: Sendable, Hashable {
        /// A `k4.public.` PASERK in the configuration.
        case inline(String)
        /// `http(s)` URLs answering the key, tried in order until one does: JSON with `paserk` (and optionally
        /// `implicit_assertion`), as the board's `/api/v1/auth/public-key` does, or the PASERK as plain text.
        /// Fetched at start, every `refresh`, and again (at most every 10 s) when a token does not verify with the
        /// key in hand. Several URLs (one per board instance) keep the key reachable while one instance is down.
        case url([String])
    }

    public var key: KeySource
    /// The implicit assertion tokens are signed with; `nil` takes the key document's (`implicit_assertion`), else
    /// none.
    public var implicitAssertion: String?
    /// The cookie that carries the token when there is no `Authorization` field (`pier_access`); `nil`: only the
    /// field.
    public var cookie: String?
    /// How often a fetched key is fetched again.
    public var refresh: Duration
    /// Clock difference allowed between the token's issuer and the edge, for `nbf` and `iat`.
    public var leeway: Duration

    public init(
        key: KeySource, implicitAssertion: String? = nil, cookie: String? = "pier_access",
        refresh: Duration = .seconds(300), leeway: Duration = .seconds(30)
    ) {
        self.key = key
        self.implicitAssertion = implicitAssertion
        self.cookie = cookie
        self.refresh = refresh
        self.leeway = leeway
    }
}
