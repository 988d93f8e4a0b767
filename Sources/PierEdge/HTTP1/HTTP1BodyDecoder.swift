import NIOCore

/// Reads one HTTP/1.1 message body (RFC 9112 §6–7): a fixed length, chunked (extensions and trailers are read and
/// dropped), or everything until the connection closes. Shared by the request and response parsers.
struct HTTP1BodyDecoder: Sendable, Hashable {
    enum Event: Sendable {
        case data(ByteBuffer)
        case end
    }

    /// What was wrong with the framing; each parser turns it into its own error.
    enum Problem: Error, Hashable {
        case invalidChunk(String)
        case tooLarge(limit: Int)
        case trailersTooLarge
        case bareLineFeed
    }

    enum State: Sendable, Hashable {
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(scanned: Int)
        case untilClose
        case done
    }

    var state: State
    let maxBodyBytes: Int
    let maxTrailerBytes: Int
    var bodyBytes = 0

    init(contentLength: Int) {
        self.state = contentLength > 0 ? .fixed(remaining: contentLength) : .done
        self.maxBodyBytes = .max
        self.maxTrailerBytes = 0
    }

    init(chunkedWithin maxBodyBytes: Int, maxTrailerBytes: Int) {
        self.state = .chunkSize
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// A body delimited by the end of the connection (responses only).
    static var untilClose: HTTP1BodyDecoder {
        var decoder = HTTP1BodyDecoder(contentLength: 0)
        decoder.state = .untilClose
        return decoder
    }

    /// Whether the connection closing now ends the body properly.
    var endsAtClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// Consumes bytes and returns body data, the end, or `nil` when more bytes are needed.
    mutating func next<Failure: Error>(
        _ buffer: inout ByteBuffer, error: (Problem) -> Failure
    ) throws(Failure) -> Event? {
        switch state {
        case .done:
            return .end
        case .fixed(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let length = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: length)!
            state = remaining - length == 0 ? .done : .fixed(remaining: remaining - length)
            return .data(slice)
        case .untilClose:
            guard buffer.readableBytes > 0 else { return nil }
            return .data(buffer.readSlice(length: buffer.readableBytes)!)
        case .chunkSize:
            return try parseChunkSize(&buffer, error: error)
        case .chunkData(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let length = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: length)!
            state = remaining - length == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - length)
            return .data(slice)
        case .chunkDataEnd:
            guard buffer.readableBytes >= 2 else { return nil }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw error(.invalidChunk("a chunk is not followed by CRLF"))
            }
            state = .chunkSize
            return try parseChunkSize(&buffer, error: error)
        case .trailers(let scanned):
            return try parseTrailers(&buffer, scanned: scanned, error: error)
        }
    }

    private mutating func parseChunkSize<Failure: Error>(
        _ buffer: inout ByteBuffer, error: (Problem) -> Failure
    ) throws(Failure) -> Event? {
        let line: Result<(size: Int, consumed: Int)?, Problem> = buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            var size = 0
            while index < bytes.count, let digit = HTTPToken.hexDigit(bytes[index]) {
                guard size <= (Int.max >> 4) else { return .failure(.invalidChunk("the chunk size is too large")) }
                size = size << 4 | Int(digit)
                index += 1
                if index > 16 { return .failure(.invalidChunk("the chunk size is too long")) }
            }
            if index == bytes.count { return .success(nil) }
            guard index > 0 else { return .failure(.invalidChunk("the chunk size is not hexadecimal")) }
            // After the digits only chunk extensions may follow (RFC 9112 §7.1.1):
            // *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). Anything else — `0x31`, `5g` — is
            // refused: read loosely, the size is the smuggling lever between two parsers that disagree on it.
            switch Self.scanExtensions(bytes, from: index) {
            case .incomplete: return .success(nil)
            case .malformed: return .failure(.invalidChunk("the chunk size line is malformed"))
            case .tooLong: return .failure(.invalidChunk("the chunk extension is too long"))
            case .end(let crIndex): index = crIndex
            }
            if index + 1 >= bytes.count { return .success(nil) }
            guard bytes[index + 1] == UInt8(ascii: "\n") else {
                return .failure(.invalidChunk("the chunk size line does not end with CRLF"))
            }
            return .success((size, index + 2))
        }
        let parsed: (size: Int, consumed: Int)?
        switch line {
        case .success(let value): parsed = value
        case .failure(let problem): throw error(problem)
        }
        guard let (size, consumed) = parsed else {
            if buffer.readableBytes > 4200 { throw error(.invalidChunk("the chunk size line is too long")) }
            return nil
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if size == 0 {
            state = .trailers(scanned: 0)
            return try parseTrailers(&buffer, scanned: 0, error: error)
        }
        if size > maxBodyBytes - bodyBytes { throw error(.tooLarge(limit: maxBodyBytes)) }
        bodyBytes += size
        state = .chunkData(remaining: size)
        return try next(&buffer, error: error)
    }

    enum ExtensionScan {
        case incomplete
        case malformed
        case tooLong
        /// The index of the CR that ends the line.
        case end(Int)
    }

    /// Checks the chunk extensions from `start` (just after the size) up to the line's CR.
    static func scanExtensions(_ bytes: UnsafeRawBufferPointer, from start: Int) -> ExtensionScan {
        var index = start
        func skipWhitespace() {
            while index < bytes.count && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t")) {
                index += 1
            }
        }
        func token() -> Bool {
            let begin = index
            while index < bytes.count && HTTPToken.isTokenByte(bytes[index]) { index += 1 }
            return index > begin
        }
        while true {
            if index - start > 4096 { return .tooLong }
            skipWhitespace()
            guard index < bytes.count else { return .incomplete }
            if bytes[index] == UInt8(ascii: "\r") { return .end(index) }
            guard bytes[index] == UInt8(ascii: ";") else { return .malformed }
            index += 1
            skipWhitespace()
            guard index < bytes.count else { return .incomplete }
            guard token() else { return index == bytes.count ? .incomplete : .malformed }
            guard index < bytes.count else { return .incomplete }
            skipWhitespace()
            guard index < bytes.count else { return .incomplete }
            guard bytes[index] == UInt8(ascii: "=") else { continue }
            index += 1
            skipWhitespace()
            guard index < bytes.count else { return .incomplete }
            if bytes[index] == UInt8(ascii: "\"") {
                // quoted-string: qdtext or quoted-pair, up to the closing quote.
                index += 1
                while true {
                    if index - start > 4096 { return .tooLong }
                    guard index < bytes.count else { return .incomplete }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") {
                        index += 1
                        break
                    }
                    if byte == UInt8(ascii: "\\") {
                        index += 1
                        guard index < bytes.count else { return .incomplete }
                        let escaped = bytes[index]
                        guard escaped == UInt8(ascii: "\t") || (escaped >= 0x20 && escaped != 0x7F) else {
                            return .malformed
                        }
                    } else if !(byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)) {
                        return .malformed
                    }
                    index += 1
                }
            } else if !token() {
                return index == bytes.count ? .incomplete : .malformed
            }
        }
    }

    private mutating func parseTrailers<Failure: Error>(
        _ buffer: inout ByteBuffer, scanned: Int, error: (Problem) -> Failure
    ) throws(Failure) -> Event? {
        // No trailers: just the final CRLF.
        if buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 2)
            state = .done
            return .end
        }
        // Trailer fields are read and dropped: they never change how a message is handled or forwarded.
        let search = HTTP1RequestParser.findHeadEnd(buffer, from: max(0, scanned - 3))
        guard let length = search.end else {
            if search.problem != nil { throw error(.bareLineFeed) }
            if buffer.readableBytes > maxTrailerBytes { throw error(.trailersTooLarge) }
            state = .trailers(scanned: buffer.readableBytes)
            return nil
        }
        if length > maxTrailerBytes { throw error(.trailersTooLarge) }
        // Dropped, but read as field lines all the same: a line that is not a field means the two ends disagree on
        // where the message ends.
        let wellFormed = buffer.withUnsafeReadableBytes { bytes in
            let section = UnsafeRawBufferPointer(rebasing: bytes[0..<length])
            if case .success = HTTP1RequestParser.parseFieldLines(section, from: 0, maxCount: 128) { return true }
            return false
        }
        guard wellFormed else { throw error(.invalidChunk("the trailer section holds a line that is not a field")) }
        buffer.moveReaderIndex(forwardBy: length)
        state = .done
        return .end
    }
}
