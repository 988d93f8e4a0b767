import NIOCore

/// A parsed HTTP/1.x request head. Header fields stay as byte ranges in the received bytes, so parsing allocates
/// little and a proxy can forward them without re-encoding.
public struct HTTPRequestHead: Sendable {
    /// The request method, such as `GET`.
    public var method: String
    /// The request target exactly as received.
    public var target: String
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The header fields.
    public var headers: HTTPHeaderFields
    /// The body's framing.
    public var framing: BodyFraming

    /// Whether the client asked to keep the connection open after this exchange.
    public var keepAlive: Bool {
        ConnectionOptions(headers).keepsAlive(minorVersion: minorVersion)
    }
}

/// How a request body is delimited (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Hashable {
    case none
    case contentLength(Int)
    case chunked
}

/// Header fields as ranges into the bytes they were parsed from.
public struct HTTPHeaderFields: Sendable, Sequence {
    struct Field: Sendable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32
        /// The field's ``KnownHeader`` raw value, or `KnownHeader.unknown`.
        var known: UInt8 = KnownHeader.unknown
    }

    let storage: ByteBuffer
    var fields: [Field]

    /// The number of fields.
    public var count: Int { fields.count }
    /// One bit per ``KnownHeader`` present, so absent fields are answered without a scan.
    var presence: UInt32 = 0
    /// Set in ``presence`` (above every ``KnownHeader`` bit) when some field name contains `_`, found while parsing
    /// so the proxy scans names only when one does.
    static let underscoreBit: UInt32 = 1 << 31
    var hasUnderscoreNames: Bool { presence & Self.underscoreBit != 0 }

    /// The value of the first field of a known name, or `nil`.
    public func first(_ header: KnownHeader) -> String? {
        guard presence & header.bit != 0 else { return nil }
        for index in fields.indices where fields[index].known == header.rawValue {
            return value(at: index)
        }
        return nil
    }

    /// Whether a field of a known name is present.
    public func contains(_ header: KnownHeader) -> Bool {
        presence & header.bit != 0
    }

    /// Every value of fields of a known name, in order.
    public func values(_ header: KnownHeader) -> [String] {
        guard presence & header.bit != 0 else { return [] }
        return fields.indices.filter { fields[$0].known == header.rawValue }.map { value(at: $0) }
    }

    /// The value of the first field with this name (given in lower case), or `nil`.
    public func first(_ lowercasedName: String) -> String? {
        guard let index = firstIndex(lowercasedName) else { return nil }
        return value(at: index)
    }

    /// Every value of fields with this name (given in lower case), in order.
    public func values(_ lowercasedName: String) -> [String] {
        var result: [String] = []
        for index in fields.indices where nameEquals(index, lowercasedName) {
            result.append(value(at: index))
        }
        return result
    }

    /// Whether a field with this name (given in lower case) is present.
    public func contains(_ lowercasedName: String) -> Bool {
        firstIndex(lowercasedName) != nil
    }

    func firstIndex(_ lowercasedName: String) -> Int? {
        fields.indices.first { nameEquals($0, lowercasedName) }
    }

    func nameEquals(_ index: Int, _ lowercasedName: String) -> Bool {
        let field = fields[index]
        guard Int(field.nameEnd - field.nameStart) == lowercasedName.utf8.count else { return false }
        var lowercasedName = lowercasedName
        return lowercasedName.withUTF8 { expected in
            bytesEqual(from: field.nameStart, to: field.nameEnd, UnsafeRawBufferPointer(expected))
        }
    }

    /// Whether the received bytes `start..<end` equal `lowercase`, ignoring ASCII case.
    private func bytesEqual(from start: UInt32, to end: UInt32, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        storage.withUnsafeReadableBytes { bytes in
            HTTPToken.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<Int(end)]), lowercase)
        }
    }

    /// Whether the received bytes from `start` (up to `end`) begin with `prefix` (lowercase), ignoring ASCII case.
    private func bytesHavePrefix(from start: UInt32, to end: UInt32, _ prefix: StaticString) -> Bool {
        let count = UInt32(prefix.utf8CodeUnitCount)
        guard end - start >= count else { return false }
        return bytesEqual(from: start, to: start + count, prefix.rawBytes)
    }

    /// Whether the field name at `index` starts with `prefix` (given in lower case).
    func nameHasPrefix(_ index: Int, _ prefix: StaticString) -> Bool {
        bytesHavePrefix(from: fields[index].nameStart, to: fields[index].nameEnd, prefix)
    }

    /// Whether the value at `index` starts with `prefix` (given in lower case).
    func valueHasPrefix(_ index: Int, ignoringCase prefix: StaticString) -> Bool {
        bytesHavePrefix(from: fields[index].valueStart, to: fields[index].valueEnd, prefix)
    }

    /// Whether the name of the field at `index` contains `_`.
    func nameContainsUnderscore(_ index: Int) -> Bool {
        let field = fields[index]
        return storage.withUnsafeReadableBytes { bytes in
            bytes[Int(field.nameStart)..<Int(field.nameEnd)].contains(UInt8(ascii: "_"))
        }
    }

    /// The name of the field at `index`, as sent.
    public func name(at index: Int) -> String {
        let field = fields[index]
        return storage.getString(
            at: storage.readerIndex + Int(field.nameStart), length: Int(field.nameEnd - field.nameStart)) ?? ""
    }

    /// The value of the field at `index`, without surrounding whitespace.
    public func value(at index: Int) -> String {
        let field = fields[index]
        return storage.getString(
            at: storage.readerIndex + Int(field.valueStart), length: Int(field.valueEnd - field.valueStart)) ?? ""
    }

    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var index = 0
        return AnyIterator {
            guard index < self.fields.count else { return nil }
            defer { index += 1 }
            return (self.name(at: index), self.value(at: index))
        }
    }
}

