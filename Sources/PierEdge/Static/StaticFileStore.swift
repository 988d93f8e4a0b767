import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    // `struct stat` is also declared by CoreFoundation's and Dispatch's headers, and with MemberImportVisibility its
    // fields are found through whichever module the compiler loaded first: import all of them so any way is visible.
    #if canImport(CoreFoundation)
        import CoreFoundation
    #endif
    #if canImport(CDispatch)
        import CDispatch
    #endif
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One servable representation of a file: the file itself, or a precompressed sibling (`.br`, `.gz`).
///
/// Immutable and shared: every response for a cached file passes it down by reference.
public final class StaticRepresentation: Sendable {
    /// The absolute path of the bytes on disk.
    public let path: String
    public let size: Int
    /// A strong entity-tag derived from size, modification time and encoding.
    public let etag: String
    /// Modification time, seconds since 1970, as seen when cached.
    public let modifiedSeconds: Int
    /// `Content-Encoding`, or `nil` for the identity representation.
    public let contentEncoding: String?
    /// Compressed by the edge (not a precompressed file beside the original): served only where the route's
    /// `compress` is on.
    public let generated: Bool
    /// What identifies the file's version on disk: the edge keeps what it made from one version (contents and
    /// compressed forms) while the version stays.
    let stamp: FileStamp
    /// The bytes, for files small enough to keep in memory; `nil` means send from disk.
    public let contents: ByteBuffer?
    /// The start of a plain `200 OK` answer for this representation, every field that does not change per request
    /// (type, validators, caching, encoding, length), so the common answer copies it instead of rebuilding it.
    let okHead: ByteBuffer
    /// The same fields for HTTP/2 (lowercased names).
    let okFields: [(String, String)]

    init(
        path: String, size: Int, etag: String, modifiedSeconds: Int, contentEncoding: String?, contents: ByteBuffer?,
        metadata: (contentType: String, lastModified: String, cacheControl: String, varies: Bool),
        generated: Bool = false, stamp: FileStamp
    ) {
        self.generated = generated
        self.stamp = stamp
        self.path = path
        self.size = size
        self.etag = etag
        self.modifiedSeconds = modifiedSeconds
        self.contentEncoding = contentEncoding
        self.contents = contents
        var head = EdgeResponseHead.forFile(
            status: 200, contentType: metadata.contentType, lastModified: metadata.lastModified, etag: etag,
            cacheControl: metadata.cacheControl, contentEncoding: contentEncoding, varies: metadata.varies)
        head.add("Accept-Ranges", "bytes")
        head.add("Content-Length", String(size))
        var buffer = ByteBuffer()
        head.writeFields(into: &buffer)
        self.okHead = buffer
        self.okFields = head.fieldsForHTTP2
    }
}

extension EdgeResponseHead {
    /// The fields that describe a file representation, shared by the pre-rendered `200 OK` and every other answer
    /// for a file (conditional, range, CORS, fallback).
    static func forFile(
        status: Int, contentType: String, lastModified: String, etag: String, cacheControl: String,
        contentEncoding: String?, varies: Bool
    ) -> EdgeResponseHead {
        var head = EdgeResponseHead(status: status)
        head.add("Content-Type", contentType)
        head.add("Last-Modified", lastModified)
        head.add("ETag", etag)
        head.add("Cache-Control", cacheControl)
        if let contentEncoding { head.add("Content-Encoding", contentEncoding) }
        if varies { head.addVary("Accept-Encoding") }
        return head
    }
}

/// A file's version on disk: size, modification time to the nanosecond, inode.
struct FileStamp: Sendable, Hashable {
    var size: Int
    var seconds: Int
    var nanoseconds: Int
    var inode: UInt64

    init(_ info: stat) {
        size = Int(info.st_size)
        seconds = Int(info.st_mtim.tv_sec)
        nanoseconds = Int(info.st_mtim.tv_nsec)
        inode = UInt64(info.st_ino)
    }
}

