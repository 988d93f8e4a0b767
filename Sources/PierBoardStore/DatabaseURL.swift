import Foundation

/// Where the board keeps its data: an embedded SQLite file or a PostgreSQL server.
///
/// Accepted forms: `sqlite:///absolute/path.sqlite`, `sqlite://./relative.sqlite` (relative to the working
/// directory), and `postgres://user:password@host:port/database` (also `postgresql://`).
public enum DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// The default: a SQLite file under `./pier-data/`.
    public static let `default` = DatabaseURL.sqlite(path: "./pier-data/pier.sqlite")

    /// The connection details of a PostgreSQL database.
    public struct PostgresLocation: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// `require` when `sslmode=require` (or `verify-full`) was given; otherwise plain TCP.
        public var requireTLS: Bool
        /// `sslmode=prefer`: TLS when the server offers it.
        public var preferTLS: Bool
        /// `sslrootcert=/path/ca.crt`: the server's certificate is checked against the CA certificates in this PEM
        /// file instead of the system's trust store (CloudNativePG and other private CAs).
        public var rootCertificatePath: String?

        public init(
            host: String, port: Int, username: String, password: String?, database: String, requireTLS: Bool,
            preferTLS: Bool = false, rootCertificatePath: String? = nil
        ) {
            self.rootCertificatePath = rootCertificatePath
            self.preferTLS = preferTLS
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.requireTLS = requireTLS
        }
    }

    /// Why a database URL was rejected.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a database URL.
    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard !path.isEmpty, path != "/" else {
                throw ParseError(
                    description: "\(text): a sqlite URL needs a file path, like sqlite://./pier-data/pier.sqlite")
            }
            guard !path.contains("\0") else { throw ParseError(description: "the sqlite path contains a NUL byte") }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            let components = URLComponents(string: text)
        else {
            throw ParseError(
                description:
                    "unsupported database URL (use sqlite:///abs/path.sqlite, sqlite://./relative.sqlite or postgres://user:pass@host:port/db)"
            )
        }
        guard let host = components.host, !host.isEmpty else {
            throw ParseError(description: "the postgres URL has no host")
        }
        guard let username = components.user, !username.isEmpty else {
            throw ParseError(description: "the postgres URL has no user name")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw ParseError(description: "the postgres URL has no database name (postgres://user@host:5432/pier)")
        }
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "prefer", "require", "verify-full"].contains(sslMode) else {
            throw ParseError(description: "sslmode must be disable, prefer, require or verify-full")
        }
        if let unknown = components.queryItems?.first(where: { !["sslmode", "sslrootcert"].contains($0.name) }) {
            throw ParseError(
                description: "unknown database URL parameter \"\(unknown.name)\" (known: sslmode, sslrootcert)")
        }
        let rootCertificate = components.queryItems?.first { $0.name == "sslrootcert" }?.value
        if let rootCertificate {
            guard sslMode == "require" || sslMode == "verify-full" else {
                throw ParseError(description: "sslrootcert needs sslmode=verify-full (or require)")
            }
            guard FileManager.default.isReadableFile(atPath: rootCertificate) else {
                throw ParseError(description: "sslrootcert: cannot read \(rootCertificate)")
            }
        }
        self = .postgres(
            PostgresLocation(
                host: host,
                port: components.port ?? 5432,
                // URLComponents has already percent-decoded these.
                username: username,
                password: components.password,
                database: database,
                requireTLS: sslMode == "require" || sslMode == "verify-full",
                preferTLS: sslMode == "prefer",
                rootCertificatePath: rootCertificate
            )
        )
    }

    /// The URL with any password masked, safe to log and print.
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite://\(path)"
        case .postgres(let location):
            let credentials = location.username + (location.password == nil ? "" : ":***")
            return "postgres://\(credentials)@\(location.host):\(location.port)/\(location.database)"
        }
    }
}
