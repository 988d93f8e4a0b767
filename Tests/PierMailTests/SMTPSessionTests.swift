import Testing

@testable import PierMail

@Suite("SMTP conversation (state machine, no sockets)")
struct SMTPSessionTests {
    typealias Action = SMTPSession.Action

    static func session(_ url: String, recipients: [String] = ["pic@example.com"]) throws -> SMTPSession {
        SMTPSession(
            endpoint: try SMTPEndpoint.parse(url), helloName: "pier.test", sender: "board@pier.example",
            recipients: recipients, message: "Subject: t\r\n\r\nbody\r\n")
    }

    static func reply(_ code: Int, _ lines: String...) -> SMTPReply {
        SMTPReply(code: code, lines: lines.isEmpty ? ["ok"] : lines)
    }

    static func failure(in actions: [Action]) -> SMTPFailure? {
        for case .report(.failed(let failure)) in actions { return failure }
        return nil
    }

    @Test("a plain relay: EHLO, MAIL FROM, RCPT TO for each recipient, DATA, the message, QUIT")
    func plain() throws {
        var session = try Self.session("smtp://relay.internal", recipients: ["a@example.com", "b@example.com"])
        #expect(session.received(Self.reply(220, "relay ESMTP")) == [.send("EHLO pier.test")])
        #expect(
            session.received(Self.reply(250, "relay", "SIZE 1000000", "8BITMIME")) == [
                .send("MAIL FROM:<board@pier.example>")
            ])
        #expect(session.received(Self.reply(250)) == [.send("RCPT TO:<a@example.com>")])
        #expect(session.received(Self.reply(250)) == [.send("RCPT TO:<b@example.com>")])
        #expect(session.received(Self.reply(251, "will forward")) == [.send("DATA")])
        #expect(session.received(Self.reply(354, "go ahead")) == [.sendMessage("Subject: t\r\n\r\nbody\r\n.\r\n")])
        let queued = Self.reply(250, "2.0.0 Ok: queued as 4F3A")
        #expect(session.received(queued) == [.report(.delivered(queued)), .send("QUIT")])
        #expect(session.received(Self.reply(221, "bye")) == [.close])
        #expect(session.isDone)
        #expect(session.connectionEnded("closed") == [.close])
    }

    @Test("STARTTLS first, EHLO again over TLS, then AUTH PLAIN with the credentials")
    func startTLSAndPlain() throws {
        var session = try Self.session("smtp+starttls://u%40x:s3cret@mail.example.com")
        _ = session.received(Self.reply(220))
        #expect(session.received(Self.reply(250, "mail", "STARTTLS", "AUTH LOGIN PLAIN")) == [.send("STARTTLS")])
        #expect(session.received(Self.reply(220, "ready")) == [.startTLS])
        #expect(session.stage == .tls)
        #expect(session.tlsEstablished() == [.send("EHLO pier.test")])
        let plain = SMTPSession.base64("\0u@x\0s3cret")
        #expect(session.received(Self.reply(250, "mail", "AUTH LOGIN PLAIN")) == [.send("AUTH PLAIN \(plain)")])
        #expect(session.received(Self.reply(235, "2.7.0 authenticated")) == [.send("MAIL FROM:<board@pier.example>")])
    }

    @Test("AUTH LOGIN when the server offers only that: the user name, then the password, each in base64")
    func login() throws {
        var session = try Self.session("smtps://mailer:pw@mail.example.com")
        _ = session.received(Self.reply(220))
        #expect(session.received(Self.reply(250, "mail", "AUTH LOGIN")) == [.send("AUTH LOGIN")])
        #expect(session.received(Self.reply(334, "VXNlcm5hbWU6")) == [.send(SMTPSession.base64("mailer"))])
        #expect(session.received(Self.reply(334, "UGFzc3dvcmQ6")) == [.send(SMTPSession.base64("pw"))])
        #expect(session.received(Self.reply(235)) == [.send("MAIL FROM:<board@pier.example>")])
    }

    @Test("smtp+starttls:// does not go on in plaintext when the server offers no STARTTLS")
    func startTLSMissing() throws {
        var session = try Self.session("smtp+starttls://u:p@mail.example.com")
        _ = session.received(Self.reply(220))
        let actions = session.received(Self.reply(250, "mail", "AUTH PLAIN"))
        #expect(actions.last == .send("QUIT"))
        let failure = try #require(Self.failure(in: actions))
        #expect(failure.stage == .startTLS)
        #expect(!failure.isPermanent)
        #expect(
            !actions.contains { if case .send(let line) = $0 { return line.hasPrefix("AUTH") } else { return false } })
    }

    @Test("no AUTH mechanism that Pier speaks is a failure, not a send without authentication")
    func noMechanism() throws {
        var session = try Self.session("smtps://u:p@mail.example.com")
        _ = session.received(Self.reply(220))
        let failure = try #require(Self.failure(in: session.received(Self.reply(250, "mail", "AUTH CRAM-MD5"))))
        #expect(failure.stage == .authentication)
    }

    @Test(
        "4xx replies are retried, 5xx replies are dead letters; each failure names its stage",
        arguments: [
            (1, 451, SMTPFailure.Stage.sender, false), (1, 550, .sender, true), (2, 452, .recipient, false),
            (2, 550, .recipient, true), (3, 554, .data, true), (4, 451, .data, false), (4, 552, .data, true),
        ])
    func failures(step: Int, code: Int, stage: SMTPFailure.Stage, permanent: Bool) throws {
        var session = try Self.session("smtp://relay.internal")
        _ = session.received(Self.reply(220))
        let happy = [Self.reply(250), Self.reply(250), Self.reply(250), Self.reply(354)]
        for index in 0..<step { _ = session.received(happy[index]) }
        let actions = session.received(Self.reply(code, "no"))
        let failure = try #require(Self.failure(in: actions))
        #expect(failure.stage == stage)
        #expect(failure.isPermanent == permanent)
        #expect(failure.reply?.code == code)
        #expect(actions.last == .send("QUIT"))
        if stage == .recipient { #expect(failure.detail.contains("pic@example.com")) }
    }

    @Test("a refused EHLO falls back to HELO; a refused greeting ends the connection")
    func helloFallbackAndGreeting() throws {
        var session = try Self.session("smtp://relay.internal")
        _ = session.received(Self.reply(220))
        #expect(session.received(Self.reply(502, "command not implemented")) == [.send("HELO pier.test")])
        #expect(session.received(Self.reply(250)) == [.send("MAIL FROM:<board@pier.example>")])

        var refused = try Self.session("smtp://relay.internal")
        let actions = refused.received(Self.reply(554, "no service"))
        #expect(actions.last == .close)
        #expect(Self.failure(in: actions)?.isPermanent == true)
        #expect(Self.failure(in: actions)?.stage == .greeting)
    }

    @Test("the connection ending before the message was taken is a failure to retry, at the stage it happened")
    func connectionEnds() throws {
        var session = try Self.session("smtp://relay.internal")
        _ = session.received(Self.reply(220))
        _ = session.received(Self.reply(250))
        let failure = try #require(Self.failure(in: session.connectionEnded("reset by peer")))
        #expect(failure.stage == .sender)
        #expect(!failure.isPermanent)
        #expect(failure.detail == "reset by peer")
    }

    @Test("reply framing: multi-line replies, lines split across reads, CRLF or LF, and malformed input")
    func framing() throws {
        var framer = SMTPLineFramer(maximumLength: 64)
        var parser = SMTPReplyParser()
        framer.append(Array("250-mail.example.com\r\n250-SIZE 10".utf8))
        #expect(try parser.take(try #require(try framer.nextLine())) == nil)
        #expect(try framer.nextLine() == nil)
        #expect(framer.hasPendingBytes)
        framer.append(Array("00\n250 STARTTLS\r\n".utf8))
        #expect(try parser.take(try #require(try framer.nextLine())) == nil)
        let reply = try parser.take(try #require(try framer.nextLine()))
        #expect(reply == SMTPReply(code: 250, lines: ["mail.example.com", "SIZE 1000", "STARTTLS"]))
        #expect(!framer.hasPendingBytes)
        #expect(try parser.take("220") == SMTPReply(code: 220, lines: [""]))

        #expect(throws: SMTPProtocolError.self) { try parser.take("hello") }
        #expect(throws: SMTPProtocolError.self) { try parser.take("25x ok") }
        #expect(throws: SMTPProtocolError.self) { try parser.take("250+ok") }
        var mixed = SMTPReplyParser()
        _ = try mixed.take("250-first")
        #expect(throws: SMTPProtocolError.self) { try mixed.take("251 second") }
        framer.append(Array(repeating: UInt8(ascii: "a"), count: 65))
        #expect(throws: SMTPProtocolError.self) { try framer.nextLine() }
    }
}
