import ArgumentParser
import Foundation
import Logging
import PierBoardStore
import PierMail
import PierNotify

/// Email notifications, shared by `pier board serve` and `pier up`.
struct MailOptions: ParsableArguments {
    @Option(
        name: .customLong("smtp-url"),
        help: ArgumentHelp(
            "Send email notifications through this SMTP server: smtp://host:25 (a relay, no encryption), smtp+starttls://user:password@host:587 or smtps://user:password@host:465. PIER_SMTP_URL is read when this is not given (it keeps the password out of the process list); without either, no email is sent.",
            valueName: "url"))
    var smtpURL: String?

    @Option(
        help: ArgumentHelp("The sender of notification email: address or \"Name <address>\".", valueName: "mailbox"))
    var mailFrom: String?

    @Option(
        help: ArgumentHelp(
            "PEM file of the certificate authorities trusted for the SMTP server's certificate (default: the system's).",
            valueName: "path"))
    var smtpTrustRoots: String?

    @Option(
        help: ArgumentHelp(
            "The board's address as people open it (https://board.example.com): the links in email.", valueName: "url"))
    var publicURL: String?

    @Option(help: "The language of email to people who have not chosen one in the web app: ko or en.")
    var mailLanguage = "en"

    @Flag(
        help: ArgumentHelp(
            "Let board webhooks call loopback, private and link-local addresses (by default they are refused, so that a webhook cannot reach services that only this machine or network can)."
        ))
    var webhooksAllowPrivate = false

    /// The SMTP URL given, by option or environment.
    var smtpText: String? {
        smtpURL ?? ProcessInfo.processInfo.environment["PIER_SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    struct Settings {
        var client: SMTPClient?
        var mail: NotificationMail
    }

    /// What the notifier needs; `defaultPublicURL` is the address `pier up` serves on when `--public-url` is not given.
    func settings(defaultPublicURL: String?) throws -> Settings {
        guard let language = NotificationMail.Language(rawValue: mailLanguage) else {
            throw ValidationError("--mail-language: \"\(mailLanguage)\" is neither ko nor en")
        }
        if let publicURL {
            guard let url = URLComponents(string: publicURL), ["http", "https"].contains(url.scheme ?? ""),
                url.host?.isEmpty == false, url.query == nil
            else {
                throw ValidationError(
                    "--public-url: \"\(publicURL)\" is not an http(s) URL such as https://board.example.com")
            }
        }
        let from = try mailFrom.map(Self.mailbox) ?? MailAddress("pier@localhost", name: "Pier")
        let mail = NotificationMail(
            from: from, publicURL: publicURL ?? defaultPublicURL ?? "http://localhost", defaultLanguage: language)
        guard let text = smtpText else { return Settings(client: nil, mail: mail) }
        let endpoint: SMTPEndpoint
        do { endpoint = try SMTPEndpoint.parse(text) } catch { throw ValidationError("--smtp-url: \(error)") }
        guard mailFrom != nil else {
            throw ValidationError("--smtp-url needs --mail-from, the address notification email comes from")
        }
        guard publicURL != nil || defaultPublicURL != nil else {
            throw ValidationError("--smtp-url needs --public-url, the board's address for the links in email")
        }
        if let smtpTrustRoots, !FileManager.default.isReadableFile(atPath: smtpTrustRoots) {
            throw ValidationError("--smtp-trust-roots: \(smtpTrustRoots) cannot be read")
        }
        return Settings(
            client: SMTPClient(endpoint: endpoint, trustRoots: smtpTrustRoots, logger: Logger(label: "pier.mail")),
            mail: mail)
    }

    /// `Name <address>` or `address`.
    static func mailbox(_ text: String) throws -> MailAddress {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var address = MailAddress(trimmed)
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            let name = trimmed[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
            address = MailAddress(
                String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]),
                name: name.isEmpty ? nil : name)
        }
        guard address.isValid else {
            throw ValidationError("--mail-from: \"\(text)\" is not an address such as \"Pier <board@example.com>\"")
        }
        return address
    }

    /// The notifier for a board on `database`; it reads the trust store now, so a bad one stops the start.
    func notifier(database: any SQLDatabase, defaultPublicURL: String?, logger: Logger) throws -> Notifier {
        let settings = try settings(defaultPublicURL: defaultPublicURL)
        if let client = settings.client {
            do { _ = try client.makeTLSContext() } catch {
                throw ValidationError("--smtp-trust-roots: \(smtpTrustRoots ?? "the system's trust store"): \(error)")
            }
            logger.notice(
                "email notifications on",
                metadata: ["pier.smtp": "\(client.endpoint)", "pier.mail_from": "\(settings.mail.from.address)"])
        }
        return Notifier(
            store: SQLNotificationStore(database: database), sender: settings.client, mail: settings.mail,
            webhookSender: HTTPWebhookSender(), logger: Logger(label: "pier.notify"))
    }
}
