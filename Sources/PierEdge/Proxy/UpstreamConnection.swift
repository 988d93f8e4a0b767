import NIOCore

/// Receives what an upstream connection produces while it serves an exchange. Called on the connection's event
/// loop, which is always the client connection's loop too.
protocol UpstreamConnectionOwner: AnyObject {
    func upstream(_ connection: UpstreamConnection, event: HTTP1ResponseParser.Event)
    /// Bytes after a 101 (Switching Protocols) response: the connection is a plain byte stream now.
    func upstream(_ connection: UpstreamConnection, tunnelled bytes: ByteBuffer)
    func upstreamReadComplete(_ connection: UpstreamConnection)
    func upstreamWritabilityChanged(_ connection: UpstreamConnection)
    /// The connection failed or closed before the exchange ended: `error` says how.
    func upstream(_ connection: UpstreamConnection, failed error: HTTPParseError?)
}

/// One keep-alive connection to an upstream target: parses its responses and hands them to the exchange that
/// owns it, and holds reads back while that exchange's client cannot take more (back-pressure).
final class UpstreamConnection: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let target: UpstreamTarget
    private(set) var context: ChannelHandlerContext?
    weak var owner: (any UpstreamConnectionOwner)?
    var parser = HTTP1ResponseParser()
    /// The method of the request in flight (a HEAD response has no body).
    var requestMethod = "GET"
    var pending: ByteBuffer?
    /// After a 101 response: bytes are passed through unparsed.
    var tunnelled = false
    var readsPaused = false
    private(set) var isOpen = true
    /// The upstream closed its side (or the connection failed); bytes may still wait in `pending`.
    private var inputEnded = false
    /// Requests this connection has carried.
    var uses = 0
    /// When it went back to the idle pool.
    var idleSince = NIODeadline.now()

    private static let empty = ByteBuffer()

    init(target: UpstreamTarget) {
        self.target = target
    }

    var channel: (any Channel)? { context?.channel }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: - Writing

    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func close() {
        owner = nil
        pending = nil
        guard isOpen else { return }
        isOpen = false
        context?.close(promise: nil)
    }

    // MARK: - Reading

    /// Stops reading from the upstream (auto-read off) until ``resumeReads()``.
    func pauseReads() {
        guard !readsPaused else { return }
        readsPaused = true
        try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    func resumeReads() {
        guard readsPaused else { return }
        readsPaused = false
        deliver()
        if !readsPaused { try? context?.channel.syncOptions?.setOption(.autoRead, value: true) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard owner != nil else {
            // An idle connection has nothing to say; anything it sends makes it unusable.
            close()
            return
        }
        if tunnelled && pending == nil {
            owner?.upstream(self, tunnelled: bytes)
            return
        }
        if var buffered = pending.take(), buffered.readableBytes > 0 {
            buffered.writeBuffer(&bytes)
            pending = buffered
        } else {
            pending = bytes
        }
        deliver()
    }

    /// Hands parsed events to the owner until it pauses reads or more bytes are needed.
    func deliver() {
        while !readsPaused, let owner {
            if tunnelled {
                if let buffer = pending.take(), buffer.readableBytes > 0 { owner.upstream(self, tunnelled: buffer) }
                break
            }
            // The parser is asked even without new bytes: it may owe the `.end` of a body just completed.
            var buffer = pending ?? Self.empty
            let event: HTTP1ResponseParser.Event?
            do {
                event = try parser.next(&buffer, requestMethod: requestMethod)
            } catch {
                pending = nil
                fail(error)
                return
            }
            pending = buffer.readableBytes > 0 ? buffer : nil
            guard let event else {
                if case .switched = parser.state {
                    tunnelled = true
                    continue
                }
                break
            }
            owner.upstream(self, event: event)
            if case .end = event { break }
        }
        if !readsPaused, pending == nil { finishAfterInputEnded() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamReadComplete(self)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        owner?.upstreamWritabilityChanged(self)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            connectionEnded()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionEnded()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connectionEnded()
    }

    private func connectionEnded() {
        guard !inputEnded else { return }
        inputEnded = true
        isOpen = false
        target.connectionClosed(self)
        finishAfterInputEnded()
    }

    /// Once the upstream stopped sending and every byte it sent was delivered: ends a close-delimited body, or
    /// tells the owner the response was cut short.
    private func finishAfterInputEnded() {
        guard inputEnded, pending == nil || tunnelled else { return }
        defer { context?.close(promise: nil) }
        guard let owner else { return }
        if !tunnelled, let event = parser.connectionClosed() {
            owner.upstream(self, event: event)
        } else {
            self.owner = nil
            owner.upstream(self, failed: nil)
        }
    }

    private func fail(_ error: HTTPParseError) {
        let owner = self.owner
        close()
        owner?.upstream(self, failed: error)
    }
}
