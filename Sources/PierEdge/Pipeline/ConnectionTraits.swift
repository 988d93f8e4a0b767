/// What an exchange knows of the connection it arrived on.
struct ConnectionTraits: Sendable {
    /// `https` on TLS listeners.
    var scheme: StaticString = "http"
    /// The negotiated TLS version (`TLSv1.3`), on TLS listeners.
    var tlsVersion: StaticString?
    /// The protocol ALPN chose (`h2`, `http/1.1`), when the client offered one.
    var alpn: String?
    /// On a `redirect_https` listener: the port of the TLS listener clients are sent to.
    var redirectHTTPSPort: Int?
    /// The connection's event loop as an index of ``RequestDurationRegistry``'s loops (-1: not counted).
    var loopIndex = -1

    init(
        scheme: StaticString = "http", tlsVersion: StaticString? = nil, alpn: String? = nil,
        redirectHTTPSPort: Int? = nil
    ) {
        self.scheme = scheme
        self.tlsVersion = tlsVersion
        self.alpn = alpn
        self.redirectHTTPSPort = redirectHTTPSPort
    }

    static let plain = ConnectionTraits()
}
