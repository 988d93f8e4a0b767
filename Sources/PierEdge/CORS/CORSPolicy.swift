import Foundation

/// A route's CORS rules, compiled from its ``CORSConfig``; decides which CORS headers a response carries.
///
/// A disallowed origin gets no `Access-Control-*` header at all; responses on a CORS route always carry
/// `Vary: Origin` so that shared caches keep per-origin answers apart.
public struct CORSPolicy: Sendable {
    let patterns: [OriginPattern]
    let allowsAnyOrigin: Bool
    let allowCredentials: Bool
    let allowMethods: Set<String>
    let allowAnyMethod: Bool
    let allowMethodsValue: String
    let allowHeaders: Set<String>
    let allowAnyHeader: Bool
    let exposeHeadersValue: String?
    let maxAge: Int?

    public init(_ config: CORSConfig) {
        patterns = config.allowOrigins.compactMap(OriginPattern.init)
        allowsAnyOrigin = config.allowOrigins.contains("*")
        allowCredentials = config.allowCredentials
        allowMethods = Set(config.allowMethods.map { $0.uppercased() })
        allowAnyMethod = allowMethods.contains("*")
        allowMethodsValue = config.allowMethods.joined(separator: ", ")
        allowHeaders = Set(config.allowHeaders.map { $0.lowercased() })
        allowAnyHeader = allowHeaders.contains("*")
        exposeHeadersValue = config.exposeHeaders.isEmpty ? nil : config.exposeHeaders.joined(separator: ", ")
        maxAge = config.maxAge
    }

    /// Whether this origin may read responses.
    public func allows(origin: String) -> Bool {
        let lower = origin.lowercased()
        return patterns.contains { $0.matches(lower) }
    }

    /// Headers for an actual (non-preflight) response to a request with this `Origin`.
    public func responseHeaders(origin: String?) -> [(String, String)] {
        var headers: [(String, String)] = []
        guard let origin, allows(origin: origin) else {
            headers.append(("Vary", "Origin"))
            return headers
        }
        if allowsAnyOrigin && !allowCredentials {
            headers.append(("Access-Control-Allow-Origin", "*"))
        } else {
            headers.append(("Access-Control-Allow-Origin", origin))
            headers.append(("Vary", "Origin"))
        }
        if allowCredentials { headers.append(("Access-Control-Allow-Credentials", "true")) }
        if let exposeHeadersValue { headers.append(("Access-Control-Expose-Headers", exposeHeadersValue)) }
        return headers
    }

    /// Headers for a preflight (`OPTIONS` with `Access-Control-Request-Method`); only `Vary` when refused.
    public func preflightHeaders(origin: String, requestMethod: String, requestHeaders: String?) -> [(String, String)] {
        let vary = ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        guard allows(origin: origin) else { return [vary] }
        let method = requestMethod.trimmingCharacters(in: .whitespaces)
        guard
            allowAnyMethod || allowMethods.contains(method)
                || ["GET", "HEAD", "POST"].contains(method) && allowMethods.isEmpty
        else { return [vary] }
        let requested = requestHeaders.map(HTTPToken.list) ?? []
        if !allowAnyHeader {
            for header in requested where !allowHeaders.contains(header.lowercased()) {
                return [vary]
            }
        }
        var headers: [(String, String)] = [vary]
        if allowsAnyOrigin && !allowCredentials {
            headers.append(("Access-Control-Allow-Origin", "*"))
        } else {
            headers.append(("Access-Control-Allow-Origin", origin))
        }
        if allowCredentials { headers.append(("Access-Control-Allow-Credentials", "true")) }
        headers.append(("Access-Control-Allow-Methods", allowAnyMethod ? method : allowMethodsValue))
        if !requested.isEmpty {
            headers.append(("Access-Control-Allow-Headers", requested.joined(separator: ", ")))
        }
        if let maxAge { headers.append(("Access-Control-Max-Age", String(maxAge))) }
        return headers
    }
}
