import PierCore

/// Reading the proxy parts of the file: `upstreams`, the proxy fields of routes, and `admin`.
extension EdgeConfigParser {
    func parseUpstreams(_ value: ConfigValue) -> [String: UpstreamConfig]? {
        guard let entries = value.namedEntries() else { return nil }
        var valid = true
        var upstreams: [String: UpstreamConfig] = [:]
        for (name, entry) in entries {
            guard name.utf8.allSatisfy({ HTTPToken.isTokenByte($0) }) else {
                entry.report("\"\(name)\" is not a usable upstream name (letters, digits, - _ .)")
                valid = false
                continue
            }
            if let upstream = parseUpstream(entry) { upstreams[name] = upstream } else { valid = false }
        }
        return valid ? upstreams : nil
    }

    func parseUpstream(_ value: ConfigValue) -> UpstreamConfig? {
        guard
            let mapping = value.mapping(allowedKeys: [
                "targets", "balance", "hash_on", "health_check", "passive", "keepalive", "retry_budget",
            ]),
            let targetsValue = mapping.required("targets"), let targetItems = targetsValue.list()
        else { return nil }
        var valid = true
        var config = UpstreamConfig(targets: [])
        for item in targetItems {
            if let target = parseTarget(item) {
                if config.targets.contains(where: { $0.address == target.address }) {
                    item.report("\(target.address) is listed twice")
                    valid = false
                } else {
                    config.targets.append(target)
                }
            } else {
                valid = false
            }
        }
        if targetItems.isEmpty {
            targetsValue.report("needs at least one target")
            valid = false
        }
        if let balance = mapping["balance"] {
            if let text = balance.oneOf(UpstreamConfig.Balance.allCases.map(\.rawValue)) {
                config.balance = UpstreamConfig.Balance(rawValue: text)!
            } else {
                valid = false
            }
        }
        if let hashOn = mapping["hash_on"], let text = hashOn.string() {
            if let key = Self.hashKey(text) {
                config.hashOn = key
                if config.balance != .hash {
                    hashOn.report("applies only with balance: hash")
                    valid = false
                }
            } else {
                hashOn.report("\"\(text)\" is not client_ip, header:NAME or cookie:NAME")
                valid = false
            }
        } else if mapping.has("hash_on") {
            valid = false
        }
        if let value = mapping["health_check"] {
            if let check = parseHealthCheck(value) { config.healthCheck = check } else { valid = false }
        }
        if let value = mapping["passive"] {
            if let passive = parsePassive(value) { config.passive = passive } else { valid = false }
        }
        if let value = mapping["keepalive"] {
            if let keepalive = parseKeepalive(value) { config.keepalive = keepalive } else { valid = false }
        }
        if let value = mapping["retry_budget"] {
            if let budget = parseRetryBudget(value) { config.retryBudget = budget } else { valid = false }
        }
        return valid ? config : nil
    }

    static func hashKey(_ text: String) -> UpstreamConfig.HashKey? {
        if text == "client_ip" { return .clientIP }
        if text.hasPrefix("header:") {
            let name = String(text.dropFirst("header:".count))
            return HTTPToken.isToken(name) ? .header(name.lowercased()) : nil
        }
        if text.hasPrefix("cookie:") {
            let name = String(text.dropFirst("cookie:".count))
            return HTTPToken.isToken(name) ? .cookie(name) : nil
        }
        return nil
    }

    func parseTarget(_ value: ConfigValue) -> UpstreamTargetConfig? {
        var addressValue = value
        var weight = 1
        if value.scalarText == nil {
            guard let mapping = value.mapping(allowedKeys: ["address", "weight"]),
                let address = mapping.required("address")
            else { return nil }
            addressValue = address
            if let weightValue = mapping["weight"] {
                guard let parsed = weightValue.int(in: 1...100) else { return nil }
                weight = parsed
            }
        }
        guard let text = addressValue.string() else { return nil }
        guard let spec = SocketAddressSpec(parsing: text), spec.port > 0 else {
            addressValue.report("\"\(text)\" is not host:port (for example 127.0.0.1:9001 or [::1]:9001)")
            return nil
        }
        return UpstreamTargetConfig(address: spec, weight: weight)
    }