/// A regular file in a static root, with everything needed to answer for it without touching the disk again.
///
/// Immutable and shared, like its representations.
public final class StaticFile: Sendable {
    public let identity: StaticRepresentation
    /// Compressed representations: precompressed siblings and those the edge made, in the order of preference
    /// (Brotli, Zstandard, gzip).
    public let encoded: [StaticRepresentation]
    /// Whether answers depend on `Accept-Encoding` (`Vary`): there are, or will be, compressed representations.
    let varies: Bool
    public let lastModified: String
    public let lastModifiedSeconds: Int
    public let contentType: String
    public let cacheControl: String

    init(
        identity: StaticRepresentation, encoded: [StaticRepresentation], lastModified: String,
        lastModifiedSeconds: Int, contentType: String, cacheControl: String, varies: Bool
    ) {
        self.identity = identity
        self.encoded = encoded
        self.varies = varies
        self.lastModified = lastModified
        self.lastModifiedSeconds = lastModifiedSeconds
        self.contentType = contentType
        self.cacheControl = cacheControl
    }

    /// Whether every representation is answered from memory, none from disk.
    var isInMemory: Bool {
        identity.contents != nil && encoded.allSatisfy { $0.contents != nil }
    }

    /// The codings the edge should make for this file: it is kept in memory, compresses well, is large enough, and
    /// has no precompressed file of that coding beside it.
    var missingCodings: [ContentCodingName] {
        guard identity.contents != nil, identity.size >= Compressibility.minimumBytes,
            Compressibility.isCompressible(contentType: contentType)
        else { return [] }
        return ContentCodingName.preference.filter { coding in
            coding.isAvailable && !encoded.contains { $0.contentEncoding == coding.rawValue }
        }
    }

    /// The same file with other compressed representations, kept in the order of preference.
    func with(encoded representations: [StaticRepresentation]) -> StaticFile {
        let order = ContentCodingName.preference.map(\.rawValue)
        let sorted = representations.sorted { first, second in
            (order.firstIndex(of: first.contentEncoding ?? "") ?? order.count)
                < (order.firstIndex(of: second.contentEncoding ?? "") ?? order.count)
        }
        return StaticFile(
            identity: identity, encoded: sorted, lastModified: lastModified, lastModifiedSeconds: lastModifiedSeconds,
            contentType: contentType, cacheControl: cacheControl, varies: varies || !sorted.isEmpty)
    }
}

/// What a path inside a static root turned out to be.
public enum StaticLookup: Sendable {
    case file(StaticFile)
    case directory
    case notFound
}

/// Resolves paths inside static roots and caches the results: metadata for every file, contents for small ones.
///
/// Lookups that hit an entry are answered on the calling event loop with no system call; misses are resolved on the
/// thread pool (`stat`, `realpath`, reads), so the event loop never blocks on disk. An entry older than
/// `revalidateAfter` is still answered from while one revalidation runs on the thread pool (stale while
/// revalidate): a change on disk is served once that check completes, a moment after the first request that finds
/// the entry old. Making every request wait for the disk whenever a hot entry aged out put all the connections of
/// that moment behind the thread pool at once, and showed in the latency tail.
public final class StaticFileStore: Sendable {
    struct Entry: Sendable {
        var lookup: StaticLookup
        var checkedAt: NIODeadline
        var bytes: Int
    }

    struct State: Sendable {
        var entries: [Key: Entry] = [:]
        var cachedBytes = 0
        /// Entries being revalidated now, so an old entry is checked once, not once per request.
        var revalidating: Set<Key> = []
    }

    private let state = NIOLockedValueBox(State())
    private let threadPool: NIOThreadPool
    /// Largest file kept in memory.
    public let maxCachedFileBytes: Int
    /// Memory budget for cached contents over all files.
    public let maxCachedBytes: Int
    /// Most entries kept (metadata and not-found answers included).
    public let maxEntries: Int
    public let revalidateAfter: TimeAmount
    /// Whether files kept in memory get compressed representations (Brotli, Zstandard, gzip), made once per
    /// version of the file on the thread pool.
    public let compress: Bool
    /// Reads file contents on the thread pool, for answers that cannot use `sendfile` (TLS, HTTP/2).
    var fileIO: NonBlockingFileIO { NonBlockingFileIO(threadPool: threadPool) }

