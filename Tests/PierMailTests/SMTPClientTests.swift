import Foundation
import NIOCore
import NIOPosix
import PierTesting
import Testing

@testable import PierMail

/// The client against a real SMTP server (aiosmtpd, started per test on 127.0.0.1), the received message parsed by
/// Python's `email` package.
@Suite("SMTP client against aiosmtpd")
struct SMTPClientTests {
    static func message(to address: String = "minji@example.com") -> MailMessage {
        MailMessage(
            from: MailAddress("board@pier.example", name: "Pier 보드"),
            to: [MailAddress(address, name: "김민지")],
            subject: "‘분기 보고서’ 작업이 배정되었습니다 — 마감 12월 9일",
            text: "김민지 님, 새 작업이 배정되었습니다.\n.점으로 시작하는 줄\nhttps://pier.example/boards/b1?task=t1\n",
            html: "<p>김민지 님, <a href=\"https://pier.example/boards/b1?task=t1\">새 작업</a>이 배정되었습니다.</p>",
            messageID: "n-\(UUID().uuidString.lowercased())@pier.example", language: "ko")
    }

    /// A CA, a certificate for `localhost` issued by it, and the CA's PEM file, written under `directory`.
    static func certificates(under directory: String) throws -> (certificate: String, key: String, authority: String) {
        let authority = try TestCertificateAuthority()
        let (certificate, key) = try authority.write(["localhost"], as: "smtp", under: directory)
        return (certificate, key, try authority.writeAuthority(under: directory))
    }

    static func client(_ url: String, trustRoots: String? = nil, replyTimeout: Duration = .seconds(10)) throws
        -> SMTPClient
    {
        SMTPClient(
            endpoint: try SMTPEndpoint.parse(url), trustRoots: trustRoots, helloName: "pier.test",
            replyTimeout: replyTimeout)
    }

    @Test("plain relay: the message arrives whole, headers decoded, both parts, the Message-ID kept")
    func plainDelivery() async throws {
        try await SMTPTestServer.with { server in
            let message = Self.message()
            let result = try await Self.client("smtp://127.0.0.1:\(server.port)").send(message)
            guard case .delivered(let reply) = result else {
                Issue.record("not delivered: \(result)")
                return
            }
            #expect(reply.code == 250)
            #expect(reply.description.contains("queued as"))
            let received = try server.received()
            try #require(received.count == 1)
            let mail = received[0]
            #expect(mail.mailFrom == "board@pier.example")
            #expect(mail.rcptTos == ["minji@example.com"])
            #expect(!mail.tls)
            #expect(mail.defects.isEmpty, "\(mail.defects)")
            #expect(mail.longestLine <= 78)
            #expect(!mail.bareLf)
            #expect(mail.headers["Subject"] == message.subject)
            #expect(mail.headers["From"] == "Pier 보드 <board@pier.example>")
            #expect(mail.headers["To"] == "김민지 <minji@example.com>")
            #expect(mail.headers["Message-ID"] == "<\(message.messageID)>")
            #expect(mail.headers["Content-Language"] == "ko")
            #expect(mail.parts.map(\.type) == ["text/plain", "text/html"])
            #expect(mail.parts.map(\.charset) == ["utf-8", "utf-8"])
            #expect(mail.parts.first?.content == message.text)
            #expect(mail.parts.last?.content == message.html)
        }
    }

    @Test("STARTTLS with the certificate verified against the configured CA, then AUTH PLAIN")
    func startTLSWithPlain() async throws {
        try await TemporaryDirectory.with { directory in
            let tls = try Self.certificates(under: directory)
            let options = [
                "--cert", tls.certificate, "--key", tls.key, "--require-starttls", "--auth", "mailer:s3cret:pw",
            ]
            try await SMTPTestServer.with(options) { server in
                let client = try Self.client(
                    "smtp+starttls://mailer:s3cret%3Apw@localhost:\(server.port)", trustRoots: tls.authority)
                let result = await client.send(Self.message())
                #expect(result.isDelivered, "\(result)")
                let received = try server.received()
                #expect(received.map(\.tls) == [true])
                #expect(received.map(\.authenticatedAs) == ["mailer"])
            }
        }
    }

    @Test("AUTH LOGIN when it is the only mechanism offered")
    func authLogin() async throws {
        try await TemporaryDirectory.with { directory in
            let tls = try Self.certificates(under: directory)
            let options = ["--cert", tls.certificate, "--key", tls.key, "--auth", "mailer:pw", "--mechanisms", "LOGIN"]
            try await SMTPTestServer.with(options) { server in
                let client = try Self.client(
                    "smtp+starttls://mailer:pw@localhost:\(server.port)", trustRoots: tls.authority)
                let result = await client.send(Self.message())
                #expect(result.isDelivered, "\(result)")
                #expect(try server.received().map(\.authenticatedAs) == ["mailer"])
            }
        }
    }

    @Test("implicit TLS (smtps://)")
    func implicitTLS() async throws {
        try await TemporaryDirectory.with { directory in
            let tls = try Self.certificates(under: directory)
            try await SMTPTestServer.with(["--cert", tls.certificate, "--key", tls.key, "--implicit-tls"]) { server in
                let client = try Self.client("smtps://localhost:\(server.port)", trustRoots: tls.authority)
                let result = await client.send(Self.message())
                #expect(result.isDelivered, "\(result)")
                #expect(try server.received().map(\.tls) == [true])
            }
        }
    }

