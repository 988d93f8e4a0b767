import Foundation
import PierCore
import PierTokens

extension EdgeConfig {
    /// Reads and validates a configuration file; throws every problem found, each with file, line and field.
    public static func load(path: String) throws(ConfigError) -> EdgeConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(
                    file: path, line: nil, field: "", message: "cannot read the file: \(error.localizedDescription)")
            ])
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(text, file: path, baseDirectory: directory)
    }

    /// Parses configuration text; relative paths are resolved against `baseDirectory`.
    public static func parse(_ text: String, file: String, baseDirectory: String) throws(ConfigError) -> EdgeConfig {
        let reader = ConfigReader(file: file)
        let config = reader.parse(text).flatMap { EdgeConfigParser(baseDirectory: baseDirectory).parse($0) }
        try reader.throwIfNeeded()
        guard let config else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(file: file, line: nil, field: "", message: "invalid configuration")
            ])
        }
        return config
    }
}

/// Turns a YAML tree into an ``EdgeConfig``, reporting every problem through the tree's reader.
struct EdgeConfigParser {
    let baseDirectory: String

    func parse(_ root: ConfigValue) -> EdgeConfig? {
        guard
            let document = root.mapping(allowedKeys: [
                "listen", "access_log", "limits", "shutdown_timeout", "workers", "routes", "upstreams", "admin", "hsts",
                "acme",
            ])
        else { return nil }
        var config = EdgeConfig(routes: [])
        var valid = true

        if let listen = document["listen"]?.list() {
            let parsed = listen.map(parseListen)
            if parsed.contains(where: { $0 == nil }) { valid = false }
            config.listen = parsed.compactMap { $0 }
            if listen.isEmpty {
                document["listen"]?.report("needs at least one address")
                valid = false
            }
        } else if document.has("listen") {
            valid = false
        }
        if let value = document["hsts"] {
            if let hsts = parseHSTS(value) { config.hsts = hsts } else { valid = false }
        }
        if let value = document["access_log"] {
            if let accessLog = parseAccessLog(value) { config.accessLog = accessLog } else { valid = false }
        }
        if let value = document["limits"] {
            if let limits = parseLimits(value) { config.limits = limits } else { valid = false }
        }
        if let value = document["workers"] {
            if value.scalarText == "auto" {
                config.workers = nil
            } else if let count = value.int(in: 1...256) {
                config.workers = count
            } else {
                valid = false
            }
        }
        if let value = document["shutdown_timeout"] {
            if let timeout = value.duration() { config.shutdownTimeout = timeout } else { valid = false }
        }
        var upstreamsParsed = true
        if let value = document["upstreams"] {
            if let upstreams = parseUpstreams(value) {
                config.upstreams = upstreams
            } else {
                upstreamsParsed = false
                valid = false
            }
        }
        if let value = document["admin"] {
            if let admin = parseAdmin(value) { config.admin = admin } else { valid = false }
        }
        if let value = document["acme"] {
            if let acme = parseACME(value) { config.acme = acme } else { valid = false }
        }
        if valid && !checkACME(config, document: document) { valid = false }
        if let routes = document.required("routes")?.list() {
            if routes.isEmpty {
                document["routes"]?.report("needs at least one route")
                valid = false
            }
            // Pool names are checked only when the pools themselves parsed, so one mistake is reported once.
            let parsed = routes.map { parseRoute($0, upstreams: upstreamsParsed ? config.upstreams : nil) }
            if parsed.contains(where: { $0 == nil }) { valid = false }
            config.routes = parsed.compactMap { $0 }
        } else {
            valid = false
        }
        return valid ? config : nil
    }

    static let routeKeys = [
        "name", "match", "static", "cors", "upstream", "timeouts", "retries", "strip_prefix", "add_prefix",
        "host_header",
        "encoded_slashes", "upgrades", "underscore_headers", "headers", "set_request_headers", "rate_limit",
        "compress", "auth",
    ]