    public init(
        threadPool: NIOThreadPool = .singleton,
        maxCachedFileBytes: Int = 256 * 1024,
        maxCachedBytes: Int = 64 * 1024 * 1024,
        maxEntries: Int = 10000,
        revalidateAfter: TimeAmount = .seconds(1),
        compress: Bool = true
    ) {
        self.compress = compress
        self.threadPool = threadPool
        self.maxCachedFileBytes = maxCachedFileBytes
        self.maxCachedBytes = maxCachedBytes
        self.maxEntries = maxEntries
        self.revalidateAfter = revalidateAfter
    }

    /// The cached answer for `relativePath` (starting with `/`) under `root`, or `nil` when it must be resolved.
    ///
    /// An answer older than `revalidateAfter` is returned too, and starts a revalidation on the thread pool unless
    /// one is running.
    public func cached(root: String, relativePath: String, now: NIODeadline, eventLoop: any EventLoop) -> StaticLookup?
    {
        let key = Key(root: root, path: relativePath)
        let (lookup, revalidate) = state.withLockedValue { state -> (StaticLookup?, Bool) in
            guard let entry = state.entries[key] else { return (nil, false) }
            guard now - entry.checkedAt >= revalidateAfter, !state.revalidating.contains(key) else {
                return (entry.lookup, false)
            }
            if case .file(let file) = entry.lookup, !file.isInMemory {
                // Sent from disk: an old entry for a replaced file would fail the check at open (503). Check first.
                return (nil, false)
            }
            state.revalidating.insert(key)
            return (entry.lookup, true)
        }
        if revalidate {
            resolve(root: root, relativePath: relativePath, eventLoop: eventLoop).whenFailure { [self] _ in
                // The pool is shutting down: let a later request try again.
                self.state.withLockedValue { _ = $0.revalidating.remove(key) }
            }
        }
        return lookup
    }

    /// A cache key; a pair rather than a concatenation, so a lookup allocates nothing, and roots stay apart even
    /// when one lies inside another.
    struct Key: Hashable, Sendable {
        var root: String
        var path: String
    }

    /// Resolves `relativePath` under `root` on the thread pool and caches the answer.
    ///
    /// A file that should have compressed representations the edge has not made yet is answered (and cached) at
    /// once without them; they are made by a second task on the thread pool and replace the entry when done, so no
    /// request waits for a compressor.
    public func resolve(root: String, relativePath: String, eventLoop: any EventLoop) -> EventLoopFuture<StaticLookup> {
        let key = Key(root: root, path: relativePath)
        let previous = state.withLockedValue { state -> StaticFile? in
            if case .file(let file) = state.entries[key]?.lookup { return file }
            return nil
        }
        return threadPool.runIfActive(eventLoop: eventLoop) { [self] in
            // Resolved on every miss, so a root that is a symlink (atomic deploys) can be switched.
            let realRoot = Self.realPath(root) ?? root
            let lookup = Self.resolveBlocking(
                root: root,
                realRoot: realRoot,
                relativePath: relativePath,
                maxContentBytes: self.maxCachedFileBytes,
                compress: self.compress,
                previous: previous
            )
            let stored = self.store(key: key, lookup: lookup)
            if self.compress, case .file(let file) = stored, !file.missingCodings.isEmpty {
                Self.compressionPool.submit { state in
                    guard state == .active else { return }
                    self.addCompressedRepresentations(key: key, file: file)
                }
            }
            return stored
        }
    }

    /// One thread of its own for the slow, once-per-version compression (Brotli 11, zstd 19), so that it never
    /// holds up the file lookups and reads of the shared pool, which answers wait for.
    private static let compressionPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Makes the representations `file` lacks and puts them into its entry, unless the entry moved on meanwhile.
    private func addCompressedRepresentations(key: Key, file: StaticFile) {
        guard let contents = file.identity.contents else { return }
        let identity = file.identity
        var made: [StaticRepresentation] = []
        for coding in file.missingCodings {
            guard let compressed = try? ContentEncoder.compress(contents, coding, effort: .once),
                compressed.readableBytes < contents.readableBytes
            else { continue }
            let tag = identity.etag.dropLast()
            made.append(
                StaticRepresentation(
                    path: identity.path, size: compressed.readableBytes, etag: "\(tag)-\(coding.rawValue)\"",
                    modifiedSeconds: identity.modifiedSeconds, contentEncoding: coding.rawValue, contents: compressed,
                    metadata: (file.contentType, file.lastModified, file.cacheControl, varies: true), generated: true,
                    stamp: identity.stamp))
        }
        let updated = file.with(encoded: file.encoded + made)
        let bytes = updated.identity.contents.map { _ in Self.bytes(of: updated) } ?? 0
        state.withLockedValue { state in
            guard var entry = state.entries[key], case .file(let current) = entry.lookup, current === file,
                state.cachedBytes - entry.bytes + bytes <= maxCachedBytes
            else { return }
            state.cachedBytes += bytes - entry.bytes
            entry.lookup = .file(updated)
            entry.bytes = bytes
            state.entries[key] = entry
        }
    }

