import NIOCore
import NIOHTTP2

/// Turns a connection (after ALPN chose `h2`, or after the h2c preface) into an HTTP/2 server connection: NIOHTTP2
/// with the configured SETTINGS and its flood defences, one ``HTTP2StreamHandler`` per stream, and
/// ``HTTP2ConnectionLifecycle`` for graceful GOAWAY and the idle timeout.
enum HTTP2Connection {
    static func configure(
        _ channel: any Channel, source: EdgeRuntimeSource, traits: ConnectionTraits
    ) throws {
        let runtime = source.current
        var counted = traits
        counted.loopIndex = runtime.durations.index(of: channel.eventLoop)
        let traits = counted
        let limits = runtime.config.limits.http2
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHeaderListBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: limits.initialWindowBytes),
            HTTP2Setting(parameter: .maxFrameSize, value: limits.maxFrameBytes),
            // No server push; WebSocket over HTTP/2 (RFC 8441) is not offered.
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        // Header blocks are checked by ``HTTP2StreamHandler`` as it converts them (RFC 9113 §8.2-8.3), in one pass
        // with the conversion; the answers' blocks are the edge's own, lowercase and well formed.
        connection.headerBlockValidation = .disabled
        // The defences are NIOHTTP2's (rapid reset CVE-2023-44487: 200 resets per 30 s; CONTINUATION floods; empty
        // DATA frames; buffered control frames for SETTINGS and PING floods; glitches); their defaults are kept.
        connection.targetWindowSize = max(limits.initialWindowBytes, 65535)
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = limits.initialWindowBytes
        stream.outboundBufferSizeHighWatermark = 64 * 1024
        stream.outboundBufferSizeLowWatermark = 32 * 1024
        let remoteAddress = channel.remoteAddress?.ipAddress ?? "-"
        // One date cache for the connection's streams, all on its event loop.
        let dates = NIOLoopBound(DateHeaderCache(), eventLoop: channel.eventLoop)
        let sync = channel.pipeline.syncOperations
        let lifecycle = HTTP2ConnectionLifecycle(idleTimeout: runtime.idleTimeout)
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream,
            streamDelegate: HTTP2ConnectionLifecycle.StreamCounter(
                lifecycle: NIOLoopBound(lifecycle, eventLoop: channel.eventLoop))
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                try streamChannel.pipeline.syncOperations.addHandler(
                    HTTP2StreamHandler(
                        source: source, traits: traits, remoteAddress: remoteAddress, dates: dates.value))
            }
        }
        try sync.addHandler(lifecycle)
    }
}

/// The connection-level life of an HTTP/2 connection: on shutdown (and after the idle timeout with no stream
/// open) it sends GOAWAY naming the last stream it accepted, lets the open streams finish, then closes (RFC 9113
/// §6.8).
final class HTTP2ConnectionLifecycle: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var goingAway = false
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(idleTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    /// Tells the lifecycle of streams opening and closing (NIOHTTP2 calls it on the connection's event loop).
    struct StreamCounter: NIOHTTP2StreamDelegate {
        let lifecycle: NIOLoopBound<HTTP2ConnectionLifecycle>

        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
            lifecycle.value.streamCreated(id)
        }

        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
            lifecycle.value.streamClosed()
        }
    }

    func streamCreated(_ id: HTTP2StreamID) {
        openStreams += 1
        if id > lastStreamID { lastStreamID = id }
        timer?.cancel()
        timer = nil
    }

    func streamClosed() {
        openStreams -= 1
        guard openStreams == 0 else { return }
        if goingAway {
            closeAfterWrites()
        } else {
            armIdleTimer()
        }
    }

    /// A stream closes when its last frame is written, which may not have been flushed yet: flush, and close
    /// once that has gone out.
    private func closeAfterWrites() {
        guard let context else { return }
        context.flush()
        context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is EdgeShouldCloseEvent {
            goAway()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func armIdleTimer() {
        guard let context else { return }
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [weak self] in
            self?.timer = nil
            self?.goAway()
        }
    }

    /// GOAWAY with the last stream accepted: the client opens no more, the ones it has finish.
    private func goAway() {
        guard !goingAway, let context else { return }
        goingAway = true
        let frame = HTTP2Frame(
            streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        if openStreams == 0 { closeAfterWrites() }
    }
}
