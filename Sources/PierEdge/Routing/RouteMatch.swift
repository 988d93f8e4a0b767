/// The conditions a request must meet for a route to apply; every given condition must hold.
public struct RouteMatch: Sendable, Hashable {
    /// An exact host (`example.org`) or a subdomain wildcard (`*.example.org`), compared case-insensitively and
    /// without the port.
    public var host: HostPattern?
    /// A path prefix, such as `/api/`; `/` matches everything.
    public var pathPrefix: String
    /// Allowed methods; empty means any.
    public var methods: Set<String>

    public init(host: HostPattern? = nil, pathPrefix: String = "/", methods: Set<String> = []) {
        self.host = host
        self.pathPrefix = pathPrefix
        self.methods = methods
    }

    /// Whether a request with this host (port already removed, lowercased), path and method matches.
    @inlinable
    public func matches(host requestHost: String?, path: String, method: String) -> Bool {
        if let host {
            guard let requestHost, host.matches(requestHost) else { return false }
        }
        guard Self.pathMatches(prefix: pathPrefix, path: path) else { return false }
        return methods.isEmpty || methods.contains(method)
    }

    /// A prefix ending in `/` matches paths under it and the path without the slash (`/docs/` matches `/docs`);
    /// any other prefix matches at a segment boundary (`/api` matches `/api` and `/api/x`, not `/apix`).
    @inlinable
    static func pathMatches(prefix: String, path: String) -> Bool {
        if prefix == "/" { return true }
        if prefix.utf8.last == UInt8(ascii: "/") {
            if path.hasPrefix(prefix) { return true }
            return path.utf8.count == prefix.utf8.count - 1 && prefix.hasPrefix(path)
        }
        guard path.hasPrefix(prefix) else { return false }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }
}

/// A host name pattern: exact, or `*.` followed by a domain to match any subdomain of it (not the domain itself).
public struct HostPattern: Sendable, Hashable, CustomStringConvertible {
    /// The lowercased domain, without `*.` for wildcards.
    public let domain: String
    public let isWildcard: Bool

    /// Parses a pattern; returns `nil` for empty names, ports, or wildcards other than a leading `*.`.
    public init?(_ text: String) {
        let lower = text.lowercased()
        if lower.hasPrefix("*.") {
            let domain = String(lower.dropFirst(2))
            guard Self.isValidName(domain) else { return nil }
            self.domain = domain
            self.isWildcard = true
        } else {
            guard Self.isValidName(lower) else { return nil }
            self.domain = lower
            self.isWildcard = false
        }
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 253
            && name.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            } && !name.hasPrefix(".") && !name.hasSuffix(".") && !name.contains("..")
    }

    /// Whether `host` (lowercased, no port) matches.
    @inlinable
    public func matches(_ host: String) -> Bool {
        guard isWildcard else { return host == domain }
        return host.utf8.count > domain.utf8.count + 1 && host.hasSuffix(domain)
            && host.utf8.dropLast(domain.utf8.count).last == UInt8(ascii: ".")
    }

    public var description: String { isWildcard ? "*.\(domain)" : domain }
}
