import Foundation

/// Why a message was not delivered: where in the conversation it failed, what the server answered (if it did), and
/// whether trying again later can help.
public struct SMTPFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        case message, connect, tls, greeting, hello, startTLS, authentication, sender, recipient, data, timeout
    }

    public var stage: Stage
    /// The server's reply, when the failure is one.
    public var reply: SMTPReply?
    public var detail: String
    /// A 5xx reply or a message that cannot be sent as it is: trying again will not help, so it is a dead letter.
    /// Everything else (4xx replies, network and TLS failures, timeouts) is retried.
    public var isPermanent: Bool

    public init(stage: Stage, reply: SMTPReply? = nil, detail: String, isPermanent: Bool) {
        self.stage = stage
        self.reply = reply
        self.detail = detail
        self.isPermanent = isPermanent
    }

    public var description: String {
        let answer = reply.map { " (the server answered \($0))" } ?? ""
        return "\(detail)\(answer)"
    }
}

/// The outcome of sending one message.
public enum SMTPDeliveryResult: Sendable, Equatable {
    /// The server took the message; its reply to the end of the data (often with a queue id).
    case delivered(SMTPReply)
    case failed(SMTPFailure)
}

/// One SMTP conversation that sends one message (RFC 5321), as a state machine without I/O: it is given the server's
/// replies and TLS events and answers with what to do. EHLO (HELO for an old server), STARTTLS when the endpoint asks
/// for it (and a second EHLO over TLS), AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO for each recipient, DATA, QUIT.
struct SMTPSession {
    enum Action: Equatable {
        /// Send a command; the line end is added by the sender.
        case send(String)
        /// Send the message after a 354: dot-stuffed, ended by a line with a single dot.
        case sendMessage(String)
        /// Start TLS on the connection now (after the server's 220 to STARTTLS).
        case startTLS
        /// The delivery's outcome is known (the connection may still say QUIT).
        case report(SMTPDeliveryResult)
        /// Close the connection.
        case close
    }

    private enum State {
        case greeting
        case hello(secured: Bool)
        case helo
        case startTLS
        case tlsHandshake
        case authPlain
        case authLoginUser
        case authLoginPassword
        case authLoginDone
        case mail
        case recipient(Int)
        case data
        case message
        case quit
        case done
    }

    private var state: State = .greeting
    private let security: SMTPEndpoint.Security
    private let credentials: SMTPEndpoint.Credentials?
    private let helloName: String
    private let sender: String
    private let recipients: [String]
    private let message: String

    init(endpoint: SMTPEndpoint, helloName: String, sender: String, recipients: [String], message: String) {
        self.security = endpoint.security
        self.credentials = endpoint.credentials
        self.helloName = helloName
        self.sender = sender
        self.recipients = recipients
        self.message = message
    }

    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// The stage a network or TLS failure happens in, for the report.
    var stage: SMTPFailure.Stage {
        switch state {
        case .greeting: return security == .implicitTLS ? .tls : .greeting
        case .hello, .helo: return .hello
        case .startTLS: return .startTLS
        case .tlsHandshake: return .tls
        case .authPlain, .authLoginUser, .authLoginPassword, .authLoginDone: return .authentication
        case .mail: return .sender
        case .recipient: return .recipient
        case .data, .message, .quit, .done: return .data
        }
    }