    /// The bytes a file's representations keep in memory.
    static func bytes(of file: StaticFile) -> Int {
        (file.identity.contents?.readableBytes ?? 0) + file.encoded.reduce(0) { $0 + ($1.contents?.readableBytes ?? 0) }
    }

    /// Opens a representation's file for sending with `sendfile`, on the thread pool.
    public func open(_ representation: StaticRepresentation, eventLoop: any EventLoop) -> EventLoopFuture<NIOFileHandle>
    {
        threadPool.runIfActive(eventLoop: eventLoop) { [self] in
            let handle = try NIOFileHandle(_deprecatedPath: representation.path)
            var info = stat()
            let status = try handle.withUnsafeFileDescriptor { fstat($0, &info) }
            // A file that changed since it was cached must not be sent under the old headers and length.
            guard status == 0, Int(info.st_size) == representation.size,
                Int(info.st_mtim.tv_sec) == representation.modifiedSeconds
            else {
                try? handle.close()
                state.withLockedValue { $0.entries.removeAll(keepingCapacity: true) }
                throw FileChangedError()
            }
            return handle
        }
    }

    /// The file changed between the cached lookup and the open; the cache has been cleared.
    public struct FileChangedError: Error {
        public init() {}
    }

    /// Caches `lookup` and returns what was cached: a revalidation that found the same version of a file keeps the
    /// compressed representations made while it ran (it started from the entry before they were added).
    @discardableResult
    private func store(key: Key, lookup: StaticLookup) -> StaticLookup {
        var lookup = lookup
        let now = NIODeadline.now()
        return state.withLockedValue { state in
            state.revalidating.remove(key)
            if case .file(let new) = lookup, case .file(let old)? = state.entries[key]?.lookup,
                new.identity === old.identity
            {
                let missing = old.encoded.filter { made in
                    made.generated && !new.encoded.contains { $0.contentEncoding == made.contentEncoding }
                }
                if !missing.isEmpty { lookup = .file(new.with(encoded: new.encoded + missing)) }
            }
            var bytes = 0
            if case .file(let file) = lookup { bytes = Self.bytes(of: file) }
            if let old = state.entries[key] { state.cachedBytes -= old.bytes }
            if state.entries.count >= maxEntries || state.cachedBytes + bytes > maxCachedBytes {
                // Over budget: drop everything that is stale, then, if still needed, everything. Simple and bounded;
                // a working set that fits is rebuilt within one revalidation period.
                state.entries = state.entries.filter { now - $0.value.checkedAt < revalidateAfter }
                state.cachedBytes = state.entries.values.reduce(0) { $0 + $1.bytes }
                if state.entries.count >= maxEntries || state.cachedBytes + bytes > maxCachedBytes {
                    state.entries.removeAll(keepingCapacity: true)
                    state.cachedBytes = 0
                }
            }
            guard state.cachedBytes + bytes <= maxCachedBytes else { return lookup }
            state.entries[key] = Entry(lookup: lookup, checkedAt: now, bytes: bytes)
            state.cachedBytes += bytes
            return lookup
        }
    }

    // MARK: - Blocking work, thread pool only

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isInside(_ path: String, realRoot: String) -> Bool {
        guard let real = realPath(path) else { return false }
        return real == realRoot || real.hasPrefix(realRoot.hasSuffix("/") ? realRoot : realRoot + "/")
    }