    func parseListen(_ value: ConfigValue) -> ListenConfig? {
        guard let mapping = value.mapping(allowedKeys: ["address", "tls", "http2", "redirect_https"]),
            let address = mapping.required("address")
        else {
            return nil
        }
        guard let text = address.string() else { return nil }
        guard let spec = SocketAddressSpec(parsing: text) else {
            address.report("\"\(text)\" is not host:port (for example 127.0.0.1:8080 or [::1]:8443)")
            return nil
        }
        var valid = true
        var tls: TLSListenerConfig?
        if let tlsValue = mapping["tls"] {
            tls = parseTLS(tlsValue)
            if tls == nil { valid = false }
        }
        var http2: Bool?
        if let field = mapping["http2"] {
            http2 = field.bool()
            if http2 == nil { valid = false }
        }
        var redirect = false
        if let field = mapping["redirect_https"] {
            if let flag = field.bool() { redirect = flag } else { valid = false }
            if redirect && mapping.has("tls") {
                field.report("applies to plain listeners only: this one already speaks TLS")
                valid = false
            }
        }
        guard valid else { return nil }
        return ListenConfig(address: spec, tls: tls, http2: http2, redirectHTTPS: redirect)
    }

    /// `tls: { certificates: [{cert, key}, …], min_version: "1.2", acme: false }`.
    func parseTLS(_ value: ConfigValue) -> TLSListenerConfig? {
        guard let mapping = value.mapping(allowedKeys: ["certificates", "min_version", "acme"]) else { return nil }
        var acme = false
        if let field = mapping["acme"] {
            guard let flag = field.bool() else { return nil }
            acme = flag
        }
        // With ACME the certificates come from the CA; files may still be listed beside them.
        guard let list = acme && !mapping.has("certificates") ? nil : mapping.required("certificates") else {
            return acme ? TLSListenerConfig(certificates: [], acme: true) : nil
        }
        guard let items = list.list() else { return nil }
        var valid = true
        var certificates: [CertificateFiles] = []
        for item in items {
            guard let pair = item.mapping(allowedKeys: ["cert", "key"]), let cert = pair.required("cert"),
                let key = pair.required("key"), let certPath = cert.nonEmptyString(), let keyPath = key.nonEmptyString()
            else {
                valid = false
                continue
            }
            let files = CertificateFiles(
                certificate: resolve(certPath), key: resolve(keyPath))
            for (field, path) in [(cert, files.certificate), (key, files.key)]
            where !FileManager.default.isReadableFile(atPath: path) {
                field.report("cannot read \(path)")
                valid = false
            }
            certificates.append(files)
        }
        if items.isEmpty && !acme {
            list.report("needs at least one certificate (or acme: true)")
            valid = false
        }
        var config = TLSListenerConfig(certificates: certificates, acme: acme)
        if let field = mapping["min_version"] {
            if let text = field.oneOf(TLSListenerConfig.MinimumVersion.allCases.map(\.rawValue)) {
                config.minimumVersion = TLSListenerConfig.MinimumVersion(rawValue: text)!
            } else {
                valid = false
            }
        }
        return valid ? config : nil
    }

    /// `hsts: { max_age: 31536000, include_subdomains: false, preload: false }`.
    func parseHSTS(_ value: ConfigValue) -> HSTSConfig? {
        guard let mapping = value.mapping(allowedKeys: ["max_age", "include_subdomains", "preload"]) else {
            return nil
        }
        var hsts = HSTSConfig()
        var valid = true
        if let field = mapping["max_age"] {
            if let seconds = field.int(in: 0...63_072_000) { hsts.maxAge = seconds } else { valid = false }
        }
        if let field = mapping["include_subdomains"] {
            if let flag = field.bool() { hsts.includeSubdomains = flag } else { valid = false }
        }
        if let field = mapping["preload"] {
            if let flag = field.bool() { hsts.preload = flag } else { valid = false }
        }
        if valid, hsts.preload && (!hsts.includeSubdomains || hsts.maxAge < 31_536_000) {
            mapping["preload"]?.report(
                "the preload list requires include_subdomains: true and a max_age of at least 31536000")
            valid = false
        }
        return valid ? hsts : nil
    }

    func parseAccessLog(_ value: ConfigValue) -> AccessLogConfig? {
        if let text = value.scalarText, text == "off" || text == "false" {
            return AccessLogConfig(destination: .off)
        }
        guard let mapping = value.mapping(allowedKeys: ["format", "path"]) else { return nil }
        var config = AccessLogConfig()
        var valid = true
        if let format = mapping["format"] {
            if let text = format.oneOf(AccessLogConfig.Format.allCases.map(\.rawValue)) {
                config.format = AccessLogConfig.Format(rawValue: text)!
            } else {
                valid = false
            }
        }
        if let path = mapping["path"] {
            switch path.scalarText {
            case "stdout": config.destination = .standardOutput
            case "stderr": config.destination = .standardError
            case "off", "false": config.destination = .off
            default:
                if let text = path.nonEmptyString() {
                    config.destination = .file(resolve(text))
                } else {
                    valid = false
                }
            }
        }
        return valid ? config : nil
    }