    mutating func received(_ reply: SMTPReply) -> [Action] {
        switch state {
        case .greeting:
            guard reply.code == 220 else { return fail(.greeting, reply, "the server refused the connection") }
            state = .hello(secured: security == .implicitTLS)
            return [.send("EHLO \(helloName)")]
        case .hello(let secured):
            guard reply.code == 250 else {
                if reply.isPermanentFailure && !secured {
                    state = .helo
                    return [.send("HELO \(helloName)")]
                }
                return fail(.hello, reply, "the server refused EHLO")
            }
            return afterHello(secured: secured, extensions: Self.extensions(of: reply))
        case .helo:
            guard reply.code == 250 else { return fail(.hello, reply, "the server refused HELO") }
            return afterHello(secured: false, extensions: [:])
        case .startTLS:
            guard reply.code == 220 else { return fail(.startTLS, reply, "the server refused STARTTLS") }
            state = .tlsHandshake
            return [.startTLS]
        case .tlsHandshake:
            return fail(.startTLS, reply, "the server spoke before the TLS handshake", permanent: false)
        case .authPlain, .authLoginDone:
            guard reply.code == 235 else { return fail(.authentication, reply, "the server refused the credentials") }
            return mailFrom()
        case .authLoginUser:
            guard reply.code == 334, let credentials else {
                return fail(.authentication, reply, "the server refused AUTH LOGIN")
            }
            state = .authLoginPassword
            return [.send(Self.base64(credentials.username))]
        case .authLoginPassword:
            guard reply.code == 334, let credentials else {
                return fail(.authentication, reply, "the server refused the user name")
            }
            state = .authLoginDone
            return [.send(Self.base64(credentials.password))]
        case .mail:
            guard reply.code == 250 else { return fail(.sender, reply, "the server refused the sender \(sender)") }
            state = .recipient(0)
            return [.send("RCPT TO:<\(recipients[0])>")]
        case .recipient(let index):
            guard reply.code == 250 || reply.code == 251 else {
                return fail(.recipient, reply, "the server refused the recipient \(recipients[index])")
            }
            if index + 1 < recipients.count {
                state = .recipient(index + 1)
                return [.send("RCPT TO:<\(recipients[index + 1])>")]
            }
            state = .data
            return [.send("DATA")]
        case .data:
            guard reply.code == 354 else { return fail(.data, reply, "the server refused DATA") }
            state = .message
            return [.sendMessage(Self.dotStuffed(message))]
        case .message:
            guard reply.code == 250 else { return fail(.data, reply, "the server refused the message") }
            state = .quit
            return [.report(.delivered(reply)), .send("QUIT")]
        case .quit:
            state = .done
            return [.close]
        case .done:
            return []
        }
    }

    /// The TLS handshake after STARTTLS finished: greet again, over TLS (RFC 3207 §4.2: what was learnt before
    /// is forgotten).
    mutating func tlsEstablished() -> [Action] {
        guard case .tlsHandshake = state else { return [] }
        state = .hello(secured: true)
        return [.send("EHLO \(helloName)")]
    }

    /// The connection failed or closed: a failure unless the message was already taken.
    mutating func connectionEnded(_ detail: String, stage explicitStage: SMTPFailure.Stage? = nil) -> [Action] {
        switch state {
        case .quit, .done:
            state = .done
            return [.close]
        default:
            let failure = SMTPFailure(stage: explicitStage ?? stage, detail: detail, isPermanent: false)
            state = .done
            return [.report(.failed(failure)), .close]
        }
    }

    private mutating func afterHello(secured: Bool, extensions: [String: String]) -> [Action] {
        if security == .startTLS && !secured {
            guard extensions["STARTTLS"] != nil else {
                return fail(
                    .startTLS, nil, "the server does not offer STARTTLS, which smtp+starttls:// requires",
                    permanent: false)
            }
            state = .startTLS
            return [.send("STARTTLS")]
        }
        guard let credentials else { return mailFrom() }
        let mechanisms = Set((extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init))
        if mechanisms.contains("PLAIN") {
            state = .authPlain
            return [.send("AUTH PLAIN " + Self.base64("\0\(credentials.username)\0\(credentials.password)"))]
        }
        if mechanisms.contains("LOGIN") {
            state = .authLoginUser
            return [.send("AUTH LOGIN")]
        }
        return fail(.authentication, nil, "the server offers neither AUTH PLAIN nor AUTH LOGIN", permanent: false)
    }

    private mutating func mailFrom() -> [Action] {
        state = .mail
        return [.send("MAIL FROM:<\(sender)>")]
    }

    private mutating func fail(
        _ stage: SMTPFailure.Stage, _ reply: SMTPReply?, _ detail: String, permanent: Bool? = nil
    ) -> [Action] {
        let failure = SMTPFailure(
            stage: stage, reply: reply, detail: detail, isPermanent: permanent ?? reply?.isPermanentFailure ?? false)
        if case .greeting = state {
            state = .done
            return [.report(.failed(failure)), .close]
        }
        state = .quit
        return [.report(.failed(failure)), .send("QUIT")]
    }

    /// The EHLO reply's extensions after its first line: keyword (upper case) → parameters.
    static func extensions(of reply: SMTPReply) -> [String: String] {
        var found: [String: String] = [:]
        for line in reply.lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard let keyword = parts.first else { continue }
            found[keyword.uppercased()] = parts.count > 1 ? String(parts[1]) : ""
        }
        return found
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    /// The message with a dot doubled at the start of every line (RFC 5321 §4.5.2), CRLF line ends, and the ending
    /// line `.`.
    static func dotStuffed(_ message: String) -> String {
        var lines = message.replacingOccurrences(of: "\r\n", with: "\n").split(
            separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        var out = ""
        out.reserveCapacity(message.utf8.count + 16)
        for line in lines {
            if line.hasPrefix(".") { out += "." }
            out += line
            out += "\r\n"
        }
        return out + ".\r\n"
    }
}
