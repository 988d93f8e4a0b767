import NIOCore

/// Where an exchange's answer goes: each protocol implements it (``HTTP1Connection`` writes HTTP/1.1 bytes; the
/// HTTP/2 stream handler writes frames). The pipeline's stages answer only through it, so they exist once for every
/// protocol.
///
/// Called on the exchange's event loop. Every answer ends in exactly one of ``respond(_:_:body:)``,
/// ``respondCachedFile(_:_:contents:)``, ``respondFile(_:_:file:)``, ``endResponse(_:)`` or ``abort(_:)``, after
/// which the protocol finishes the exchange (logs it, and reads the next request or closes).
protocol EdgeResponseSink: AnyObject {
    var allocator: ByteBufferAllocator { get }
    var eventLoop: any EventLoop { get }
    /// Whether the client takes more bytes now. When it does again after a pause, the sink tells the exchange's
    /// proxy (``ProxyExchange/clientBecameWritable()``).
    var isWritable: Bool { get }

    // MARK: Whole answers made by the edge

    /// A complete answer with an in-memory body (or none): `Content-Length` is set from the body unless the status
    /// has none.
    func respond(_ exchange: EdgeExchange, _ head: EdgeResponseHead, body: ByteBuffer?)
    /// The common static answer: `200 OK` with a whole file from memory under its pre-rendered head.
    func respondCachedFile(_ exchange: EdgeExchange, _ representation: StaticRepresentation, contents: ByteBuffer)
    /// A file answer: the head, then ranges of a file from memory or an open file on disk.
    func respondFile(_ exchange: EdgeExchange, _ head: EdgeResponseHead, file: FileBody)

    // MARK: Streamed answers (the proxy)

    /// `100 Continue`, sent at once.
    func sendContinue(_ exchange: EdgeExchange)
    /// Sends a proxied answer's head: the upstream's fields less the hop-by-hop ones, framed for this client.
    func startResponse(_ exchange: EdgeExchange, _ response: ProxiedResponseHead)
    func writeBody(_ exchange: EdgeExchange, _ bytes: ByteBuffer)
    func endResponse(_ exchange: EdgeExchange)
    /// The answer cannot be completed (the upstream failed mid-body): the client must learn it was cut short.
    func abort(_ exchange: EdgeExchange)
    /// After a `101` (HTTP/1.1 only): the connection becomes a byte stream between client and upstream. The bytes
    /// the client sent after its request head are returned, for the upstream.
    func startTunnel(_ exchange: EdgeExchange) -> ByteBuffer?
    /// The client closed its sending side (HTTP/1.1): a tunnel opened now would never hear from it again.
    var clientFinishedSending: Bool { get }
    func writeTunnel(_ exchange: EdgeExchange, _ bytes: ByteBuffer)

    // MARK: Flow

    /// Sends what was written, unless the protocol is about to (at the end of the read burst it is in).
    func flushSoon()
    /// The proxy now wants (or stops wanting) the request's body bytes: the protocol reconsiders reading.
    func requestDemandChanged(_ exchange: EdgeExchange)
    /// Calls ``ProxyExchange/timerFired(now:)`` no later than `deadline`.
    func armTimer(_ exchange: EdgeExchange, at deadline: NIODeadline)
}

/// The body of a file answer.
struct FileBody {
    /// In memory (cached) or on disk (an open handle the sink closes when done).
    enum Source {
        case memory(ByteBuffer)
        case disk(NIOFileHandle)
    }

    /// The framing of a multipart/byteranges body around the ranges.
    struct Multipart {
        var partHeads: [ByteBuffer]
        var closing: ByteBuffer
    }

    var source: Source
    var ranges: [Range<Int>]
    var multipart: Multipart?

    /// The number of body bytes, framing included.
    var length: Int {
        ranges.reduce(0) { $0 + $1.count }
            + (multipart.map { $0.partHeads.reduce($0.closing.readableBytes) { $0 + $1.readableBytes } } ?? 0)
    }
}

/// A proxied answer's head, with what the edge adds to it.
struct ProxiedResponseHead {
    var upstream: UpstreamResponseHead
    /// Fields the edge adds: CORS fields of the route for this request's origin, and those of compression
    /// (`Content-Encoding`, `Vary`, the weakened `ETag`).
    var cors: [(String, String)]
    /// Names (lowercased) of the upstream's fields left out: the route's configured fields, which replace the
    /// upstream's, and an `ETag` the edge weakened.
    var routeHeaderNames: [String]
    /// The protocols switched to, after a `101` for an upgrade the route allows.
    var switchedTo: String?
    /// No body follows (HEAD, 1xx, 204, 304).
    var bodyless: Bool
}
