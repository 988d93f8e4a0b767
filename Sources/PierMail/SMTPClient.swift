import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Sends mail to one SMTP server: a connection per message, the conversation run by `SMTPSession` on the connection's
/// event loop. TLS (implicit or by STARTTLS) verifies the server's certificate against `trustRoots` (the system's
/// store by default) and its name against the endpoint's host. It never throws: every outcome, including a server
/// that cannot be reached, is an `SMTPDeliveryResult`.
public struct SMTPClient: Sendable {
    public var endpoint: SMTPEndpoint
    /// A PEM file of the certificate authorities to trust instead of the system's.
    public var trustRoots: String?
    /// The name given in EHLO: this machine's name by default.
    public var helloName: String
    /// How long to wait for each reply (and for the connection to open).
    public var replyTimeout: Duration
    public var logger: Logger
    let group: any EventLoopGroup

    public init(
        endpoint: SMTPEndpoint, trustRoots: String? = nil, helloName: String? = nil,
        replyTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "pier.mail"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.endpoint = endpoint
        self.trustRoots = trustRoots
        self.helloName = helloName ?? Self.machineName()
        self.replyTimeout = replyTimeout
        self.logger = logger
        self.group = group
    }

    /// Reads the trust store now, so that a bad `trustRoots` file is an error at start rather than at the first
    /// message.
    public func makeTLSContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        configuration.minimumTLSVersion = .tlsv12
        if let trustRoots {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustRoots))
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Sends `message` to its recipients.
    public func send(_ message: MailMessage) async -> SMTPDeliveryResult {
        if let problem = message.problem {
            return .failed(SMTPFailure(stage: .message, detail: problem, isPermanent: true))
        }
        let tls: NIOSSLContext?
        do {
            tls = endpoint.security == .none ? nil : try makeTLSContext()
        } catch {
            return .failed(
                SMTPFailure(stage: .tls, detail: "the trust store could not be read: \(error)", isPermanent: false))
        }
        let session = SMTPSession(
            endpoint: endpoint, helloName: helloName, sender: message.from.address,
            recipients: message.to.map(\.address), message: message.rendered())
        let loop = group.next()
        let outcome = loop.makePromise(of: SMTPDeliveryResult.self)
        let serverName = Self.isIPAddress(endpoint.host) ? nil : endpoint.host
        let implicitTLS = endpoint.security == .implicitTLS
        let timeout = TimeAmount.nanoseconds(
            Int64(replyTimeout.components.seconds) * 1_000_000_000
                + replyTimeout.components.attoseconds / 1_000_000_000)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = SMTPClientHandler(
                        session: session, tls: tls, serverName: serverName, replyTimeout: timeout, outcome: outcome)
                    if implicitTLS, let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        do {
            _ = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            outcome.succeed(
                .failed(
                    SMTPFailure(
                        stage: .connect, detail: "could not connect to \(endpoint.host):\(endpoint.port): \(error)",
                        isPermanent: false)))
        }
        let result =
            (try? await outcome.futureResult.get())
            ?? .failed(
                SMTPFailure(stage: .connect, detail: "the connection ended without an outcome", isPermanent: false))
        switch result {
        case .delivered(let reply):
            logger.debug(
                "mail delivered", metadata: ["pier.mail.server": "\(endpoint)", "pier.mail.reply": "\(reply)"])
        case .failed(let failure):
            logger.debug(
                "mail not delivered", metadata: ["pier.mail.server": "\(endpoint)", "pier.mail.failure": "\(failure)"])
        }
        return result
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    static func machineName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let safe = name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        return name.isEmpty || !safe ? "localhost" : name
    }
}

/// Runs an `SMTPSession` on a connection: frames the server's lines into replies, writes commands, adds TLS on
/// STARTTLS, and times out a silent server.
final class SMTPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SMTPSession
    private var framer = SMTPLineFramer()
    private var parser = SMTPReplyParser()
    private let tls: NIOSSLContext?
    private let serverName: String?
    private let replyTimeout: TimeAmount
    private let outcome: EventLoopPromise<SMTPDeliveryResult>
    private var reported = false
    private var connected = false
    private var timer: Scheduled<Void>?

    init(
        session: SMTPSession, tls: NIOSSLContext?, serverName: String?, replyTimeout: TimeAmount,
        outcome: EventLoopPromise<SMTPDeliveryResult>
    ) {
        self.session = session
        self.tls = tls
        self.serverName = serverName
        self.replyTimeout = replyTimeout
        self.outcome = outcome
    }

    func channelActive(context: ChannelHandlerContext) {
        connected = true
        armTimer(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        framer.append(bytes.readableBytesView)
        do {
            while !session.isDone, let line = try framer.nextLine() {
                guard let reply = try parser.take(line) else { continue }
                perform(session.received(reply), context: context)
            }
        } catch {
            perform(session.connectionEnded("the server broke the protocol: \(error)"), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            perform(session.tlsEstablished(), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let stage =
            error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError ? SMTPFailure.Stage.tls : nil
        perform(session.connectionEnded("\(error)", stage: stage), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if connected { perform(session.connectionEnded("the server closed the connection"), context: context) }
        context.fireChannelInactive()
    }

    private func perform(_ actions: [SMTPSession.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let command):
                armTimer(context: context)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: command + "\r\n")), promise: nil)
            case .sendMessage(let message):
                armTimer(context: context)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: message)), promise: nil)
            case .startTLS:
                guard !framer.hasPendingBytes else {
                    perform(
                        session.connectionEnded("the server sent more after its 220 to STARTTLS, before TLS"),
                        context: context)
                    return
                }
                do {
                    guard let tls else { throw SMTPProtocolError("no TLS configuration") }
                    let handler = try NIOSSLClientHandler(context: tls, serverHostname: serverName)
                    try context.pipeline.syncOperations.addHandler(handler, position: .first)
                    armTimer(context: context)
                } catch {
                    perform(session.connectionEnded("TLS could not start: \(error)", stage: .tls), context: context)
                }
            case .report(let result):
                if !reported {
                    reported = true
                    outcome.succeed(result)
                }
            case .close:
                timer?.cancel()
                context.close(promise: nil)
            }
        }
    }

    private func armTimer(context: ChannelHandlerContext) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: replyTimeout) {
            let (handler, context) = loopBound.value
            handler.perform(
                handler.session.connectionEnded(
                    "no answer from the server within \(handler.replyTimeout)", stage: .timeout),
                context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        // A connection that never opened is reported by `send`, with the reason it did not.
        if connected && !reported {
            reported = true
            outcome.succeed(
                .failed(SMTPFailure(stage: session.stage, detail: "the connection ended", isPermanent: false)))
        }
    }
}
