import Foundation
import Hummingbird
import Logging
import NIOCore
import PierBoardStore

#if canImport(Glibc)
    import Glibc
#endif

/// The request context of the board API: who is asking (after authentication) and from where.
public struct BoardContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The address of the peer that opened the connection (the edge, when behind it).
    public let peerAddress: String?
    /// The signed-in user, set by the authentication middleware.
    var user: User?
    /// Whether the access token came from a cookie (and so state changes need an Origin check).
    var viaCookie = false

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress
    }

    public var maxUploadSize: Int { JSONInput.maxBodyBytes }

    /// The signed-in user; routes behind the authentication middleware always have one.
    func requireUser() throws -> User {
        guard let user else { throw APIProblem.unauthenticated() }
        return user
    }
}

/// Which peers may tell the board the client's address and scheme (`X-Forwarded-For`, `X-Forwarded-Proto`,
/// `X-Forwarded-Host`): by default loopback only, where `pier up` and a local edge run.
public struct TrustedProxies: Sendable, Hashable {
    public var loopback: Bool
    /// Addresses and address ranges (`10.0.0.5` is `10.0.0.5/32`): every address in them is trusted.
    public var networks: [IPNetwork]

    /// Trusts no peer by default: any local process could otherwise claim any client address.
    public init(loopback: Bool = false, networks: [IPNetwork] = []) {
        self.loopback = loopback
        self.networks = networks
    }

    /// Parses a comma-separated list of addresses, CIDR ranges, `loopback`, or `none`.
    public init(parsing text: String) throws {
        var loopback = false
        var networks: [IPNetwork] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            switch item.lowercased() {
            case "loopback": loopback = true
            case "none": break
            default:
                if item.contains("/") {
                    guard let network = IPNetwork(parsing: item) else {
                        throw TrustedProxiesError(
                            description: "\"\(item)\" is not an address range (like 10.0.0.0/8 or fd00::/8)")
                    }
                    networks.append(network)
                    continue
                }
                guard let bytes = IPNetwork.bytes(of: item) else {
                    throw TrustedProxiesError(
                        description: "\"\(item)\" is not an IP address, an address range, loopback or none")
                }
                // As bytes, so ::FFFF:10.0.0.5, 10.0.0.5 and the like are the same peer.
                networks.append(IPNetwork(bytes: bytes, prefixLength: bytes.count * 8))
            }
        }
        self.init(loopback: loopback, networks: networks)
    }

    public func trusts(_ address: String?) -> Bool {
        guard let address else { return false }
        if loopback, address == "::1" || address.hasPrefix("127.") || address.hasPrefix("::ffff:127.") { return true }
        guard !networks.isEmpty, let bytes = IPNetwork.bytes(of: address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }
}

/// An IPv4 or IPv6 address range in CIDR notation.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6; the bits beyond the prefix are zero.
    public var bytes: [UInt8]
    public var prefixLength: Int

    public init(bytes: [UInt8], prefixLength: Int) {
        self.prefixLength = prefixLength
        self.bytes = bytes.enumerated().map { index, byte in
            let kept = max(0, min(8, prefixLength - index * 8))
            return kept == 8 ? byte : byte & ~(0xFF >> UInt8(kept))
        }
    }

    /// `10.0.0.0/8`, `192.168.1.0/24`, `fd00::/8`; the prefix within the address's bits.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let bytes = Self.bytes(of: String(parts[0])),
            !parts[1].isEmpty, parts[1].allSatisfy({ $0 >= "0" && $0 <= "9" }), let length = Int(parts[1]),
            (0...bytes.count * 8).contains(length)
        else { return nil }
        self.init(bytes: bytes, prefixLength: length)
    }

    /// Whether the address (4 or 16 bytes; an IPv4-mapped IPv6 address counts as IPv4) is in the range.
    public func contains(_ address: [UInt8]) -> Bool {
        guard address.count == bytes.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if address[index] & mask != bytes[index] { return false }
            remaining -= bits
        }
        return true
    }

    /// The bytes of an IPv4 or IPv6 address (IPv4-mapped IPv6 addresses as their IPv4 bytes), or `nil`.
    public static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes[12...])
        }
        return bytes
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: text, as: UTF8.self) + "/\(prefixLength)"
    }
}

public struct TrustedProxiesError: Error, CustomStringConvertible {
    public var description: String
}
