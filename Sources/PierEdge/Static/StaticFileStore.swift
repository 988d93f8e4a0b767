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
    /// The bytes, for files small enough to keep in memory; `nil` means send from disk.
    public let contents: ByteBuffer?
    /// The start of a plain `200 OK` answer for this representation, every field that does not change per request
    /// (type, validators, caching, encoding, length), so the common answer copies it instead of rebuilding it.
    let okHead: ByteBuffer
    /// The same fields for HTTP/2 (lowercased names).
    let okFields: [(String, String)]

    init(
        path: String, size: Int, etag: String, modifiedSeconds: Int, contentEncoding: String?, contents: ByteBuffer?,
        metadata: (contentType: String, lastModified: String, cacheControl: String, varies: Bool)
    ) {
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

/// A regular file in a static root, with everything needed to answer for it without touching the disk again.
///
/// Immutable and shared, like its representations.
public final class StaticFile: Sendable {
    public let identity: StaticRepresentation
    /// Precompressed siblings, best first (Brotli before gzip).
    public let encoded: [StaticRepresentation]
    public let lastModified: String
    public let lastModifiedSeconds: Int
    public let contentType: String
    public let cacheControl: String

    init(
        identity: StaticRepresentation, encoded: [StaticRepresentation], lastModified: String,
        lastModifiedSeconds: Int, contentType: String, cacheControl: String
    ) {
        self.identity = identity
        self.encoded = encoded
        self.lastModified = lastModified
        self.lastModifiedSeconds = lastModifiedSeconds
        self.contentType = contentType
        self.cacheControl = cacheControl
    }

    /// Whether every representation is answered from memory, none from disk.
    var isInMemory: Bool {
        identity.contents != nil && encoded.allSatisfy { $0.contents != nil }
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
    /// Reads file contents on the thread pool, for answers that cannot use `sendfile` (TLS, HTTP/2).
    var fileIO: NonBlockingFileIO { NonBlockingFileIO(threadPool: threadPool) }

    public init(
        threadPool: NIOThreadPool = .singleton,
        maxCachedFileBytes: Int = 256 * 1024,
        maxCachedBytes: Int = 64 * 1024 * 1024,
        maxEntries: Int = 10000,
        revalidateAfter: TimeAmount = .seconds(1)
    ) {
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
    public func resolve(root: String, relativePath: String, eventLoop: any EventLoop) -> EventLoopFuture<StaticLookup> {
        threadPool.runIfActive(eventLoop: eventLoop) { [self] in
            // Resolved on every miss, so a root that is a symlink (atomic deploys) can be switched.
            let realRoot = Self.realPath(root) ?? root
            let lookup = Self.resolveBlocking(
                root: root,
                realRoot: realRoot,
                relativePath: relativePath,
                maxContentBytes: self.maxCachedFileBytes
            )
            self.store(key: Key(root: root, path: relativePath), lookup: lookup)
            return lookup
        }
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

    private func store(key: Key, lookup: StaticLookup) {
        var bytes = 0
        if case .file(let file) = lookup {
            bytes = file.identity.contents?.readableBytes ?? 0
            bytes += file.encoded.reduce(0) { $0 + ($1.contents?.readableBytes ?? 0) }
        }
        let now = NIODeadline.now()
        state.withLockedValue { state in
            state.revalidating.remove(key)
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
            guard state.cachedBytes + bytes <= maxCachedBytes else { return }
            state.entries[key] = Entry(lookup: lookup, checkedAt: now, bytes: bytes)
            state.cachedBytes += bytes
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

    static func resolveBlocking(root: String, realRoot: String, relativePath: String, maxContentBytes: Int)
        -> StaticLookup
    {
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
        for (suffix, encoding) in [(".br", "br"), (".gz", "gzip")] {
            var sibling = stat()
            let siblingPath = path + suffix
            guard stat(siblingPath, &sibling) == 0, sibling.st_mode & S_IFMT == S_IFREG,
                isInside(siblingPath, realRoot: realRoot)
            else { continue }
            siblings.append((siblingPath, Int(sibling.st_size), Int(sibling.st_mtim.tv_sec), encoding))
        }
        let metadata = (contentType, lastModified, cacheControl, varies: !siblings.isEmpty)
        let identity = StaticRepresentation(
            path: path,
            size: size,
            etag: "\"\(tag)\"",
            modifiedSeconds: mtime,
            contentEncoding: nil,
            contents: size <= maxContentBytes ? readContents(path, size: size) : nil,
            metadata: metadata
        )
        let encoded = siblings.map { sibling in
            StaticRepresentation(
                path: sibling.path,
                size: sibling.size,
                etag: "\"\(tag)-\(String(sibling.modified, radix: 16))-\(sibling.encoding)\"",
                modifiedSeconds: sibling.modified,
                contentEncoding: sibling.encoding,
                contents: sibling.size <= maxContentBytes ? readContents(sibling.path, size: sibling.size) : nil,
                metadata: metadata
            )
        }
        return .file(
            StaticFile(
                identity: identity,
                encoded: encoded,
                lastModified: lastModified,
                lastModifiedSeconds: mtime,
                contentType: contentType,
                cacheControl: cacheControl
            )
        )
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
