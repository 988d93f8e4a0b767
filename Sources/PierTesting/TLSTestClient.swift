import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A TLS client connection for tests that must keep one connection open across a change on the server (a
/// certificate reload): sends bytes, returns what comes back, and tells which certificate the server showed.
public final class TLSTestClient: Sendable {
    private let channel: any Channel
    private let stream: AsyncStream<ByteBuffer>
    /// The DER bytes of the certificate the server presented in the handshake.
    public let serverCertificate: [UInt8]

    private init(channel: any Channel, stream: AsyncStream<ByteBuffer>, serverCertificate: [UInt8]) {
        self.channel = channel
        self.stream = stream
        self.serverCertificate = serverCertificate
    }

    /// Connects to 127.0.0.1:`port` with SNI `serverName`, trusting only the CA in `caPEMFile`.
    public static func connect(port: Int, serverName: String, caPEMFile: String, alpn: [String] = ["http/1.1"])
        async throws -> TLSTestClient
    {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caPEMFile)
        configuration.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: configuration)
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let handshake = loop.makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(
                        Collector(continuation: continuation, handshake: handshake))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        try await handshake.futureResult.get()
        let certificate = try await channel.nioSSL_peerCertificate().get()
        return TLSTestClient(
            channel: channel, stream: stream, serverCertificate: (try? certificate?.toDERBytes()) ?? [])
    }

    /// Sends `request` and reads until `until` appears in what came back (or the connection closes).
    public func exchange(_ request: String, until marker: String) async throws -> String {
        try await channel.writeAndFlush(ByteBuffer(string: request))
        return try await withTimeout(.seconds(10)) {
            var text = ""
            for await var piece in self.stream {
                text += piece.readString(length: piece.readableBytes) ?? ""
                if text.contains(marker) { break }
            }
            return text
        }
    }

    public func close() async {
        try? await channel.close()
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<ByteBuffer>.Continuation
        let handshake: EventLoopPromise<Void>

        init(continuation: AsyncStream<ByteBuffer>.Continuation, handshake: EventLoopPromise<Void>) {
            self.continuation = continuation
            self.handshake = handshake
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted = event { handshake.succeed() }
            context.fireUserInboundEventTriggered(event)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            handshake.fail(ChannelError.ioOnClosedChannel)
            continuation.finish()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            handshake.fail(error)
            context.close(promise: nil)
        }
    }
}
