import Foundation

/// One entry of a route's `allow_origins`: `*`, an exact origin, or `scheme://*.domain[:port]`.
struct OriginPattern: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case any
        case exact(String)
        /// Matches `scheme://<one or more labels>.domain` followed by `suffix` (empty or `:port`).
        case subdomains(prefix: String, domain: String, suffix: String)
    }

    let kind: Kind

    /// Parses a configured pattern; `nil` when ``problem(with:)`` would report one.
    init?(_ text: String) {
        guard Self.problem(with: text) == nil else { return nil }
        if text == "*" {
            kind = .any
            return
        }
        let lower = text.lowercased()
        guard let schemeEnd = lower.range(of: "://") else { return nil }
        let scheme = lower[..<schemeEnd.upperBound]
        let authority = lower[schemeEnd.upperBound...]
        if authority.hasPrefix("*.") {
            let rest = authority.dropFirst(2)
            let (domain, suffix) = Self.splitPort(rest)
            kind = .subdomains(prefix: String(scheme), domain: "." + domain, suffix: suffix)
        } else {
            kind = .exact(lower)
        }
    }

    /// Describes what is wrong with a configured origin pattern, or returns `nil` when it is valid.
    static func problem(with text: String) -> String? {
        if text == "*" { return nil }
        if text.hasSuffix("/") { return "origin \"\(text)\" must not end with / (an origin is scheme://host[:port])" }
        guard let schemeEnd = text.range(of: "://") else {
            return "origin \"\(text)\" needs a scheme, like https://app.example.com"
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return "origin \"\(text)\" must use http or https" }
        var authority = Substring(text[schemeEnd.upperBound...].lowercased())
        if authority.hasPrefix("*.") { authority = authority.dropFirst(2) }
        let (host, suffix) = splitPort(authority)
        if !suffix.isEmpty, Int(suffix.dropFirst()).map({ (1...65535).contains($0) }) != true {
            return "origin \"\(text)\" has an invalid port"
        }
        guard HostPattern(host) != nil, !host.contains("*") else {
            return "origin \"\(text)\" is not scheme://host[:port] or scheme://*.domain[:port]"
        }
        return nil
    }

    private static func splitPort(_ authority: Substring) -> (host: String, suffix: String) {
        if let colon = authority.lastIndex(of: ":") {
            return (String(authority[..<colon]), String(authority[colon...]))
        }
        return (String(authority), "")
    }

    /// Whether a request's `Origin` (already lowercased) is allowed.
    func matches(_ origin: String) -> Bool {
        switch kind {
        case .any:
            return true
        case .exact(let value):
            return origin == value
        case .subdomains(let prefix, let domain, let suffix):
            guard origin.hasPrefix(prefix), origin.hasSuffix(suffix) else { return false }
            let host = origin.dropFirst(prefix.count).dropLast(suffix.count)
            guard host.count > domain.count, host.hasSuffix(domain) else { return false }
            let label = host.dropLast(domain.count)
            return !label.contains(":") && !label.contains("/") && HostPattern(String(label)) != nil
        }
    }
}