    func parseLimits(_ value: ConfigValue) -> LimitsConfig? {
        guard
            let mapping = value.mapping(allowedKeys: [
                "max_header_bytes", "max_uri_bytes", "max_body_bytes", "header_timeout", "idle_timeout",
                "max_connections", "http2",
            ])
        else { return nil }
        var limits = LimitsConfig()
        var valid = true
        func int(_ key: String, _ range: ClosedRange<Int>, _ assign: (Int) -> Void) {
            guard let field = mapping[key] else { return }
            if let number = field.int(in: range) { assign(number) } else { valid = false }
        }
        func duration(_ key: String, _ assign: (Duration) -> Void) {
            guard let field = mapping[key] else { return }
            if let time = field.duration(minimum: .milliseconds(1)) { assign(time) } else { valid = false }
        }
        int("max_header_bytes", 1024...1_048_576) { limits.maxHeaderBytes = $0 }
        int("max_uri_bytes", 256...1_048_576) { limits.maxURIBytes = $0 }
        int("max_body_bytes", 0...Int(Int64.max)) { limits.maxBodyBytes = $0 }
        int("max_connections", 1...10_000_000) { limits.maxConnections = $0 }
        duration("header_timeout") { limits.headerTimeout = $0 }
        duration("idle_timeout") { limits.idleTimeout = $0 }
        if let field = mapping["http2"] {
            if let http2 = parseHTTP2Limits(field) { limits.http2 = http2 } else { valid = false }
        }
        if valid, limits.maxURIBytes > limits.maxHeaderBytes {
            mapping["max_uri_bytes"]?.report("cannot exceed max_header_bytes (\(limits.maxHeaderBytes))")
            valid = false
        }
        return valid ? limits : nil
    }

    /// `limits.http2: { max_concurrent_streams, max_header_list_bytes, initial_window_bytes, max_frame_bytes }`.
    func parseHTTP2Limits(_ value: ConfigValue) -> HTTP2LimitsConfig? {
        guard
            let mapping = value.mapping(allowedKeys: [
                "max_concurrent_streams", "max_header_list_bytes", "initial_window_bytes", "max_frame_bytes",
            ])
        else { return nil }
        var limits = HTTP2LimitsConfig()
        var valid = true
        func int(_ key: String, _ range: ClosedRange<Int>, _ assign: (Int) -> Void) {
            guard let field = mapping[key] else { return }
            if let number = field.int(in: range) { assign(number) } else { valid = false }
        }
        int("max_concurrent_streams", 1...10_000) { limits.maxConcurrentStreams = $0 }
        int("max_header_list_bytes", 1024...1_048_576) { limits.maxHeaderListBytes = $0 }
        // RFC 9113 §6.5.2: windows up to 2^31-1, frames between 2^14 and 2^24-1.
        int("initial_window_bytes", 1...2_147_483_647) { limits.initialWindowBytes = $0 }
        int("max_frame_bytes", 16384...16_777_215) { limits.maxFrameBytes = $0 }
        return valid ? limits : nil
    }

