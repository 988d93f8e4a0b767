import Testing

@testable import PierMail

@Suite("SMTP URLs")
struct SMTPEndpointTests {
    @Test("smtp, smtp+starttls and smtps URLs: default ports, percent-decoded credentials, IPv6 hosts")
    func parses() throws {
        let relay = try SMTPEndpoint.parse("smtp://relay.internal")
        #expect(relay == SMTPEndpoint(security: .none, host: "relay.internal", port: 25))

        let submission = try SMTPEndpoint.parse("smtp+starttls://ops%40example.com:p%3Ass%20w@mail.example.com:2587")
        #expect(submission.security == .startTLS)
        #expect(submission.host == "mail.example.com")
        #expect(submission.port == 2587)
        #expect(submission.credentials == .init(username: "ops@example.com", password: "p:ss w"))
        #expect(try SMTPEndpoint.parse("smtp+starttls://u:p@mail.example.com").port == 587)

        let implicit = try SMTPEndpoint.parse("SMTPS://u:secret@[::1]")
        #expect(implicit.security == .implicitTLS)
        #expect(implicit.host == "::1")
        #expect(implicit.port == 465)
        #expect(implicit.description == "smtps://u:***@[::1]:465")
    }

    @Test("the password never appears in the description")
    func redacts() throws {
        let endpoint = try SMTPEndpoint.parse("smtps://mailer:hunter2-very-secret@smtp.example.com:465")
        #expect(endpoint.description == "smtps://mailer:***@smtp.example.com:465")
        #expect(!endpoint.description.contains("hunter2"))
    }

    @Test("a password over an unencrypted connection is allowed only to this machine")
    func plaintextPasswordOnlyOnLoopback() throws {
        #expect(try SMTPEndpoint.parse("smtp://u:p@127.0.0.1:2525").credentials != nil)
        #expect(try SMTPEndpoint.parse("smtp://u:p@localhost").credentials != nil)
        do {
            _ = try SMTPEndpoint.parse("smtp://u:topsecret@mail.example.com")
            Issue.record("an unencrypted password to another host was accepted")
        } catch {
            #expect(error.description.contains("unencrypted"))
            #expect(error.description.contains("smtp+starttls://"))
            #expect(!error.description.contains("topsecret"))
        }
    }

    @Test(
        "bad URLs are refused with what is wrong",
        arguments: [
            ("http://mail.example.com", "scheme"),
            ("smtp://", "host"),
            ("smtp://user@mail.example.com", "without a password"),
            ("smtp://:secret@localhost", "without a user"),
            ("smtp://mail.example.com/inbox", "path"),
            ("smtp://mail.example.com?x=1", "query"),
            ("smtp://mail.example.com:0", "port"),
            ("mail.example.com", "URL"),
        ])
    func refuses(url: String, says: String) {
        do {
            let endpoint = try SMTPEndpoint.parse(url)
            Issue.record("\(url) was accepted as \(endpoint)")
        } catch {
            #expect(error.description.hasPrefix("the SMTP URL "))
            #expect(error.description.contains(says), "\(url): \(error)")
        }
    }
}
