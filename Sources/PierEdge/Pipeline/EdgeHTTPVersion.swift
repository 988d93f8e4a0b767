/// The protocol an exchange arrived on.
public enum EdgeHTTPVersion: Sendable, Hashable {
    /// HTTP/1.x with this minor version (0 or 1; higher minors are read as 1, RFC 9112 §2.3).
    case http1(minor: Int)
    case http2

    /// As the access log writes it: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`.
    public var logName: StaticString {
        switch self {
        case .http1(let minor): minor == 0 ? "HTTP/1.0" : "HTTP/1.1"
        case .http2: "HTTP/2.0"
        }
    }
}
