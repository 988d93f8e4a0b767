import Synchronization

/// Answers one kind of challenge (RFC 8555 §8): makes the key authorization visible to the CA, and takes it down
/// once the authorization is decided.
public protocol ACMEChallengeSolver: Sendable {
    /// The challenge type (`http-01`, `tls-alpn-01`, `dns-01`).
    var type: String { get }
    func present(name: String, token: String, keyAuthorization: String) async throws
    func cleanUp(name: String, token: String) async
}

/// http-01 (RFC 8555 §8.3): the edge's plain listeners answer `GET /.well-known/acme-challenge/TOKEN` with the key
/// authorization from here, before any route or redirect.
public final class HTTP01Challenges: ACMEChallengeSolver, Sendable {
    private let tokens = Mutex<[String: String]>([:])

    public init() {}

    public var type: String { "http-01" }

    public func present(name: String, token: String, keyAuthorization: String) async throws {
        tokens.withLock { $0[token] = keyAuthorization }
    }

    public func cleanUp(name: String, token: String) async {
        _ = tokens.withLock { $0.removeValue(forKey: token) }
    }

    /// The key authorization for a request path's token, while its challenge is pending.
    public func keyAuthorization(token: Substring) -> String? {
        tokens.withLock { $0.isEmpty ? nil : $0[String(token)] }
    }
}
