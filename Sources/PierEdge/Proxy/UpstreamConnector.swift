import NIOCore
import NIOPosix
import PierCore

/// The one way the edge opens a connection to an upstream target, for proxied exchanges and health checks alike:
/// on the given event loop (the client's, for exchanges), with the target's pre-resolved address when it is an IP
/// literal and name resolution otherwise, `TCP_NODELAY`, and half-closure allowed so a target that finishes sending
/// is told apart from one that failed.
enum UpstreamConnector {
    static func connect(
        to target: UpstreamTarget,
        on loop: any EventLoop,
        timeout: TimeAmount,
        handler: @escaping @Sendable () -> any ChannelHandler
    ) -> EventLoopFuture<any Channel> {
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler())
                }
            }
        if let address = target.socketAddress {
            return bootstrap.connect(to: address)
        }
        return bootstrap.connect(host: target.address.host, port: target.address.port)
    }
}
