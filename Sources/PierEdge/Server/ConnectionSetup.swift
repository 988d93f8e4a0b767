import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// How a listener's accepted connections are set up: plain HTTP/1.1, h2c with prior knowledge, or TLS with ALPN
/// choosing HTTP/2 or HTTP/1.1.
struct ConnectionSetup: Sendable {
    let source: EdgeRuntimeSource
    let orders: ServiceOrder.PerLoop
    let tls: TLSListenerContext?
    let http2: Bool
    /// On a `redirect_https` listener: where the TLS listener is, known once it is bound.
    let redirectHTTPSPort: HTTPSPort?

    /// The port `redirect_https` sends clients to; set after binding, since a configured port 0 is chosen then.
    final class HTTPSPort: Sendable {
        private let port = Atomic<Int>(443)
        var value: Int { port.load(ordering: .relaxed) }
        func set(_ value: Int) { port.store(value, ordering: .relaxed) }
    }

    func configure(_ channel: any Channel) throws {
        let sync = channel.pipeline.syncOperations
        if let tls {
            guard let context = tls.current else { throw NoCertificateYet() }
            try sync.addHandler(NIOSSLServerHandler(context: context))
            try sync.addHandler(TLSProtocolDispatcher(setup: self))
        } else if http2 {
            try sync.addHandler(HTTP2PriorKnowledgeDetector(setup: self))
        } else {
            try configureHTTP1(channel, traits: ConnectionTraits(redirectHTTPSPort: redirectHTTPSPort?.value))
        }
    }

    func configureHTTP1(_ channel: any Channel, traits: ConnectionTraits) throws {
        var traits = traits
        traits.loopIndex = source.current.durations.index(of: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(
            HTTP1Connection(source: source, serviceOrder: orders.order(for: channel.eventLoop), traits: traits))
    }
}

/// An `acme: true` listener before its first certificate: the connection is closed unanswered.
struct NoCertificateYet: Error {}

/// After the TLS handshake: HTTP/2 when ALPN chose `h2`, HTTP/1.1 otherwise. A client that never finishes the
/// handshake is closed after the header timeout.
final class TLSProtocolDispatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let setup: ConnectionSetup
    private var timer: Scheduled<Void>?

    init(setup: ConnectionSetup) {
        self.setup = setup
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: setup.source.current.headerTimeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tlsEvent else {
            if event is EdgeShouldCloseEvent {
                context.close(promise: nil)
                return
            }
            context.fireUserInboundEventTriggered(event)
            return
        }
        timer?.cancel()
        timer = nil
        let version: StaticString? =
            switch try? context.pipeline.syncOperations.nioSSL_tlsVersion() {
            case .tlsv13: "TLSv1.3"
            case .tlsv12: "TLSv1.2"
            default: "TLS"
            }
        let traits = ConnectionTraits(scheme: "https", tlsVersion: version, alpn: negotiated)
        do {
            if negotiated == "h2" && setup.http2 {
                try HTTP2Connection.configure(context.channel, source: setup.source, traits: traits)
            } else {
                try setup.configureHTTP1(context.channel, traits: traits)
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }
}

/// On a plain listener with `http2: true`: the HTTP/2 connection preface (RFC 9113 §3.4) means h2c with prior
/// knowledge; anything else is HTTP/1.1. No `Upgrade: h2c`.
final class HTTP2PriorKnowledgeDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let setup: ConnectionSetup
    private var buffered: ByteBuffer?

    init(setup: ConnectionSetup) {
        self.setup = setup
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var earlier = buffered.take() {
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        let seen = min(bytes.readableBytes, Self.preface.count)
        let prefix = bytes.getBytes(at: bytes.readerIndex, length: seen) ?? []
        guard prefix == Array(Self.preface[..<seen]) else {
            switchTo(http2: false, context: context, bytes: bytes)
            return
        }
        if seen < Self.preface.count {
            buffered = bytes
            return
        }
        switchTo(http2: true, context: context, bytes: bytes)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is EdgeShouldCloseEvent && buffered == nil {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func switchTo(http2: Bool, context: ChannelHandlerContext, bytes: ByteBuffer) {
        do {
            if http2 {
                try HTTP2Connection.configure(context.channel, source: setup.source, traits: .plain)
            } else {
                try setup.configureHTTP1(
                    context.channel, traits: ConnectionTraits(redirectHTTPSPort: setup.redirectHTTPSPort?.value))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        // The bytes read so far go to the protocol's handlers, then this one steps out of the way.
        context.fireChannelRead(wrapInboundOut(bytes))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
