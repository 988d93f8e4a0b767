import Foundation

/// The CA's directory (RFC 8555 §7.1.1), and `renewalInfo` when it offers ACME Renewal Information (RFC 9773).
struct ACMEDirectory: Decodable, Sendable {
    var newNonce: String
    var newAccount: String
    var newOrder: String
    var revokeCert: String?
    var renewalInfo: String?
    var meta: Meta?

    struct Meta: Decodable, Sendable {
        var termsOfService: String?
        var externalAccountRequired: Bool?
    }
}

/// An identifier in an order or authorization.
struct ACMEIdentifier: Codable, Sendable, Hashable {
    var type: String
    var value: String

    static func dns(_ name: String) -> ACMEIdentifier { ACMEIdentifier(type: "dns", value: name) }
}

/// An order (RFC 8555 §7.1.3).
struct ACMEOrder: Decodable, Sendable {
    var status: String
    var identifiers: [ACMEIdentifier]
    var authorizations: [String]
    var finalize: String
    var certificate: String?
    var error: ACMEProblem?
}

/// An authorization (RFC 8555 §7.1.4).
struct ACMEAuthorization: Decodable, Sendable {
    var status: String
    var identifier: ACMEIdentifier
    var challenges: [ACMEChallenge]
    var wildcard: Bool?
}

/// A challenge (RFC 8555 §8).
struct ACMEChallenge: Decodable, Sendable {
    var type: String
    var url: String
    var status: String
    var token: String?
    var error: ACMEProblem?
}

/// The renewal window a CA suggests (RFC 9773 §4.2).
struct ACMERenewalInfo: Decodable, Sendable {
    struct Window: Decodable, Sendable {
        var start: Date
        var end: Date
    }

    var suggestedWindow: Window
    var explanationURL: String?
}

/// An ACME problem document (RFC 8555 §6.7, RFC 7807).
public struct ACMEProblem: Codable, Sendable, Hashable, CustomStringConvertible {
    public var type: String?
    public var detail: String?
    public var status: Int?
    public var subproblems: [ACMEProblem]?
    public var identifier: Identifier?

    public struct Identifier: Codable, Sendable, Hashable {
        public var type: String
        public var value: String
    }

    public init(type: String? = nil, detail: String? = nil, status: Int? = nil) {
        self.type = type
        self.detail = detail
        self.status = status
    }

    public var description: String {
        var text = (type ?? "about:blank").replacingOccurrences(of: "urn:ietf:params:acme:error:", with: "")
        if let detail { text += ": \(detail)" }
        if let identifier { text = "\(identifier.value): " + text }
        if let subproblems, !subproblems.isEmpty {
            text += " (" + subproblems.map(\.description).joined(separator: "; ") + ")"
        }
        return text
    }

    var isBadNonce: Bool { type == "urn:ietf:params:acme:error:badNonce" }
}

/// Why obtaining a certificate failed: the step, and the CA's problem document when it sent one.
public struct ACMEError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The name is outside `acme.domains`: nothing was sent to the CA.
        case nameNotAllowed = "name_not_allowed"
        /// The CA answered with a problem document.
        case problem
        /// The CA answered something that is not ACME.
        case protocolViolation = "protocol_violation"
        /// The CA could not be reached.
        case unreachable
        /// The challenge was not validated in time, or was invalid.
        case challengeFailed = "challenge_failed"
        /// No challenge the edge can answer was offered (or configured) for the name.
        case noUsableChallenge = "no_usable_challenge"
        /// The issued chain could not be used.
        case badCertificate = "bad_certificate"
        /// Storage could not be read or written.
        case storage
    }

    public var code: Code
    public var step: String
    public var problem: ACMEProblem?
    public var detail: String?

    public init(_ code: Code, step: String, problem: ACMEProblem? = nil, detail: String? = nil) {
        self.code = code
        self.step = step
        self.problem = problem
        self.detail = detail
    }

    public var description: String {
        var text = "\(step): \(code.rawValue)"
        if let problem { text += ": \(problem)" }
        if let detail { text += ": \(detail)" }
        return text
    }
}
