/// A request as the edge's pipeline sees it, whichever protocol carried it: an HTTP/1.x head as parsed, or an
/// HTTP/2 header block converted to the same field representation, so routing, CORS, static answers and the proxy
/// read one kind of request.
struct EdgeRequest: Sendable {
    var method: String
    /// The request target as received (HTTP/2: `:path`).
    var target: String
    var version: EdgeHTTPVersion
    var headers: HTTPHeaderFields
    /// How the body is delimited: none, a declared length, or by the protocol (chunked in HTTP/1.1, the end of the
    /// stream in HTTP/2).
    var framing: BodyFraming
    /// Whether the client would keep the connection for another request (always for HTTP/2).
    var keepAlive: Bool
    /// HTTP/2's `:authority`, which stands for `Host`.
    var authority: String?

    init(
        method: String, target: String, version: EdgeHTTPVersion, headers: HTTPHeaderFields, framing: BodyFraming,
        keepAlive: Bool, authority: String? = nil
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.authority = authority
    }

    init(_ head: HTTP1RequestHead) {
        self.init(
            method: head.method, target: head.target, version: .http1(minor: head.minorVersion),
            headers: head.headers, framing: head.framing, keepAlive: head.keepAlive)
    }

    /// Whether a body follows the head.
    var hasBody: Bool { framing != .none }

    /// `Expect: 100-continue` on a request with a body.
    var expectsContinue: Bool {
        hasBody && headers.first(.expect).map { HTTPToken.equalsIgnoringCase($0, "100-continue") } == true
    }

    /// The HTTP/1 minor version, or 1 for HTTP/2 (which has HTTP/1.1's semantics).
    var minorVersion: Int {
        if case .http1(let minor) = version { return minor }
        return 1
    }
}
