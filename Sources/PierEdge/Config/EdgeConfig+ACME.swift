import Foundation
import PierACME
import PierCore

extension EdgeConfig {
    /// Whether `name` is one ACME may order a certificate for here (no wildcards without dns-01).
    public static func isACMEName(_ name: String) -> Bool {
        EdgeConfigParser.isDNSName(name.lowercased())
    }
}

extension EdgeConfigParser {
    static let acmeKeys = [
        "directory", "email", "domains", "challenges", "key_type", "storage", "trusted_roots", "preferred_chain",
        "on_demand", "dns_hook",
    ]

    /// `acme: { directory, email, domains: [...], challenges: [http-01], key_type, storage, trusted_roots }`.
    func parseACME(_ value: ConfigValue) -> ACMESettings? {
        guard let mapping = value.mapping(allowedKeys: Self.acmeKeys) else { return nil }
        var valid = true
        var settings = ACMESettings(domains: [], storage: resolve("pier-data/acme"))
        if let field = mapping["directory"] {
            if let url = field.nonEmptyString() {
                if url.hasPrefix("https://"), URL(string: url)?.host != nil {
                    settings.directory = url
                } else {
                    field.report("must be the https:// URL of the CA's ACME directory")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        if let field = mapping["email"] {
            if let email = field.nonEmptyString() {
                if email.contains("@") && !email.contains(where: { $0 == " " || $0 == "," }) {
                    settings.email = email
                } else {
                    field.report("\"\(email)\" is not an email address")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        if let field = mapping.required("domains"), let items = field.list() {
            if items.isEmpty {
                field.report("needs at least one name: nothing outside this list is ever requested")
                valid = false
            }
            for item in items {
                guard let name = item.nonEmptyString()?.lowercased() else {
                    valid = false
                    continue
                }
                if name.hasPrefix("*.") {
                    item.report("wildcard names need dns-01, which this version does not offer yet")
                    valid = false
                } else if !Self.isDNSName(name) {
                    item.report(
                        "\"\(name)\" is not a DNS name a public CA issues for (labels of letters, digits and -)")
                    valid = false
                } else if settings.domains.contains(name) {
                    item.report("\(name) is listed twice")
                    valid = false
                } else {
                    settings.domains.append(name)
                }
            }
        } else {
            valid = false
        }
        if let field = mapping["challenges"], let items = field.list() {
            var challenges: [String] = []
            for item in items {
                guard let type = item.oneOf(["http-01", "tls-alpn-01", "dns-01"]) else {
                    valid = false
                    continue
                }
                if !ACMESettings.supportedChallenges.contains(type) {
                    item.report("\(type) is not offered by this version yet; use http-01")
                    valid = false
                }
                challenges.append(type)
            }
            if items.isEmpty {
                field.report("needs at least one challenge type")
                valid = false
            }
            settings.challenges = challenges
        } else if mapping.has("challenges") {
            valid = false
        }
        for key in ["on_demand", "dns_hook"] {
            if let field = mapping[key] {
                field.report("is not offered by this version yet")
                valid = false
            }
        }
        if let field = mapping["key_type"] {
            if let text = field.oneOf(ACMEKeyType.allCases.map(\.rawValue)) {
                settings.keyType = ACMEKeyType(rawValue: text)!
            } else {
                valid = false
            }
        }
        if let field = mapping["storage"] {
            if let path = field.nonEmptyString() {
                if path.hasPrefix("postgres://") || path.hasPrefix("postgresql://") {
                    field.report("PostgreSQL storage is not offered by this version yet; give a directory")
                    valid = false
                } else {
                    settings.storage = resolve(path)
                }
            } else {
                valid = false
            }
        }
        if let field = mapping["trusted_roots"] {
            if let path = field.nonEmptyString() {
                let resolved = resolve(path)
                if FileManager.default.isReadableFile(atPath: resolved) {
                    settings.trustedRoots = resolved
                } else {
                    field.report("cannot read \(resolved)")
                    valid = false
                }
            } else {
                valid = false
            }
        }
        if let field = mapping["preferred_chain"] {
            if let name = field.nonEmptyString() { settings.preferredChain = name } else { valid = false }
        }
        return valid ? settings : nil
    }

    /// What ACME needs of the rest of the file: a TLS listener to serve the certificates on, and a plain one to
    /// answer http-01 on; and no `tls.acme` without the `acme:` section.
    func checkACME(_ config: EdgeConfig, document: ConfigMapping) -> Bool {
        let acmeListeners = config.listen.filter { $0.tls?.acme == true }
        guard let acme = config.acme else {
            if !acmeListeners.isEmpty {
                document["listen"]?.report("a listener has tls.acme: true but the file has no acme: section")
                return false
            }
            return true
        }
        var valid = true
        if acmeListeners.isEmpty {
            document["acme"]?.report("no listener serves these certificates: add tls: { acme: true } to a listener")
            valid = false
        }
        if acme.challenges.contains("http-01") && !config.listen.contains(where: { $0.tls == nil }) {
            document["acme"]?.report(
                "http-01 needs a plain listener (port 80 in production) where the CA asks for the challenge")
            valid = false
        }
        return valid
    }

    /// A host name of at least two labels, each 1-63 letters, digits or hyphens not at either end.
    static func isDNSName(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, name.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
