import NIOCore

/// The HTTP/1.1 writer: answers go out as bytes, with the pre-rendered heads of cached files, `Content-Length` or
/// chunked framing, and the `Connection` field this client needs.
extension HTTP1Connection: EdgeResponseSink {
    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }
    var eventLoop: any EventLoop { context!.eventLoop }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Bodies up to this size are copied into the buffer of their head, so one write carries the whole answer;
    /// larger in-memory bodies go out as the cached buffer itself.
    static let maxCopiedBodyBytes = 16 * 1024

    // MARK: - Whole answers

    func respond(_ exchange: EdgeExchange, _ head: EdgeResponseHead, body: ByteBuffer?) {
        guard let context, !exchange.cancelled else { return }
        var head = head
        let length = body?.readableBytes ?? 0
        let connection = connectionField(exchange)
        if head.status != 304 && head.status != 204 { head.add("Content-Length", String(length)) }
        let sendBody = exchange.request.method != "HEAD" && head.status != 304 && head.status != 204
        exchange.status = head.status
        exchange.bodyBytes = sendBody ? length : 0
        var out = context.channel.allocator.buffer(
            capacity: 320 + (exchange.routeHeaders?.readableBytes ?? 0) + (sendBody && length <= 4096 ? length : 0))
        head.writeFields(into: &out)
        writeHeadEnd(exchange, into: &out, connection: connection)
        if sendBody, var body {
            if length <= Self.maxCopiedBodyBytes {
                out.writeBuffer(&body)
            } else {
                write(out)
                out = body
            }
        }
        complete(exchange, writing: out)
    }

    /// Answers `200 OK` with a whole in-memory file: the representation's cached head, the fields that change per
    /// request, and the bytes (copied into the same buffer when small, so one write carries the whole answer).
    func respondCachedFile(_ exchange: EdgeExchange, _ representation: StaticRepresentation, contents: ByteBuffer) {
        guard let context, !exchange.cancelled else { return }
        let connection = connectionField(exchange)
        let sendBody = exchange.request.method != "HEAD"
        exchange.status = 200
        exchange.bodyBytes = sendBody ? representation.size : 0
        let inline = sendBody && contents.readableBytes <= Self.maxCopiedBodyBytes
        var out = context.channel.allocator.buffer(
            capacity: representation.okHead.readableBytes + 160 + (exchange.routeHeaders?.readableBytes ?? 0)
                + (inline ? contents.readableBytes : 0))
        out.writeImmutableBuffer(representation.okHead)
        writeHeadEnd(exchange, into: &out, connection: connection)
        if inline {
            out.writeImmutableBuffer(contents)
        } else if sendBody {
            // Large cached bodies go out as the cached buffer itself: no copy per response.
            write(out)
            complete(exchange, writing: contents)
            return
        }
        complete(exchange, writing: out)
    }

    func respondFile(_ exchange: EdgeExchange, _ head: EdgeResponseHead, file: FileBody) {
        guard let context, !exchange.cancelled else {
            if case .disk(let handle) = file.source { try? handle.close() }
            return
        }
        var head = head
        let length = file.length
        let connection = connectionField(exchange)
        head.add("Content-Length", String(length))
        let sendBody = exchange.request.method != "HEAD"
        exchange.status = head.status
        exchange.bodyBytes = sendBody ? length : 0
        let inline: Bool
        if case .memory = file.source { inline = sendBody && length <= Self.maxCopiedBodyBytes } else { inline = false }
        var out = context.channel.allocator.buffer(capacity: 320 + (inline ? length + 256 : 0))
        head.writeFields(into: &out)
        writeHeadEnd(exchange, into: &out, connection: connection)
        guard sendBody else {
            if case .disk(let handle) = file.source { try? handle.close() }
            complete(exchange, writing: out)
            return
        }
        switch file.source {
        case .memory(let contents):
            if file.multipart == nil, file.ranges.count == 1, !inline {
                // Large cached bodies go out as a slice of the cached buffer: no copy per response.
                let range = file.ranges[0]
                write(out)
                complete(
                    exchange,
                    writing: contents.getSlice(at: contents.readerIndex + range.lowerBound, length: range.count)!)
                return
            }
            for (index, range) in file.ranges.enumerated() {
                if var partHead = file.multipart?.partHeads[index] { out.writeBuffer(&partHead) }
                var slice = contents.getSlice(at: contents.readerIndex + range.lowerBound, length: range.count)!
                out.writeBuffer(&slice)
            }
            if var closing = file.multipart?.closing { out.writeBuffer(&closing) }
            complete(exchange, writing: out)
        case .disk(let handle) where traits.tlsVersion != nil:
            // sendfile cannot pass through TLS: the file is read on the thread pool, a chunk at a time.
            write(out)
            flushIfNeeded()
            let loop = context.eventLoop
            FileStreamer.stream(
                handle, file: file, fileIO: exchange.runtime.files.fileIO, eventLoop: loop,
                allocator: context.channel.allocator
            ) { [weak self] chunk in
                guard let self, let context = self.context, !self.closed else {
                    return loop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                let written = loop.makePromise(of: Void.self)
                context.writeAndFlush(self.wrapOutboundOut(.byteBuffer(chunk)), promise: written)
                return written.futureResult
            }.assumeIsolated().whenComplete { [weak self] result in
                guard let self else { return }
                switch result {
                case .success: self.responseCompleted(exchange)
                case .failure: self.abort(exchange)
                }
            }
        case .disk(let handle):
            write(out)
            for (index, range) in file.ranges.enumerated() {
                if let partHead = file.multipart?.partHeads[index] { write(partHead) }
                let region = FileRegion(fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound)
                context.write(wrapOutboundOut(.fileRegion(region)), promise: nil)
            }
            if let closing = file.multipart?.closing { write(closing) }
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(
                wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: done)
            done.futureResult.whenComplete { _ in try? handle.close() }
            responseCompleted(exchange)
        }
    }

    /// Settles whether the connection stays open after this answer (recorded in the exchange), and the
    /// `Connection` field that says so when the client would not assume it.
    private func connectionField(_ exchange: EdgeExchange) -> StaticString? {
        guard exchange.keepAlive && machine.mayKeepAlive else {
            exchange.keepAlive = false
            return "Connection: close\r\n"
        }
        return exchange.request.minorVersion == 0 ? "Connection: keep-alive\r\n" : nil
    }

    /// Ends a head with the route's fields and those that change per answer: `Date`, `X-Request-ID`, `Connection`,
    /// the blank line.
    private func writeHeadEnd(_ exchange: EdgeExchange, into out: inout ByteBuffer, connection: StaticString?) {
        if let routeHeaders = exchange.routeHeaders { out.writeImmutableBuffer(routeHeaders) }
        if let rateLimit = exchange.rateLimitState { out.writeHeaderLine("RateLimit: ", rateLimit) }
        if traits.tlsVersion != nil, let hsts = exchange.runtime.hstsLine { out.writeImmutableBuffer(hsts) }
        EdgeResponseHead.writeClosingFields(
            date: dates.current(epochSeconds: exchange.epochSeconds), requestID: exchange.requestID,
            connection: connection, into: &out)
    }

    private func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        needsFlush = true
    }

    /// Writes the last bytes of a whole answer and moves on.
    private func complete(_ exchange: EdgeExchange, writing buffer: ByteBuffer) {
        write(buffer)
        flushSoon()
        responseCompleted(exchange)
    }

    // MARK: - Streamed answers

    func sendContinue(_ exchange: EdgeExchange) {
        guard let context, !exchange.cancelled else { return }
        var interim = context.channel.allocator.buffer(capacity: 32)
        interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        write(interim)
        flushSoon()
    }

    /// Writes a proxied answer's head: hop-by-hop fields dropped, framing chosen for this client.
    func startResponse(_ exchange: EdgeExchange, _ response: ProxiedResponseHead) {
        guard let context, !exchange.cancelled else { return }
        let upstream = response.upstream
        let headers = upstream.headers
        let status = upstream.status
        var out = context.channel.allocator.buffer(
            capacity: headers.storage.readableBytes + 192 + (exchange.routeHeaders?.readableBytes ?? 0))
        out.writeString(EdgeResponseHead.statusLine(status))
        let options = ConnectionOptions(headers)
        let routeNames = response.routeHeaderNames
        for index in 0..<headers.count {
            if HopByHopFields.isHopByHop(headers, at: index, options: options) { continue }
            if headers.knownTag(at: index) == KnownHeader.contentLength.rawValue { continue }
            if !routeNames.isEmpty, routeNames.contains(where: { headers.nameEquals(index, $0) }) { continue }
            headers.writeField(at: index, into: &out)
        }
        if let routeHeaders = exchange.routeHeaders { out.writeImmutableBuffer(routeHeaders) }
        if let rateLimit = exchange.rateLimitState { out.writeHeaderLine("RateLimit: ", rateLimit) }
        if traits.tlsVersion != nil, let hsts = exchange.runtime.hstsLine { out.writeImmutableBuffer(hsts) }
        if !headers.contains(.requestID) { out.writeHeaderLine("X-Request-ID: ", exchange.requestID) }
        for (name, value) in response.cors { out.writeString("\(name): \(value)\r\n") }

        var keepAlive = exchange.keepAlive && machine.mayKeepAlive
        chunkedAnswer = false
        if let protocols = response.switchedTo {
            out.writeStaticString("Connection: upgrade\r\n")
            out.writeHeaderLine("Upgrade: ", protocols)
        } else {
            if response.bodyless {
                if exchange.request.method == "HEAD" || status == 304, let length = upstream.contentLength {
                    out.writeHeaderLine("Content-Length: ", String(length))
                }
            } else if let length = upstream.contentLength {
                out.writeHeaderLine("Content-Length: ", String(length))
            } else if exchange.request.minorVersion >= 1 {
                out.writeStaticString("Transfer-Encoding: chunked\r\n")
                chunkedAnswer = true
            } else {
                // An HTTP/1.0 client learns where the body ends by the connection closing.
                keepAlive = false
            }
            if !keepAlive {
                out.writeStaticString("Connection: close\r\n")
            } else if exchange.request.minorVersion == 0 {
                out.writeStaticString("Connection: keep-alive\r\n")
            }
        }
        exchange.keepAlive = keepAlive
        out.writeStaticString("\r\n")
        exchange.status = status
        write(out)
    }

    func writeBody(_ exchange: EdgeExchange, _ bytes: ByteBuffer) {
        guard let context, !exchange.cancelled else { return }
        if chunkedAnswer {
            ProxyExchange.writeChunk(bytes, allocator: context.channel.allocator) { piece in write(piece) }
        } else {
            write(bytes)
        }
    }

    func endResponse(_ exchange: EdgeExchange) {
        guard let context, !exchange.cancelled else { return }
        if chunkedAnswer {
            chunkedAnswer = false
            var last = context.channel.allocator.buffer(capacity: 5)
            last.writeStaticString("0\r\n\r\n")
            write(last)
        }
        flushSoon()
        responseCompleted(exchange)
    }

    func abort(_ exchange: EdgeExchange) {
        exchange.keepAlive = false
        finishExchange()
        closeNow()
    }

    func startTunnel(_ exchange: EdgeExchange) -> ByteBuffer? {
        machine.enterTunnel()
    }

    /// Whether the client closed its sending side before its upgrade was answered: its end of the tunnel would never
    /// report anything again.
    var clientFinishedSending: Bool { machine.inputClosed }

    func writeTunnel(_ exchange: EdgeExchange, _ bytes: ByteBuffer) {
        guard !exchange.cancelled else { return }
        write(bytes)
    }

    // MARK: - Flow

    func flushSoon() {
        guard !inReadBurst else {
            needsFlush = true
            return
        }
        flushIfNeeded()
    }

    func flushIfNeeded() {
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
    }

    func requestDemandChanged(_ exchange: EdgeExchange) {
        guard exchange === self.exchange, !closed else { return }
        resumeReadingIfAllowed()
        if exchange.proxy?.isTunnel != true { drain() }
    }

    func armTimer(_ exchange: EdgeExchange, at deadline: NIODeadline) {
        guard exchange === self.exchange else { return }
        scheduleIfEarlier(deadline)
    }
}
