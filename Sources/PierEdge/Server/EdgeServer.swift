import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PierCore
import ServiceLifecycle
import Synchronization

/// The edge server: accepts connections on every configured address and serves them with ``HTTP1Connection``.
///
/// A `Service`: `run()` binds, serves until graceful shutdown, then stops accepting, lets in-flight exchanges finish
/// for up to `shutdown_timeout`, and closes what is left.
public final class EdgeServer: Service, Sendable {
    public let source: EdgeRuntimeSource
    private let group: any EventLoopGroup
    private let logger: Logger
    private let connections: ConnectionRegistry
    /// One answering order per event loop, shared by every listener of the server.
    private let orders: ServiceOrder.PerLoop
    private let listening: EventLoopPromise<[SocketAddress]>
    /// The TLS side of each listener of `listen` (`nil` for plain ones), in the same order.
    public let tls: [TLSListenerContext?]

    public convenience init(
        runtime: EdgeRuntime, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) throws {
        try self.init(source: EdgeRuntimeSource(runtime), group: group, logger: logger)
    }

    /// A server whose configuration can be replaced while it runs (see ``EdgeReloader``). Throws when a TLS
    /// listener's certificate cannot be used (the error names the file).
    ///
    /// - Parameter managedCertificates: ACME certificates already stored, served on `tls.acme` listeners from the
    ///   start.
    public init(
        source: EdgeRuntimeSource, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        managedCertificates: [(name: String, certificate: TLSCertificate)] = []
    ) throws {
        let runtime = source.current
        self.tls = try runtime.config.listen.map { listen in
            try listen.tls.map { tls in
                try TLSListenerContext(config: tls, http2: listen.http2, managed: tls.acme ? managedCertificates : [])
            }
        }
        self.source = source
        self.group = group
        self.logger = logger
        self.connections = ConnectionRegistry(limit: runtime.config.limits.maxConnections)
        self.orders = ServiceOrder.PerLoop(group: group)
        self.listening = group.next().makePromise(of: [SocketAddress].self)
    }

    /// The addresses actually bound (useful with port 0), once listening.
    public func boundAddresses() async throws -> [SocketAddress] {
        try await listening.futureResult.get()
    }

    /// The number of open client connections.
    public var openConnections: Int { connections.count }

    /// The runtime in force.
    public var runtime: EdgeRuntime { source.current }

    public func run() async throws {
        let runtime = source.current
        var channels: [any Channel] = []
        let httpsPort = ConnectionSetup.HTTPSPort()
        do {
            for (index, listen) in runtime.config.listen.enumerated() {
                let setup = ConnectionSetup(
                    source: source, orders: orders, tls: tls[index], http2: listen.http2,
                    redirectHTTPSPort: listen.redirectHTTPS ? httpsPort : nil)
                channels.append(try await bind(listen.address, setup: setup))
            }
            // Where redirect_https sends clients: the first TLS listener as bound (443 when there is none, as
            // behind another TLS terminator).
            if let index = runtime.config.listen.firstIndex(where: { $0.tls != nil }),
                let port = channels[index].localAddress?.port
            {
                httpsPort.set(port)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            listening.fail(error)
            throw error
        }
        let addresses = channels.compactMap(\.localAddress)
        listening.succeed(addresses)
        logger.info(
            "edge listening",
            metadata: [
                "pier.addresses": "\(addresses.map { "\($0)" }.joined(separator: ", "))",
                "pier.routes": "\(runtime.config.routes.count)",
            ]
        )

        // Serve until a graceful shutdown (or cancellation) is requested.
        try? await gracefulShutdown()

        logger.info("edge shutting down", metadata: ["pier.connections": "\(connections.count)"])
        for channel in channels { try? await channel.close() }
        let drained = connections.closeGracefully()
        let finished = await Self.wait(
            for: drained, atMost: TimeAmount(source.current.config.shutdownTimeout), on: group.next())
        if !finished {
            logger.warning(
                "closing connections still open after shutdown_timeout",
                metadata: ["pier.connections": "\(connections.count)"])
            await connections.closeAll()
        }
        source.current.accessLog?.flush()
        logger.info("edge stopped")
    }

    /// Whether `future` completed within `timeout`; never waits longer, even if the future never completes.
    static func wait(for future: EventLoopFuture<Void>, atMost timeout: TimeAmount, on loop: any EventLoop) async
        -> Bool
    {
        let outcome = loop.makePromise(of: Bool.self)
        let settled = NIOLockedValueBox(false)
        @Sendable func settle(_ value: Bool) {
            let first = settled.withLockedValue { done in
                defer { done = true }
                return !done
            }
            if first { outcome.succeed(value) }
        }
        let timer = loop.scheduleTask(in: timeout) { settle(false) }
        future.whenComplete { _ in
            timer.cancel()
            settle(true)
        }
        return (try? await outcome.futureResult.get()) ?? false
    }

    private func bind(_ address: SocketAddressSpec, setup: ConnectionSetup) async throws -> any Channel {
        let connections = self.connections
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // The connection's options are set here, synchronously, rather than as child channel options, which
            // cost a chain of futures for every accepted connection.
            .childChannelInitializer { channel in
                guard connections.admit(channel) else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let options = channel.syncOptions {
                        try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
                        try options.setOption(.allowRemoteHalfClosure, value: true)
                        try options.setOption(.maxMessagesPerRead, value: 4)
                        // Each connection keeps its receive buffer between reads; request heads are small, so it
                        // starts small (it grows for bodies): most of an idle keep-alive connection's memory.
                        try options.setOption(
                            .recvAllocator,
                            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
                    }
                    try setup.configure(channel)
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}

/// Tracks open client connections to enforce `max_connections` and to close them on shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var drained: EventLoopPromise<Void>?
    }

    private let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = limit
    }

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Registers a new connection, or refuses it when the limit is reached.
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLockedValue { state in
            guard state.channels.count < limit else { return false }
            state.channels[id] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            let drained: EventLoopPromise<Void>? = state.withLockedValue { state in
                state.channels[id] = nil
                return state.channels.isEmpty ? state.drained : nil
            }
            drained?.succeed()
        }
        return true
    }

    /// Asks every connection to close after its current exchange; the future completes when all are closed.
    func closeGracefully() -> EventLoopFuture<Void> {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let channels = state.withLockedValue { state in
            state.drained = promise
            return Array(state.channels.values)
        }
        if channels.isEmpty {
            promise.succeed()
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(EdgeShouldCloseEvent())
        }
        return promise.futureResult
    }

    /// Closes every connection now.
    func closeAll() async {
        let channels = state.withLockedValue { Array($0.channels.values) }
        for channel in channels { try? await channel.close() }
    }
}
