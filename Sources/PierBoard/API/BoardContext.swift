import Foundation
import Hummingbird
import Logging
import NIOCore
import PierBoardStore

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
    public var addresses: Set<String>

    /// Trusts no peer by default: any local process could otherwise claim any client address.
    public init(loopback: Bool = false, addresses: Set<String> = []) {
        self.loopback = loopback
        self.addresses = addresses
    }

    /// Parses a comma-separated list of addresses, `loopback`, or `none`.
    public init(parsing text: String) throws {
        var loopback = false
        var addresses: Set<String> = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            switch item.lowercased() {
            case "loopback": loopback = true
            case "none": break
            default:
                guard (try? SocketAddress(ipAddress: item, port: 0)) != nil else {
                    throw TrustedProxiesError(description: "\"\(item)\" is not an IP address, loopback or none")
                }
                addresses.insert(item)
            }
        }
        self.init(loopback: loopback, addresses: addresses)
    }

    public func trusts(_ address: String?) -> Bool {
        guard let address else { return false }
        if addresses.contains(address) { return true }
        guard loopback else { return false }
        return address == "::1" || address.hasPrefix("127.") || address.hasPrefix("::ffff:127.")
    }
}

public struct TrustedProxiesError: Error, CustomStringConvertible {
    public var description: String
}