    @Test("a certificate from a CA that is not trusted stops the delivery before anything is sent; it is retried later")
    func untrustedCertificate() async throws {
        try await TemporaryDirectory.with { directory in
            let tls = try Self.certificates(under: directory)
            let stranger = try TestCertificateAuthority(name: "Someone else")
            let strangerFile = directory + "/stranger.pem"
            try stranger.pem.write(toFile: strangerFile, atomically: true, encoding: .utf8)
            try await SMTPTestServer.with(["--cert", tls.certificate, "--key", tls.key, "--auth", "mailer:pw"]) {
                server in
                let client = try Self.client(
                    "smtp+starttls://mailer:pw@localhost:\(server.port)", trustRoots: strangerFile)
                let failure = try #require(await client.send(Self.message()).failure)
                #expect(failure.stage == .tls, "\(failure)")
                #expect(!failure.isPermanent)
                #expect(try server.received().isEmpty)
            }
        }
    }

    @Test("smtp+starttls:// to a server without STARTTLS sends nothing")
    func noStartTLS() async throws {
        try await SMTPTestServer.with(["--no-starttls"]) { server in
            let failure = try #require(
                await Self.client("smtp+starttls://localhost:\(server.port)").send(Self.message()).failure)
            #expect(failure.stage == .startTLS, "\(failure)")
            #expect(try server.received().isEmpty)
        }
    }

    @Test("wrong credentials are a 535, a dead letter")
    func wrongPassword() async throws {
        try await TemporaryDirectory.with { directory in
            let tls = try Self.certificates(under: directory)
            try await SMTPTestServer.with(["--cert", tls.certificate, "--key", tls.key, "--auth", "mailer:right"]) {
                server in
                let client = try Self.client(
                    "smtp+starttls://mailer:wrong@localhost:\(server.port)", trustRoots: tls.authority)
                let failure = try #require(await client.send(Self.message()).failure)
                #expect(failure.stage == .authentication)
                #expect(failure.reply?.code == 535)
                #expect(failure.isPermanent)
                #expect(!failure.description.contains("wrong"))
            }
        }
    }

    @Test("a 451 is retried and the same message then goes through; a refused recipient (550) is a dead letter")
    func temporaryThenPermanent() async throws {
        try await SMTPTestServer.with(["--fail-first", "1", "--refuse", "nobody@example.com"]) { server in
            let client = try Self.client("smtp://127.0.0.1:\(server.port)")
            let message = Self.message()
            let first = try #require(await client.send(message).failure)
            #expect(first.reply?.code == 451)
            #expect(first.stage == .data)
            #expect(!first.isPermanent)
            #expect(await client.send(message).isDelivered)
            let received = try server.received()
            #expect(received.map(\.attempt) == [2])
            #expect(received.first?.headers["Message-ID"] == "<\(message.messageID)>")

            let refused = try #require(await client.send(Self.message(to: "nobody@example.com")).failure)
            #expect(refused.stage == .recipient)
            #expect(refused.reply?.code == 550)
            #expect(refused.isPermanent)
            #expect(refused.detail.contains("nobody@example.com"))
        }
    }

    @Test("nothing listening, and a server that never answers: failures to retry, within the reply timeout")
    func unreachableAndSilent() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let silentPort = try #require(silent.localAddress?.port)
        let closed = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let closedPort = try #require(closed.localAddress?.port)
        try await closed.close()

        let refused = try #require(await Self.client("smtp://127.0.0.1:\(closedPort)").send(Self.message()).failure)
        #expect(refused.stage == .connect)
        #expect(!refused.isPermanent)

        let started = ContinuousClock.now
        let client = try Self.client("smtp://127.0.0.1:\(silentPort)", replyTimeout: .milliseconds(500))
        let timedOut = try #require(await client.send(Self.message()).failure)
        #expect(timedOut.stage == .timeout, "\(timedOut)")
        #expect(!timedOut.isPermanent)
        #expect(ContinuousClock.now - started < .seconds(20))
        try await silent.close()
    }

    @Test("a message with a bad address is refused before connecting")
    func badMessage() async throws {
        var message = Self.message()
        message.to = [MailAddress("a@b.example>\r\nRCPT TO:<c@d.example")]
        let failure = try #require(await Self.client("smtp://127.0.0.1:1").send(message).failure)
        #expect(failure.stage == .message)
        #expect(failure.isPermanent)
    }

    @Test("plaintext sent after the server's 220 to STARTTLS (command injection) ends the conversation")
    func startTLSInjection() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InjectingServer())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let failure = try #require(await Self.client("smtp+starttls://localhost:\(port)").send(Self.message()).failure)
        #expect(failure.detail.contains("after its 220 to STARTTLS"), "\(failure)")
        #expect(!failure.isPermanent)
        try await server.close()
    }
}

/// Says 220, offers STARTTLS, and answers STARTTLS with a 220 followed at once by a forged reply.
final class InjectingServer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var received = ""

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "220 fake ESMTP\r\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readString(length: buffer.readableBytes) ?? ""
        while let end = received.range(of: "\r\n") {
            let line = String(received[..<end.lowerBound])
            received = String(received[end.upperBound...])
            let answer =
                line.hasPrefix("EHLO")
                ? "250-fake\r\n250 STARTTLS\r\n"
                : line == "STARTTLS" ? "220 go ahead\r\n250 injected\r\n" : "502 no\r\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        }
    }
}

extension SMTPDeliveryResult {
    var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    var failure: SMTPFailure? {
        if case .failed(let failure) = self { return failure }
        return nil
    }
}
