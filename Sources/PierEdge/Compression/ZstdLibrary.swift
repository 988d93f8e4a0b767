import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Zstandard (RFC 8878) from the system's `libzstd.so.1`, loaded when first needed.
///
/// Debian installs the library everywhere (dpkg needs it) but its headers only with `libzstd-dev`, which a machine
/// that just builds Swift lacks; so the edge links nothing at build time and looks the few functions it calls up
/// at run time. Without the library `zstd` is simply not offered (see docs/decisions.md).
final class ZstdLibrary: @unchecked Sendable {
    // The stable part of the zstd API (zstd.h, v1.4+): context, parameter, streaming compression, errors.
    private typealias CreateContext = @convention(c) () -> OpaquePointer?
    private typealias FreeContext = @convention(c) (OpaquePointer?) -> Int
    private typealias SetParameter = @convention(c) (OpaquePointer?, Int32, Int32) -> Int
    private typealias CompressStream =
        @convention(c) (
            OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer, Int32
        ) -> Int
    private typealias IsError = @convention(c) (Int) -> UInt32
    private typealias SetPledgedSize = @convention(c) (OpaquePointer?, UInt64) -> Int

    private let createContext: CreateContext
    private let freeContext: FreeContext
    private let setParameter: SetParameter
    private let compressStream: CompressStream
    private let isError: IsError
    private let setPledgedSize: SetPledgedSize

    /// `ZSTD_c_compressionLevel`.
    private static let compressionLevel: Int32 = 100
    /// `ZSTD_e_continue`, `ZSTD_e_end`.
    private static let continueOperation: Int32 = 0
    private static let endOperation: Int32 = 2

    /// The library, or `nil` when this machine has none.
    static let shared: ZstdLibrary? = ZstdLibrary()

    private init?() {
        guard let handle = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard let create = symbol("ZSTD_createCCtx", as: CreateContext.self),
            let free = symbol("ZSTD_freeCCtx", as: FreeContext.self),
            let set = symbol("ZSTD_CCtx_setParameter", as: SetParameter.self),
            let stream = symbol("ZSTD_compressStream2", as: CompressStream.self),
            let error = symbol("ZSTD_isError", as: IsError.self),
            let pledge = symbol("ZSTD_CCtx_setPledgedSrcSize", as: SetPledgedSize.self)
        else {
            dlclose(handle)
            return nil
        }
        createContext = create
        freeContext = free
        setParameter = set
        compressStream = stream
        isError = error
        setPledgedSize = pledge
    }

    /// A compression stream at `level` (at most 19, whose window of 8 MiB is the most browsers decode, RFC 8878
    /// §3.1.1.1.2), or `nil` when the library refuses one. A known `size` lets zstd size its tables to the input.
    func makeStream(level: Int32, size: Int?) -> Stream? {
        guard let context = createContext() else { return nil }
        guard isError(setParameter(context, Self.compressionLevel, min(level, 19))) == 0,
            size.map({ isError(setPledgedSize(context, UInt64($0))) == 0 }) ?? true
        else {
            _ = freeContext(context)
            return nil
        }
        return Stream(library: self, context: context)
    }

    /// One compression stream.
    final class Stream {
        private let library: ZstdLibrary
        private let context: OpaquePointer
        /// `ZSTD_inBuffer` and `ZSTD_outBuffer`: a pointer and two `size_t`s each, laid out as C does.
        private let inBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        private let outBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)

        fileprivate init(library: ZstdLibrary, context: OpaquePointer) {
            self.library = library
            self.context = context
        }

        deinit {
            _ = library.freeContext(context)
            inBuffer.deallocate()
            outBuffer.deallocate()
        }

        /// Compresses `input`; with `end`, also ends the frame.
        func compress(_ input: ByteBuffer, end: Bool, into output: inout ByteBuffer) throws {
            try input.withUnsafeReadableBytes { source in
                var empty: UInt8 = 0
                try withUnsafeMutablePointer(to: &empty) { emptyPointer in
                    inBuffer[0] = Int(bitPattern: source.baseAddress ?? UnsafeRawPointer(emptyPointer))
                    inBuffer[1] = source.count
                    inBuffer[2] = 0
                    while true {
                        var remaining = 0
                        output.writeWithUnsafeMutableBytes(minimumWritableBytes: 16384) { target in
                            outBuffer[0] = Int(bitPattern: target.baseAddress)
                            outBuffer[1] = target.count
                            outBuffer[2] = 0
                            remaining = library.compressStream(
                                context, UnsafeMutableRawPointer(outBuffer), UnsafeMutableRawPointer(inBuffer),
                                end ? ZstdLibrary.endOperation : ZstdLibrary.continueOperation)
                            return library.isError(remaining) != 0 ? 0 : outBuffer[2]
                        }
                        if library.isError(remaining) != 0 {
                            throw CompressionError(description: "zstd: compression failed")
                        }
                        let consumed = inBuffer[2] == inBuffer[1]
                        if end ? remaining == 0 : consumed { return }
                    }
                }
            }
        }
    }
}
