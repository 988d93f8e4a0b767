import NIOCore
import NIOSSL
import Synchronization

/// The TLS side of one listener: its certificates and the `NIOSSLContext` new connections are accepted with.
///
/// Replaced as a whole when the certificate files change: connections accepted afterwards use the new
/// certificates, open ones keep theirs, nothing is dropped.
public final class TLSListenerContext: Sendable {
    struct State: Sendable {
        /// From the listener's `certificates` files.
        var files: [TLSCertificate]
        /// Obtained by ACME, by name, in the order of `acme.domains`.
        var managed: [(name: String, certificate: TLSCertificate)] = []
        /// `nil` only on an `acme: true` listener whose first certificate has not arrived.
        var context: NIOSSLContext?

        var certificates: [TLSCertificate] { files + managed.map(\.certificate) }
    }

    let config: TLSListenerConfig
    let http2: Bool
    private let state: Mutex<State>

    /// Loads the listener's certificates; throws (naming the file) when one cannot be used. `managed` are ACME
    /// certificates already stored.
    public init(
        config: TLSListenerConfig, http2: Bool, managed: [(name: String, certificate: TLSCertificate)] = []
    ) throws {
        self.config = config
        self.http2 = http2
        var state = State(files: try Self.loadCertificates(config.certificates), managed: managed)
        state.context = try Self.makeContext(state.certificates, config, http2)
        self.state = Mutex(state)
    }

    /// The context for a connection accepted now; `nil` while an ACME listener has no certificate yet, when
    /// connections are closed before the handshake (nothing untrustworthy is served meanwhile).
    var current: NIOSSLContext? { state.withLock { $0.context } }

    /// The certificates in use.
    public var certificates: [TLSCertificate] { state.withLock { $0.certificates } }

    /// Loads the certificate files again (the same paths, or those of a reloaded configuration) and swaps them in,
    /// keeping the ACME ones; on an error nothing changes and the error names the file.
    public func reload(_ files: [CertificateFiles]) throws {
        let loaded = try Self.loadCertificates(files)
        try update { $0.files = loaded }
    }

    /// Serves an ACME certificate for `name` from now on (replacing the one it had): connections accepted
    /// afterwards get it, open ones keep theirs.
    public func install(name: String, certificate: TLSCertificate, order: [String]) throws {
        try update { state in
            state.managed.removeAll { $0.name == name }
            state.managed.append((name, certificate))
            state.managed.sort { (order.firstIndex(of: $0.name) ?? .max) < (order.firstIndex(of: $1.name) ?? .max) }
        }
    }

    private func update(_ change: (inout State) -> Void) throws {
        try state.withLock { state in
            var next = state
            change(&next)
            next.context = try Self.makeContext(next.certificates, config, http2)
            state = next
        }
    }

    private static func loadCertificates(_ files: [CertificateFiles]) throws -> [TLSCertificate] {
        try files.map { try TLSCertificate.load($0) }
    }

    /// Modern TLS only (RFC 9325): versions 1.2 and 1.3, forward-secret ECDHE key exchange and AEAD ciphers. For
    /// TLS 1.2 one suite per key type, AES-128-GCM, which every TLS 1.2 client has: NIOSSL cannot make the server's
    /// order win over the client's, and with a single choice there is no order to lose (clients without AES
    /// hardware use TLS 1.3 and ChaCha20).
    static let tls12CipherSuites = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]
        .joined(separator: ":")

    /// `nil` without certificates (only possible on an `acme: true` listener: the configuration requires files
    /// otherwise).
    private static func makeContext(_ certificates: [TLSCertificate], _ config: TLSListenerConfig, _ http2: Bool)
        throws -> NIOSSLContext?
    {
        // The first certificate is the default, for clients without SNI or asking for a name no certificate has.
        guard let first = certificates.first else { return nil }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: first.chain.map { .certificate($0) }, privateKey: .privateKey(first.key))
        configuration.minimumTLSVersion = config.minimumVersion == .tls13 ? .tlsv13 : .tlsv12
        configuration.cipherSuites = tls12CipherSuites
        configuration.applicationProtocols = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
        if certificates.count > 1 {
            let others = Array(certificates.dropFirst())
            configuration.sslContextCallback = { values, promise in
                // SNI: another certificate when it covers the name and the first does not.
                guard let name = values.serverHostname, !first.covers(name),
                    let chosen = others.first(where: { $0.covers(name) })
                else {
                    promise.succeed(.noChanges)
                    return
                }
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = chosen.chain.map { .certificate($0) }
                override.privateKey = .privateKey(chosen.key)
                promise.succeed(override)
            }
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
