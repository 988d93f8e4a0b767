/// Header fields the edge itself reads, recognised once while parsing.
public enum KnownHeader: UInt8, Sendable, CaseIterable {
    case host, connection, contentLength, transferEncoding, expect, requestID, userAgent, referer, origin
    case accessControlRequestMethod, accessControlRequestHeaders, accept, acceptEncoding, range, ifRange, ifNoneMatch
    case ifModifiedSince
    // Read by the proxy: hop-by-hop fields and those it replaces.
    case keepAlive, upgrade, te, trailer, contentType, forwardedFor, forwardedProto, forwardedHost, realIP, cookie
    case forwarded
    // Read by `auth:` routes, and the identity fields they set (never forwarded from a client).
    case authorization, pierUser, pierRole

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
        case .forwarded: "forwarded"
        case .authorization: "authorization"
        case .pierUser: "x-pier-user"
        case .pierRole: "x-pier-role"
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