    func parseHealthCheck(_ value: ConfigValue) -> HealthCheckConfig? {
        guard
            let mapping = value.mapping(allowedKeys: [
                "path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", "expect_status",
            ])
        else { return nil }
        var check = HealthCheckConfig()
        var valid = true
        if let path = mapping["path"], let text = path.string() {
            if text.hasPrefix("/"), text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                check.path = text
            } else {
                path.report("\"\(text)\" must be a path starting with / (no spaces)")
                valid = false
            }
        } else if mapping.has("path") {
            valid = false
        }
        if let interval = mapping["interval"] {
            if let time = interval.duration(minimum: .milliseconds(100)) {
                check.interval = time
            } else {
                valid = false
            }
        }
        if let timeout = mapping["timeout"] {
            if let time = timeout.duration(minimum: .milliseconds(10)) { check.timeout = time } else { valid = false }
        }
        if let field = mapping["healthy_threshold"] {
            if let count = field.int(in: 1...100) { check.healthyThreshold = count } else { valid = false }
        }
        if let field = mapping["unhealthy_threshold"] {
            if let count = field.int(in: 1...100) { check.unhealthyThreshold = count } else { valid = false }
        }
        if let field = mapping["expect_status"] {
            if let statuses = parseStatuses(field) { check.expectStatus = statuses } else { valid = false }
        }
        if valid, check.timeout > check.interval {
            if let timeout = mapping["timeout"] {
                timeout.report("cannot be longer than interval (\(ConfigDuration.format(check.interval)))")
            } else {
                // Only the interval was given, shorter than the default timeout: say so where it was written.
                mapping["interval"]?.report(
                    "is shorter than the default timeout (\(ConfigDuration.format(check.timeout))): set timeout too, no longer than the interval"
                )
            }
            valid = false
        }
        return valid ? check : nil
    }

    /// `200`, `[200, 204]`, or a class such as `2xx`.
    func parseStatuses(_ value: ConfigValue) -> Set<Int>? {
        let items = value.scalarText != nil ? [value] : value.list()
        guard let items else { return nil }
        var statuses = Set<Int>()
        for item in items {
            guard let text = item.string() else { return nil }
            if let code = Int(text), (100...599).contains(code) {
                statuses.insert(code)
            } else if text.count == 3, text.hasSuffix("xx"), let digit = Int(text.prefix(1)), (1...5).contains(digit) {
                statuses.formUnion(digit * 100...digit * 100 + 99)
            } else {
                item.report("\"\(text)\" is not a status code (100…599) or class such as 2xx")
                return nil
            }
        }
        if statuses.isEmpty {
            value.report("needs at least one status")
            return nil
        }
        return statuses
    }

    func parsePassive(_ value: ConfigValue) -> PassiveHealthConfig? {
        if let text = value.scalarText, text == "off" || text == "false" {
            return PassiveHealthConfig(consecutiveFailures: 0)
        }
        guard let mapping = value.mapping(allowedKeys: ["consecutive_failures", "eject_for"]) else { return nil }
        var passive = PassiveHealthConfig()
        var valid = true
        if let field = mapping["consecutive_failures"] {
            if let count = field.int(in: 0...1000) { passive.consecutiveFailures = count } else { valid = false }
        }
        if let field = mapping["eject_for"] {
            if let time = field.duration(minimum: .milliseconds(100)) { passive.ejectFor = time } else { valid = false }
        }
        return valid ? passive : nil
    }

    func parseKeepalive(_ value: ConfigValue) -> KeepaliveConfig? {
        guard let mapping = value.mapping(allowedKeys: ["max_idle_per_target", "idle_timeout"]) else { return nil }
        var keepalive = KeepaliveConfig()
        var valid = true
        if let field = mapping["max_idle_per_target"] {
            if let count = field.int(in: 0...10000) { keepalive.maxIdlePerTarget = count } else { valid = false }
        }
        if let field = mapping["idle_timeout"] {
            if let time = field.duration(minimum: .milliseconds(100)) {
                keepalive.idleTimeout = time
            } else {
                valid = false
            }
        }
        return valid ? keepalive : nil
    }

    func parseRetryBudget(_ value: ConfigValue) -> RetryBudgetConfig? {
        guard let mapping = value.mapping(allowedKeys: ["ratio", "min_per_second"]) else { return nil }
        var budget = RetryBudgetConfig()
        var valid = true
        if let field = mapping["ratio"], let text = field.string() {
            if let ratio = Double(text), ratio >= 0, ratio <= 1 {
                budget.ratio = ratio
            } else {
                field.report("\"\(text)\" is not a ratio between 0 and 1")
                valid = false
            }
        } else if mapping.has("ratio") {
            valid = false
        }
        if let field = mapping["min_per_second"] {
            if let count = field.int(in: 0...100_000) { budget.minPerSecond = count } else { valid = false }
        }
        return valid ? budget : nil
    }

    func parseProxyRoute(_ mapping: ConfigMapping, upstreams: [String: UpstreamConfig]?) -> ProxyRouteConfig? {
        guard let upstreamValue = mapping["upstream"], let name = upstreamValue.nonEmptyString() else { return nil }
        var valid = true
        if let upstreams, upstreams[name] == nil {
            let known = upstreams.keys.sorted()
            upstreamValue.report(
                "no upstream named \"\(name)\" "
                    + (known.isEmpty ? "(define it under upstreams:)" : "(defined: \(known.joined(separator: ", ")))"))
            valid = false
        }
        var config = ProxyRouteConfig(upstream: name)
        if let value = mapping["timeouts"] {
            if let timeouts = parseTimeouts(value) { config.timeouts = timeouts } else { valid = false }
        }
        if let value = mapping["retries"] {
            if let retries = parseRetries(value) { config.retries = retries } else { valid = false }
        }
        for key in ["strip_prefix", "add_prefix"] {
            guard let field = mapping[key] else { continue }
            guard let text = field.string() else {
                valid = false
                continue
            }
            guard text.hasPrefix("/"), !text.hasSuffix("/") || text == "/", !text.contains("?"), !text.contains("//"),
                text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                field.report("\"\(text)\" must be a path starting with / and not ending with / (such as /ws)")
                valid = false
                continue
            }
            if key == "strip_prefix" { config.stripPrefix = text } else { config.addPrefix = text }
        }
        if let field = mapping["host_header"], let text = field.string() {
            if text == "client" {
                config.hostHeader = nil
            } else if text.utf8.allSatisfy(HTTP1RequestParser.isHostByte), !text.isEmpty {
                config.hostHeader = text
            } else {
                field.report("\"\(text)\" is not client or a host name")
                valid = false
            }
        } else if mapping.has("host_header") {
            valid = false
        }
        if let field = mapping["encoded_slashes"] {
            switch field.oneOf(["deny", "pass"]) {
            case "pass": config.passEncodedSlashes = true
            case "deny": config.passEncodedSlashes = false
            default: valid = false
            }
        }
        if let field = mapping["underscore_headers"] {
            switch field.oneOf(["drop", "pass"]) {
            case "pass": config.passUnderscoreHeaders = true
            case "drop": config.passUnderscoreHeaders = false
            default: valid = false
            }
        }
        if let field = mapping["upgrades"] {
            if let protocols = parseUpgrades(field) { config.upgrades = protocols } else { valid = false }
        }
        if let field = mapping["set_request_headers"] {
            if let fields = parseHeaderFields(field, reserved: HeaderField.reservedRequest) {
                config.setRequestHeaders = fields
            } else {
                valid = false
            }
        }
        return valid ? config : nil
    }

    /// The protocols a route lets clients switch to: a list of names (`[websocket]`), or `off`.
    func parseUpgrades(_ value: ConfigValue) -> [String]? {
        if let text = value.scalarText, text == "off" || text == "none" || text == "false" { return [] }
        guard let items = value.list() else { return nil }
        var protocols: [String] = []
        var valid = true
        for item in items {
            guard let text = item.string() else {
                valid = false
                continue
            }
            let name = text.lowercased()
            let protocolName = name.split(separator: "/", maxSplits: 1).first.map(String.init) ?? name
            if protocolName == "h2c" || protocolName == "h2" {
                item.report("HTTP/2 cannot be tunnelled through an upgrade (the h2c smuggling pattern): remove it")
                valid = false
            } else if name.split(separator: "/", omittingEmptySubsequences: false).count > 2
                || !name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({
                    HTTPToken.isToken(String($0))
                })
            {
                item.report("\"\(text)\" is not a protocol name such as websocket")
                valid = false
            } else if !protocols.contains(name) {
                protocols.append(name)
            }
        }
        return valid ? protocols : nil
    }

    func parseTimeouts(_ value: ConfigValue) -> ProxyTimeouts? {
        guard let mapping = value.mapping(allowedKeys: ["connect", "response", "idle", "stream_idle"]) else {
            return nil
        }
        var timeouts = ProxyTimeouts()
        var valid = true
        func duration(_ key: String, _ assign: (Duration) -> Void) {
            guard let field = mapping[key] else { return }
            if let time = field.duration(minimum: .milliseconds(1)) { assign(time) } else { valid = false }
        }
        duration("connect") { timeouts.connect = $0 }
        duration("response") { timeouts.response = $0 }
        duration("idle") { timeouts.idle = $0 }
        if let field = mapping["stream_idle"] {
            if let text = field.scalarText, text == "off" || text == "none" {
                timeouts.streamIdle = nil
            } else if let time = field.duration(minimum: .milliseconds(1)) {
                timeouts.streamIdle = time
            } else {
                valid = false
            }
        }
        return valid ? timeouts : nil
    }

    func parseRetries(_ value: ConfigValue) -> RetryConfig? {
        if let text = value.scalarText, text == "off" || text == "false" {
            return RetryConfig(attempts: 1, on: [])
        }
        guard let mapping = value.mapping(allowedKeys: ["attempts", "on"]) else { return nil }
        var retries = RetryConfig()
        var valid = true
        if let field = mapping["attempts"] {
            if let count = field.int(in: 1...10) { retries.attempts = count } else { valid = false }
        }
        if let field = mapping["on"], let items = field.list() {
            retries.on = []
            for item in items {
                guard let text = item.string() else {
                    valid = false
                    continue
                }
                switch text {
                case "connect_failure": retries.on.insert(.connectFailure)
                case "reset": retries.on.insert(.reset)
                case "timeout": retries.on.insert(.timeout)
                default:
                    if let code = Int(text), (500...599).contains(code) {
                        retries.on.insert(.status(code))
                    } else {
                        item.report(
                            "\"\(text)\" is not connect_failure, reset, timeout or a 5xx status such as \"503\"")
                        valid = false
                    }
                }
            }
        } else if mapping.has("on") {
            valid = false
        }
        return valid ? retries : nil
    }

    func parseAdmin(_ value: ConfigValue) -> AdminConfig? {
        guard let mapping = value.mapping(allowedKeys: ["listen"]), let listen = mapping.required("listen"),
            let text = listen.string()
        else { return nil }
        guard let spec = SocketAddressSpec(parsing: text) else {
            listen.report("\"\(text)\" is not host:port (for example 127.0.0.1:9901)")
            return nil
        }
        guard EdgeConfig.isLoopback(spec.host) else {
            listen.report("the admin listener must be on a loopback address (127.0.0.1, ::1 or localhost)")
            return nil
        }
        return AdminConfig(listen: spec)
    }
}

extension EdgeConfig {
    /// Whether `host` is a loopback address: 127.0.0.0/8, ::1 or localhost (where admin listeners must be).
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
