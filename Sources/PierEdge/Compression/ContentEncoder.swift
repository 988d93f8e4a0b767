import CBrotli
import CompressNIO
import NIOCore

/// A content coding the edge can produce (RFC 9110 §8.4.1).
enum ContentCodingName: String, Sendable, CaseIterable {
    case br
    case zstd
    case gzip

    /// Server preference when the client rates several alike: the best ratio first.
    static let preference: [ContentCodingName] = [.br, .zstd, .gzip]

    /// Whether this process can produce the coding (zstd needs `libzstd.so.1` at run time).
    var isAvailable: Bool { self != .zstd || ZstdLibrary.shared != nil }
}

/// How hard to compress: answers compressed once and kept (static files) take the slow, small settings; answers
/// compressed while they pass take the fast ones (nginx's `gzip_comp_level 6` for gzip).
enum CompressionEffort: Sendable {
    case streaming
    case once

    func level(_ coding: ContentCodingName) -> Int32 {
        switch (self, coding) {
        case (.streaming, .gzip): 6
        case (.streaming, .br): 4
        case (.streaming, .zstd): 3
        case (.once, .gzip): 9
        case (.once, .br): 11
        case (.once, .zstd): 19
        }
    }
}

/// The codec failed (out of memory, or an internal error of the library).
struct CompressionError: Error, CustomStringConvertible {
    var description: String
}

/// A streaming compressor for one body: bytes in, compressed bytes out, then the end of the stream.
///
/// Used on one event loop (or one thread-pool task) at a time.
final class ContentEncoder {
    let coding: ContentCodingName
    private var backend: Backend

    private enum Backend {
        case gzip(ZlibCompressor)
        case brotli(OpaquePointer)
        case zstd(ZstdLibrary.Stream)
    }

    /// - Parameter sizeHint: the body's length when known (Brotli sizes its window from it).
    init(_ coding: ContentCodingName, effort: CompressionEffort, sizeHint: Int? = nil) throws {
        self.coding = coding
        let level = effort.level(coding)
        switch coding {
        case .gzip:
            do {
                backend = .gzip(
                    try ZlibCompressor(
                        algorithm: .gzip,
                        configuration: ZlibConfiguration(
                            windowSize: 15, compressionLevel: level, memoryLevel: 8, strategy: .default)))
            } catch {
                throw CompressionError(description: "zlib: \(error)")
            }
        case .br:
            guard let state = BrotliEncoderCreateInstance(nil, nil, nil) else {
                throw CompressionError(description: "brotli: cannot create an encoder")
            }
            BrotliEncoderSetParameter(state, BROTLI_PARAM_QUALITY, UInt32(level))
            if let sizeHint {
                BrotliEncoderSetParameter(state, BROTLI_PARAM_SIZE_HINT, UInt32(clamping: sizeHint))
            }
            backend = .brotli(state)
        case .zstd:
            guard let library = ZstdLibrary.shared, let stream = library.makeStream(level: level, size: sizeHint) else {
                throw CompressionError(description: "zstd: libzstd.so.1 is not available")
            }
            backend = .zstd(stream)
        }
    }

    deinit {
        if case .brotli(let state) = backend { BrotliEncoderDestroyInstance(state) }
    }

    /// Compresses `input` (all of it); what the codec has ready is appended to `output`.
    func compress(_ input: ByteBuffer, into output: inout ByteBuffer) throws {
        var input = input
        switch backend {
        case .gzip(let zlib):
            while input.readableBytes > 0 {
                output.reserveCapacity(minimumWritableBytes: max(4096, zlib.maxSize(from: input)))
                let before = input.readableBytes
                do {
                    try zlib.deflate(from: &input, to: &output, flush: .no)
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    continue
                } catch {
                    throw CompressionError(description: "zlib: \(error)")
                }
                if input.readableBytes == before && output.writableBytes > 0 { break }
            }
        case .brotli(let state):
            try Self.brotli(state, operation: BROTLI_OPERATION_PROCESS, input: input, into: &output)
        case .zstd(let stream):
            try stream.compress(input, end: false, into: &output)
        }
    }

    /// Ends the stream: the last compressed bytes are appended to `output`.
    func finish(into output: inout ByteBuffer) throws {
        switch backend {
        case .gzip(let zlib):
            var empty = ByteBuffer()
            for _ in 0..<1024 {
                output.reserveCapacity(minimumWritableBytes: 16384)
                do {
                    try zlib.deflate(from: &empty, to: &output, flush: .finish)
                    return
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    continue
                } catch {
                    throw CompressionError(description: "zlib: \(error)")
                }
            }
            throw CompressionError(description: "zlib: the stream does not end")
        case .brotli(let state):
            try Self.brotli(state, operation: BROTLI_OPERATION_FINISH, input: ByteBuffer(), into: &output)
        case .zstd(let stream):
            try stream.compress(ByteBuffer(), end: true, into: &output)
        }
    }

    /// A whole body compressed at once.
    static func compress(_ body: ByteBuffer, _ coding: ContentCodingName, effort: CompressionEffort) throws
        -> ByteBuffer
    {
        let encoder = try ContentEncoder(coding, effort: effort, sizeHint: body.readableBytes)
        var output = ByteBufferAllocator().buffer(capacity: body.readableBytes / 3 + 64)
        try encoder.compress(body, into: &output)
        try encoder.finish(into: &output)
        return output
    }

    private static func brotli(
        _ state: OpaquePointer, operation: BrotliEncoderOperation, input: ByteBuffer, into output: inout ByteBuffer
    ) throws {
        try input.withUnsafeReadableBytes { source in
            var availableIn = source.count
            var nextIn = source.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var empty: UInt8 = 0
            try withUnsafePointer(to: &empty) { emptyPointer in
                if nextIn == nil { nextIn = emptyPointer }
                while true {
                    let finishing = operation == BROTLI_OPERATION_FINISH
                    if availableIn == 0 && BrotliEncoderHasMoreOutput(state) == 0
                        && (!finishing || BrotliEncoderIsFinished(state) != 0)
                    {
                        return
                    }
                    var ok: Int32 = 1
                    output.writeWithUnsafeMutableBytes(minimumWritableBytes: 16384) { target in
                        var availableOut = target.count
                        var nextOut = target.baseAddress?.assumingMemoryBound(to: UInt8.self)
                        ok = BrotliEncoderCompressStream(
                            state, operation, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                        return target.count - availableOut
                    }
                    if ok == 0 { throw CompressionError(description: "brotli: the encoder failed") }
                }
            }
        }
    }
}
