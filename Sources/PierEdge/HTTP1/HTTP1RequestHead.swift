import NIOCore

/// A parsed HTTP/1.x request head. Header fields stay as byte ranges in the received bytes, so parsing allocates
/// little and a proxy can forward them without re-encoding.
public struct HTTP1RequestHead: Sendable {
    /// The request method, such as `GET`.
    public var method: String
    /// The request target exactly as received.
    public var target: String
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The header fields.
    public var headers: HTTPHeaderFields
    /// The body's framing.
    public var framing: BodyFraming

    /// Whether the client asked to keep the connection open after this exchange.
    public var keepAlive: Bool {
        ConnectionOptions(headers).keepsAlive(minorVersion: minorVersion)
    }
}

/// How a request body is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Hashable {
    case none
    case contentLength(Int)
    case chunked
}