    func parseRoute(_ value: ConfigValue, upstreams: [String: UpstreamConfig]?) -> RouteConfig? {
        guard let mapping = value.mapping(allowedKeys: Self.routeKeys) else { return nil }
        var valid = true
        var match = RouteMatch()
        if let matchValue = mapping["match"] {
            if let parsed = parseMatch(matchValue) { match = parsed } else { valid = false }
        }
        var action: RouteAction?
        let proxyKeys = [
            "timeouts", "retries", "strip_prefix", "add_prefix", "host_header", "encoded_slashes", "upgrades",
            "underscore_headers",
        ]
        if mapping.has("static") && mapping.has("upstream") {
            mapping.owner.report("has two actions: use either static or upstream")
            _ = mapping["static"].flatMap(parseStatic)
            valid = false
        } else if let staticValue = mapping["static"] {
            if let config = parseStatic(staticValue) { action = .static(config) } else { valid = false }
            for key in proxyKeys where mapping.has(key) {
                mapping[key]?.report("applies only to routes with an upstream")
                valid = false
            }
        } else if mapping.has("upstream") {
            if let config = parseProxyRoute(mapping, upstreams: upstreams) {
                action = .proxy(config)
            } else {
                valid = false
            }
        } else {
            mapping.owner.report("needs an action: static or upstream")
            valid = false
        }
        var cors: CORSConfig?
        if let corsValue = mapping["cors"] {
            cors = parseCORS(corsValue)
            if cors == nil { valid = false }
        }
        var responseHeaders: [HeaderField] = []
        if let headersValue = mapping["headers"] {
            if let parsed = parseResponseHeaders(headersValue) { responseHeaders = parsed } else { valid = false }
        }
        var name: String?
        if let nameValue = mapping["name"] {
            if let text = nameValue.nonEmptyString(),
                text.utf8.count <= 64,
                text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0 != "\"" && $0 != "\\" })
            {
                name = text
            } else {
                nameValue.report(
                    "must be 1 to 64 visible ASCII characters without quotes or backslashes (it labels metrics)")
                valid = false
            }
        }
        var rateLimit: RateLimitConfig?
        if let limitValue = mapping["rate_limit"] {
            rateLimit = parseRateLimit(limitValue)
            if rateLimit == nil { valid = false }
        }
        if valid, rateLimit != nil,
            responseHeaders.contains(where: { ["ratelimit", "ratelimit-policy"].contains($0.name.lowercased()) })
        {
            mapping["headers"]?.report("RateLimit and RateLimit-Policy are set by the edge on routes with rate_limit")
            valid = false
        }
        var compress = true
        if let field = mapping["compress"] {
            if let flag = field.bool() { compress = flag } else { valid = false }
        }
        var auth: AuthConfig?
        if let authValue = mapping["auth"] {
            auth = parseAuth(authValue)
            if auth == nil { valid = false }
        }
        guard valid, let action else { return nil }
        return RouteConfig(
            match: match, action: action, cors: cors, responseHeaders: responseHeaders, name: name,
            rateLimit: rateLimit, compress: compress, auth: auth, line: value.line)
    }

    /// `auth: { paseto: { public_key_url: …, implicit_assertion: …, cookie: pier_access, refresh: 5m, leeway: 30s } }`
    /// (or `public_key: k4.public.…` instead of the URL).
    func parseAuth(_ value: ConfigValue) -> AuthConfig? {
        guard let mapping = value.mapping(allowedKeys: ["paseto"]), let pasetoValue = mapping.required("paseto"),
            let paseto = pasetoValue.mapping(allowedKeys: [
                "public_key_url", "public_key", "implicit_assertion", "cookie", "refresh", "leeway",
            ])
        else { return nil }
        var valid = true
        var key: PASETOAuthConfig.KeySource?
        switch (paseto["public_key_url"], paseto["public_key"]) {
        case (.some(let field), nil):
            // One URL, or a list tried in order.
            let urls = field.isList ? field.stringList() : field.nonEmptyString().map { [$0] }
            if let urls, !urls.isEmpty {
                let bad = urls.filter { url in
                    guard let parsed = URL(string: url), parsed.host?.isEmpty == false else { return true }
                    return !["http", "https"].contains(parsed.scheme?.lowercased() ?? "")
                }
                if bad.isEmpty {
                    key = .url(urls)
                } else {
                    field.report("must be the http:// or https:// URL (or a list of them) that answers the token key")
                    valid = false
                }
            } else {
                if urls?.isEmpty == true { field.report("must name at least one URL") }
                valid = false
            }
        case (nil, .some(let field)):
            if let text = field.nonEmptyString() {
                if (try? PASERK.publicKey(text)) != nil {
                    key = .inline(text)
                } else {
                    field.report("must be a k4.public. PASERK (an Ed25519 public key)")
                    valid = false
                }
            } else {
                valid = false
            }
        case (.some, .some):
            paseto.owner.report("has both public_key_url and public_key: give one")
            valid = false
        case (nil, nil):
            paseto.owner.report("needs public_key_url (where the key is published) or public_key (a k4.public. PASERK)")
            valid = false
        }
        var config = PASETOAuthConfig(key: key ?? .inline(""))
        if let field = paseto["implicit_assertion"] {
            if let text = field.string() { config.implicitAssertion = text } else { valid = false }
        }
        if let field = paseto["cookie"] {
            if let text = field.nonEmptyString(), HTTPToken.isToken(text) {
                config.cookie = text
            } else {
                field.report("must be a cookie name")
                valid = false
            }
        }
        if let field = paseto["refresh"] {
            if let refresh = field.duration(minimum: .seconds(10)) { config.refresh = refresh } else { valid = false }
        }
        if let field = paseto["leeway"] {
            if let leeway = field.duration() {
                if leeway <= .seconds(300) {
                    config.leeway = leeway
                } else {
                    field.report("must be at most 5m")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        return valid && key != nil ? AuthConfig(paseto: config) : nil
    }

    /// `rate_limit: { requests: 20, per: 1s, burst: 40, key: client_ip, max_keys: 100000 }`.
    func parseRateLimit(_ value: ConfigValue) -> RateLimitConfig? {
        guard let mapping = value.mapping(allowedKeys: ["requests", "per", "burst", "key", "max_keys"]),
            let requestsValue = mapping.required("requests"), let requests = requestsValue.int(in: 1...1_000_000)
        else { return nil }
        var config = RateLimitConfig(requests: requests)
        var valid = true
        if let field = mapping["per"] {
            if let per = field.duration(minimum: .seconds(1)) {
                if per.components.attoseconds != 0 || per > .seconds(86400) {
                    field.report("must be a whole number of seconds up to 1 day (for example 1s, 1m, 1h)")
                    valid = false
                } else {
                    config.per = per
                }
            } else {
                valid = false
            }
        }
        config.burst = requests
        if let field = mapping["burst"] {
            if let burst = field.int(in: 1...10_000_000) { config.burst = burst } else { valid = false }
        }
        if let field = mapping["key"], let text = field.string() {
            if let key = Self.hashKey(text) {
                config.key = key
            } else {
                field.report("\"\(text)\" is not client_ip, header:NAME or cookie:NAME")
                valid = false
            }
        } else if mapping.has("key") {
            valid = false
        }
        if let field = mapping["max_keys"] {
            if let count = field.int(in: 16...100_000_000) { config.maxKeys = count } else { valid = false }
        }
        return valid ? config : nil
    }

    /// `headers: { Name: value, … }`: fields added to every answer of a route.
    func parseResponseHeaders(_ value: ConfigValue) -> [HeaderField]? {
        parseHeaderFields(value, reserved: HeaderField.reserved)
    }

    /// `Name: value` entries; names in `reserved` (lower case) are refused.
    func parseHeaderFields(_ value: ConfigValue, reserved: Set<String>) -> [HeaderField]? {
        guard let entries = value.namedEntries() else { return nil }
        var fields: [HeaderField] = []
        var valid = true
        for (name, entry) in entries {
            guard HTTPToken.isToken(name) else {
                entry.report("\"\(name)\" is not a header field name")
                valid = false
                continue
            }
            guard !reserved.contains(name.lowercased()) else {
                entry.report("\(name) is set by the edge itself and cannot be configured")
                valid = false
                continue
            }
            guard let text = entry.string() else {
                valid = false
                continue
            }
            guard text.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }),
                text.first != " ", text.last != " "
            else {
                entry.report("the value of \(name) holds control characters or surrounding spaces")
                valid = false
                continue
            }
            if fields.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                entry.report("\(name) is given twice")
                valid = false
                continue
            }
            fields.append(HeaderField(name, text))
        }
        return valid ? fields : nil
    }

    func parseMatch(_ value: ConfigValue) -> RouteMatch? {
        guard let mapping = value.mapping(allowedKeys: ["host", "path_prefix", "methods"]) else { return nil }
        var match = RouteMatch()
        var valid = true
        if let host = mapping["host"], let text = host.string() {
            if let pattern = HostPattern(text) {
                match.host = pattern
            } else {
                host.report("\"\(text)\" is not a host name or a *.domain pattern (no port, no other wildcards)")
                valid = false
            }
        } else if mapping.has("host") {
            valid = false
        }
        if let prefix = mapping["path_prefix"], let text = prefix.string() {
            if text.hasPrefix("/"), !text.contains("?"), !text.contains("#"), !text.contains("//") {
                match.pathPrefix = text
            } else {
                prefix.report("\"\(text)\" must start with / and contain no query, fragment or empty segment")
                valid = false
            }
        } else if mapping.has("path_prefix") {
            valid = false
        }
        if let methods = mapping["methods"], let items = methods.list() {
            for item in items {
                guard let text = item.string() else {
                    valid = false
                    continue
                }
                if HTTPToken.isToken(text), text == text.uppercased() {
                    match.methods.insert(text)
                } else {
                    item.report("\"\(text)\" is not an HTTP method (methods are upper case, such as GET)")
                    valid = false
                }
            }
        } else if mapping.has("methods") {
            valid = false
        }
        return valid ? match : nil
    }

    func parseStatic(_ value: ConfigValue) -> StaticConfig? {
        guard let mapping = value.mapping(allowedKeys: ["root", "spa_fallback", "index", "dotfiles"]),
            let rootValue = mapping.required("root"), let rootText = rootValue.nonEmptyString()
        else { return nil }
        var valid = true
        let root = resolve(rootText)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) {
            rootValue.report("the directory \(root) does not exist")
            valid = false
        } else if !isDirectory.boolValue {
            rootValue.report("\(root) is not a directory")
            valid = false
        }
        var config = StaticConfig(root: URL(fileURLWithPath: root).standardizedFileURL.path)
        func fileName(_ key: String) -> String? {
            guard let field = mapping[key], let text = field.nonEmptyString() else {
                if mapping.has(key) { valid = false }
                return nil
            }
            let trimmed = text.hasPrefix("/") ? String(text.dropFirst()) : text
            let segments = trimmed.split(separator: "/", omittingEmptySubsequences: false)
            guard !trimmed.isEmpty, !segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                field.report("\"\(text)\" must be a file path inside the root")
                valid = false
                return nil
            }
            return trimmed
        }
        config.spaFallback = fileName("spa_fallback")
        if let index = fileName("index") { config.index = index }
        if let dotfiles = mapping["dotfiles"] {
            switch dotfiles.oneOf(["deny", "allow"]) {
            case "allow": config.allowDotfiles = true
            case "deny": config.allowDotfiles = false
            default: valid = false
            }
        }
        return valid ? config : nil
    }

    func parseCORS(_ value: ConfigValue) -> CORSConfig? {
        guard
            let mapping = value.mapping(allowedKeys: [
                "allow_origins", "allow_credentials", "allow_methods", "allow_headers", "expose_headers", "max_age",
            ]),
            let originsValue = mapping.required("allow_origins"), let origins = originsValue.list()
        else { return nil }
        var valid = true
        var config = CORSConfig(allowOrigins: [])
        for origin in origins {
            guard let text = origin.string() else {
                valid = false
                continue
            }
            if let problem = OriginPattern.problem(with: text) {
                origin.report(problem)
                valid = false
            } else {
                config.allowOrigins.append(text)
            }
        }
        if origins.isEmpty {
            originsValue.report("needs at least one origin")
            valid = false
        }
        if let credentials = mapping["allow_credentials"] {
            if let flag = credentials.bool() { config.allowCredentials = flag } else { valid = false }
        }
        if config.allowCredentials, config.allowOrigins.contains("*") {
            mapping.owner.report("allow_origins \"*\" cannot be combined with allow_credentials")
            valid = false
        }
        func tokens(_ key: String, uppercase: Bool) -> [String]? {
            guard let field = mapping[key] else { return nil }
            guard let items = field.list() else {
                valid = false
                return nil
            }
            var result: [String] = []
            for item in items {
                guard let text = item.string() else {
                    valid = false
                    continue
                }
                if text == "*" || HTTPToken.isToken(text) {
                    result.append(uppercase ? text.uppercased() : text)
                } else {
                    item.report("\"\(text)\" is not a valid HTTP token")
                    valid = false
                }
            }
            return result
        }
        if let methods = tokens("allow_methods", uppercase: true) { config.allowMethods = methods }
        if let headers = tokens("allow_headers", uppercase: false) { config.allowHeaders = headers }
        if let headers = tokens("expose_headers", uppercase: false) { config.exposeHeaders = headers }
        if config.allowCredentials, config.allowMethods.contains("*") || config.allowHeaders.contains("*") {
            mapping.owner.report("\"*\" in allow_methods or allow_headers cannot be combined with allow_credentials")
            valid = false
        }
        if let maxAge = mapping["max_age"] {
            if let seconds = maxAge.int(in: 0...86400) { config.maxAge = seconds } else { valid = false }
        }
        return valid ? config : nil
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardizedFileURL.path
    }
}