    /// - Parameter previous: the file's entry until now: what the edge made from the same version of the file
    ///   (its contents, its compressed representations) is kept instead of being read and compressed again.
    static func resolveBlocking(
        root: String, realRoot: String, relativePath: String, maxContentBytes: Int, compress: Bool = false,
        previous: StaticFile? = nil
    ) -> StaticLookup {
        let path = root + relativePath
        var info = stat()
        guard stat(path, &info) == 0 else { return .notFound }
        let type = info.st_mode & S_IFMT
        if type == S_IFDIR {
            return isInside(path, realRoot: realRoot) ? .directory : .notFound
        }
        guard type == S_IFREG, isInside(path, realRoot: realRoot) else { return .notFound }

        let name = relativePath.split(separator: "/").last ?? Substring(relativePath)
        let contentType = MediaTypes.contentType(forFileName: name)
        let mtime = Int(info.st_mtim.tv_sec)
        let size = Int(info.st_size)
        let tag = String(mtime, radix: 16) + "-" + String(size, radix: 16)
        let cacheControl: String
        if Fingerprint.isFingerprinted(name) {
            cacheControl = "public, max-age=31536000, immutable"
        } else {
            cacheControl = "no-cache"
        }
        let lastModified = HTTPDate.format(epochSeconds: mtime)
        var siblings: [(path: String, size: Int, modified: Int, encoding: String)] = []
        for (suffix, encoding) in [(".br", "br"), (".zst", "zstd"), (".gz", "gzip")] {
            var sibling = stat()
            let siblingPath = path + suffix
            guard stat(siblingPath, &sibling) == 0, sibling.st_mode & S_IFMT == S_IFREG,
                isInside(siblingPath, realRoot: realRoot)
            else { continue }
            siblings.append((siblingPath, Int(sibling.st_size), Int(sibling.st_mtim.tv_sec), encoding))
        }
        let stamp = FileStamp(info)
        let willCompress =
            compress && size <= maxContentBytes && size >= Compressibility.minimumBytes
            && Compressibility.isCompressible(contentType: contentType)
        let metadata = (contentType, lastModified, cacheControl, varies: !siblings.isEmpty || willCompress)
        let kept = previous.flatMap { previous in
            previous.identity.stamp == stamp && previous.identity.path == path
                && previous.cacheControl == cacheControl && previous.identity.contents != nil
                && previous.varies == metadata.varies ? previous : nil
        }
        let identity =
            kept?.identity
            ?? StaticRepresentation(
                path: path,
                size: size,
                etag: "\"\(tag)\"",
                modifiedSeconds: mtime,
                contentEncoding: nil,
                contents: size <= maxContentBytes ? readContents(path, size: size) : nil,
                metadata: metadata,
                stamp: stamp
            )
        let generated = kept?.encoded.filter(\.generated) ?? []
        let encoded = siblings.map { sibling in
            StaticRepresentation(
                path: sibling.path,
                size: sibling.size,
                etag: "\"\(tag)-\(String(sibling.modified, radix: 16))-\(sibling.encoding)\"",
                modifiedSeconds: sibling.modified,
                contentEncoding: sibling.encoding,
                contents: sibling.size <= maxContentBytes ? readContents(sibling.path, size: sibling.size) : nil,
                metadata: metadata,
                stamp: stamp
            )
        }
        let file = StaticFile(
            identity: identity,
            encoded: [],
            lastModified: lastModified,
            lastModifiedSeconds: mtime,
            contentType: contentType,
            cacheControl: cacheControl,
            varies: metadata.varies
        )
        // Made representations of a coding that now has a precompressed file give way to it.
        let siblingCodings = Set(encoded.compactMap(\.contentEncoding))
        return .file(
            file.with(encoded: encoded + generated.filter { !siblingCodings.contains($0.contentEncoding ?? "") }))
    }

    static func readContents(_ path: String, size: Int) -> ByteBuffer? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        let complete = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pointer in
            var offset = 0
            while offset < size {
                let count = read(descriptor, pointer.baseAddress! + offset, size - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                offset += count
            }
            return offset
        }
        // A file that changed size while being read is not cached; it is served from disk instead.
        return complete == size ? buffer : nil
    }
}