/// Header fields the edge itself reads, recognised once while parsing.
public enum KnownHeader: UInt8, Sendable, CaseIterable {
    case host, connection, contentLength, transferEncoding, expect, requestID, userAgent, referer, origin
    case accessControlRequestMethod, accessControlRequestHeaders, accept, acceptEncoding, range, ifRange, ifNoneMatch
    case ifModifiedSince
    // Read by the proxy: hop-by-hop fields and those it replaces.
    case keepAlive, upgrade, te, trailer, contentType, forwardedFor, forwardedProto, forwardedHost, realIP, cookie

    /// Marks fields the edge does not read itself.
    public static let unknown: UInt8 = 255

    /// The lower-case field name.
    public var name: String {
        switch self {
        case .host: "host"
        case .connection: "connection"
        case .contentLength: "content-length"
        case .transferEncoding: "transfer-encoding"
        case .expect: "expect"
        case .requestID: "x-request-id"
        case .userAgent: "user-agent"
        case .referer: "referer"
        case .origin: "origin"
        case .accessControlRequestMethod: "access-control-request-method"
        case .accessControlRequestHeaders: "access-control-request-headers"
        case .accept: "accept"
        case .acceptEncoding: "accept-encoding"
        case .range: "range"
        case .ifRange: "if-range"
        case .ifNoneMatch: "if-none-match"
        case .ifModifiedSince: "if-modified-since"
        case .keepAlive: "keep-alive"
        case .upgrade: "upgrade"
        case .te: "te"
        case .trailer: "trailer"
        case .contentType: "content-type"
        case .forwardedFor: "x-forwarded-for"
        case .forwardedProto: "x-forwarded-proto"
        case .forwardedHost: "x-forwarded-host"
        case .realIP: "x-real-ip"
        case .cookie: "cookie"
        }
    }

    var bit: UInt32 { 1 << UInt32(rawValue) }

    /// Known names grouped by length, as bytes, for classification without allocating.
    static let byLength: [[(header: KnownHeader, bytes: [UInt8])]] = {
        var table = [[(header: KnownHeader, bytes: [UInt8])]](repeating: [], count: 31)
        for header in KnownHeader.allCases {
            let bytes = Array(header.name.utf8)
            table[bytes.count].append((header, bytes))
        }
        return table
    }()

    /// Recognises a field name (any case) in `bytes[start..<end]`.
    static func classify(_ bytes: UnsafeRawBufferPointer, start: Int, end: Int) -> UInt8 {
        let length = end - start
        guard length < byLength.count else { return unknown }
        candidates: for candidate in byLength[length] {
            for offset in 0..<length {
                var byte = bytes[start + offset]
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                if byte != candidate.bytes[offset] { continue candidates }
            }
            return candidate.header.rawValue
        }
        return unknown
    }
}

extension HTTPHeaderFields {
    /// Copies the field at `index` as `Name: value\r\n`, byte for byte.
    ///
    /// One sized write per field: the proxy copies every forwarded field twice per exchange (request and response),
    /// and `ByteBuffer`'s bookkeeping per call cost more than the copying.
    func writeField(at index: Int, into buffer: inout ByteBuffer) {
        let field = fields[index]
        let nameLength = Int(field.nameEnd - field.nameStart)
        let valueLength = Int(field.valueEnd - field.valueStart)
        storage.withUnsafeReadableBytes { bytes in
            let source = bytes.baseAddress!
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: nameLength + valueLength + 4) { target in
                let base = target.baseAddress!
                base.copyMemory(from: source + Int(field.nameStart), byteCount: nameLength)
                base.storeBytes(of: UInt8(ascii: ":"), toByteOffset: nameLength, as: UInt8.self)
                base.storeBytes(of: UInt8(ascii: " "), toByteOffset: nameLength + 1, as: UInt8.self)
                (base + nameLength + 2).copyMemory(from: source + Int(field.valueStart), byteCount: valueLength)
                base.storeBytes(of: UInt8(ascii: "\r"), toByteOffset: nameLength + valueLength + 2, as: UInt8.self)
                base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: nameLength + valueLength + 3, as: UInt8.self)
                return nameLength + valueLength + 4
            }
        }
    }

    /// The known-name tag of the field at `index` (``KnownHeader/unknown`` for others).
    func knownTag(at index: Int) -> UInt8 { fields[index].known }

}
