import ArgumentParser
import PierCore
import PierEdge

/// `pier config`: configuration tools.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate configuration files.",
        subcommands: [ConfigCheckCommand.self]
    )
}

/// `pier config check FILE`: validates an edge configuration and summarises it.
struct ConfigCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check an edge configuration file: exit 0 with a summary, or 1 with every error found."
    )

    @Argument(help: "The edge configuration file (YAML).")
    var file: String

    func run() throws {
        let config = try Self.loadOrExit(file)
        print(Self.summary(config, file: file), terminator: "")
    }

    /// Loads a configuration, or prints every problem to standard error and exits with status 1.
    static func loadOrExit(_ file: String) throws -> EdgeConfig {
        do {
            return try EdgeConfig.load(path: file)
        } catch {
            for diagnostic in error.diagnostics { printError("\(diagnostic)") }
            let count = error.diagnostics.count
            printError("\(file): \(count) error\(count == 1 ? "" : "s")")
            throw ExitCode(1)
        }
    }

    static func summary(_ config: EdgeConfig, file: String) -> String {
        var text = "\(file): OK\n"
        text += "listen: \(config.listen.map(\.address.description).joined(separator: ", "))\n"
        text += "access log: \(config.accessLog.format.rawValue) to \(config.accessLog.destination)\n"
        let limits = config.limits
        text +=
            "limits: header \(limits.maxHeaderBytes) B, uri \(limits.maxURIBytes) B, body \(limits.maxBodyBytes) B, "
        text +=
            "header timeout \(ConfigDuration.format(limits.headerTimeout)), idle \(ConfigDuration.format(limits.idleTimeout)), "
        text += "\(limits.maxConnections) connections\n"
        text += "routes (first match wins):\n"
        for (index, route) in config.routes.enumerated() {
            var match = "host \(route.match.host?.description ?? "any"), path \(route.match.pathPrefix)"
            match +=
                ", methods \(route.match.methods.isEmpty ? "any" : route.match.methods.sorted().joined(separator: " "))"
            var action: String
            switch route.action {
            case .static(let config):
                action = "static \(config.root)"
                if let fallback = config.spaFallback { action += " (spa_fallback \(fallback))" }
            case .proxy(let config):
                action = "upstream \(config.upstream)"
                if let prefix = config.stripPrefix { action += " (strip_prefix \(prefix))" }
                if let prefix = config.addPrefix { action += " (add_prefix \(prefix))" }
                if config.passEncodedSlashes { action += " (encoded_slashes pass)" }
            }
            if let auth = route.auth {
                switch auth.paseto.key {
                case .url(let urls):
                    action += "; auth: PASETO v4.public tokens, key from \(urls.joined(separator: " or "))"
                case .inline: action += "; auth: PASETO v4.public tokens, key in the configuration"
                }
            }
            if let limit = route.rateLimit {
                action += "; rate_limit \(limit.requests) per \(ConfigDuration.format(limit.per)), burst \(limit.burst)"
                action += " by \(limit.key)"
            }
            if let cors = route.cors {
                action += "; cors \(cors.allowOrigins.joined(separator: " "))"
                if cors.allowCredentials { action += " with credentials" }
            }
            text += "  \(index + 1). \(match) -> \(action)\n"
        }
        if !config.upstreams.isEmpty {
            text += "upstreams:\n"
            for (name, upstream) in config.upstreams.sorted(by: { $0.key < $1.key }) {
                let targets = upstream.targets.map { target in
                    target.weight == 1 ? "\(target.address)" : "\(target.address) (weight \(target.weight))"
                }
                var line = "  \(name): \(targets.joined(separator: ", ")); \(upstream.balance.rawValue)"
                if upstream.balance == .hash { line += " on \(upstream.hashOn)" }
                if let check = upstream.healthCheck {
                    line += "; health check GET \(check.path) every \(ConfigDuration.format(check.interval))"
                }
                text += line + "\n"
            }
        }
        if let admin = config.admin { text += "admin: http://\(admin.listen)/status\n" }
        return text
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    var standardError = StandardErrorStream()
    print(message, to: &standardError)
}

struct StandardErrorStream: TextOutputStream {
    mutating func write(_ string: String) {
        LogSink.standardError.write(string)
    }
}

/// Writes a line to standard output at once (not buffered), so that a supervising process or a test sees it.
func printNow(_ message: String) {
    LogSink.standardOutput.write(message + "\n")
}
