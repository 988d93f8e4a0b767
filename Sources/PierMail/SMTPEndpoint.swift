import Foundation

/// Where and how the board sends mail, from `--smtp-url`: `smtp://host:25` (a local relay, no encryption),
/// `smtp+starttls://user:password@host:587` (STARTTLS, required), `smtps://user:password@host:465` (TLS from the first
/// byte). The user name and password are percent-decoded; the password never appears in `description`.
public struct SMTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Security: String, Sendable {
        /// No encryption: only for a relay on this machine or a trusted network.
        case none
        /// A plain connection upgraded with STARTTLS before anything else is said; a server that does not offer it is
        /// not used.
        case startTLS
        /// TLS from the first byte (port 465).
        case implicitTLS
    }

    public struct Credentials: Sendable, Equatable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public var security: Security
    public var host: String
    public var port: Int
    public var credentials: Credentials?

    public init(security: Security, host: String, port: Int, credentials: Credentials? = nil) {
        self.security = security
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// The URL this endpoint was read from, with the password left out: safe to log.
    public var description: String {
        let scheme: String
        switch security {
        case .none: scheme = "smtp"
        case .startTLS: scheme = "smtp+starttls"
        case .implicitTLS: scheme = "smtps"
        }
        let user = credentials.map {
            ($0.username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? "") + ":***@"
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(user ?? "")\(shownHost):\(port)"
    }

    /// Whether `host` names this machine, the only place a password may be sent without encryption.
    public var isLoopback: Bool {
        let name = host.lowercased()
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }

    /// Reads an `smtp://`, `smtp+starttls://` or `smtps://` URL; the error says what is wrong without repeating the
    /// password.
    public static func parse(_ text: String) throws(SMTPEndpointError) -> SMTPEndpoint {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw SMTPEndpointError(
                "is not a URL; expected smtp://host:25, smtp+starttls://user:password@host:587 or smtps://user:password@host:465"
            )
        }
        let security: Security
        let defaultPort: Int
        switch scheme {
        case "smtp": (security, defaultPort) = (.none, 25)
        case "smtp+starttls": (security, defaultPort) = (.startTLS, 587)
        case "smtps": (security, defaultPort) = (.implicitTLS, 465)
        default:
            throw SMTPEndpointError("has the scheme \"\(scheme)\"; expected smtp, smtp+starttls or smtps")
        }
        var host = components.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw SMTPEndpointError("names no host") }
        let port = components.port ?? defaultPort
        guard (1...65535).contains(port) else { throw SMTPEndpointError("has the port \(port), outside 1-65535") }
        guard components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil
        else { throw SMTPEndpointError("has a path, query or fragment; only user, password, host and port are read") }
        var credentials: Credentials?
        if let user = components.user, !user.isEmpty {
            guard let password = components.password, !password.isEmpty else {
                throw SMTPEndpointError("names the user \"\(user)\" without a password (user:password@host)")
            }
            credentials = Credentials(username: user, password: password)
        } else if components.password != nil {
            throw SMTPEndpointError("has a password without a user name")
        }
        let endpoint = SMTPEndpoint(security: security, host: host, port: port, credentials: credentials)
        if credentials != nil && security == .none && !endpoint.isLoopback {
            throw SMTPEndpointError(
                "would send the password unencrypted to \(host); use smtp+starttls:// (port 587) or smtps:// (port 465)"
            )
        }
        return endpoint
    }
}

/// Why an SMTP URL was refused.
public struct SMTPEndpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    init(_ problem: String) {
        description = "the SMTP URL \(problem)"
    }
}
