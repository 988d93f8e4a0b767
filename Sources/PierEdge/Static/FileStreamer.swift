import NIOCore
import NIOPosix

/// Sends ranges of an open file as buffers read on the thread pool, for connections that cannot hand the kernel a
/// file (`sendfile` does not pass through TLS or HTTP/2 framing). One chunk is read while the previous one is
/// written, never more, so memory stays flat whatever the file's size and however slowly the client reads.
enum FileStreamer {
    static let chunkBytes = 128 * 1024

    /// Streams `file` (ranges, with their multipart framing) through `write`, whose future completes when the
    /// bytes have gone out; the handle is closed at the end. The future fails when reading or writing does.
    static func stream(
        _ handle: NIOFileHandle, file: FileBody, fileIO: NonBlockingFileIO, eventLoop: any EventLoop,
        allocator: ByteBufferAllocator, write: @escaping (ByteBuffer) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        var pieces: [Piece] = []
        for (index, range) in file.ranges.enumerated() {
            if let partHead = file.multipart?.partHeads[index] { pieces.append(.bytes(partHead)) }
            pieces.append(.range(range))
        }
        if let closing = file.multipart?.closing { pieces.append(.bytes(closing)) }
        let done = next(
            pieces[...], handle: handle, fileIO: fileIO, eventLoop: eventLoop, allocator: allocator, write: write)
        done.whenComplete { _ in try? handle.close() }
        return done
    }

    private enum Piece {
        case bytes(ByteBuffer)
        case range(Range<Int>)
    }

    private static func next(
        _ pieces: ArraySlice<Piece>, handle: NIOFileHandle, fileIO: NonBlockingFileIO, eventLoop: any EventLoop,
        allocator: ByteBufferAllocator, write: @escaping (ByteBuffer) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<Void> {
        guard let piece = pieces.first else { return eventLoop.makeSucceededVoidFuture() }
        let rest = pieces.dropFirst()
        let sent: EventLoopFuture<Void>
        switch piece {
        case .bytes(let bytes):
            sent = write(bytes)
        case .range(let range):
            // Chunks arrive on `eventLoop`, where the writer lives.
            let writer = NIOLoopBound(write, eventLoop: eventLoop)
            sent = fileIO.readChunked(
                fileHandle: handle, fromOffset: Int64(range.lowerBound), byteCount: range.count, chunkSize: chunkBytes,
                allocator: allocator, eventLoop: eventLoop, chunkHandler: { writer.value($0) })
        }
        return sent.assumeIsolated().flatMap {
            next(rest, handle: handle, fileIO: fileIO, eventLoop: eventLoop, allocator: allocator, write: write)
        }.nonisolated()
    }
}
