import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reloads the certificates of TLS listeners when their files change (looked at once a second) and on SIGHUP,
/// without dropping a connection: connections accepted afterwards get the new certificates, open ones keep theirs.
/// A file that cannot be used is refused with an error naming it, and the certificates in use stay.
public final class TLSCertificateWatcher: Service, Sendable {
    private let source: EdgeRuntimeSource
    private let listeners: [TLSListenerContext?]
    private let pollInterval: Duration
    private let logger: Logger
    private let state = Mutex<State>(State())

    private struct State {
        /// The files (per listener) and their fingerprints as last loaded.
        var loaded: [[FileFingerprint]] = []
        var candidate: [[FileFingerprint]]?
    }

    struct FileFingerprint: Equatable {
        var path: String
        var modified: Date?
        var size: Int?
        var inode: Int?
    }

    public init(
        source: EdgeRuntimeSource, listeners: [TLSListenerContext?], pollInterval: Duration = .seconds(1),
        logger: Logger
    ) {
        self.source = source
        self.listeners = listeners
        self.pollInterval = pollInterval
        self.logger = logger
        let initial = fingerprints()
        state.withLock { $0.loaded = initial }
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { self.reload(reason: "SIGHUP") }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.pollInterval)
                        if Task.isCancelled { break }
                        self.reloadIfChanged()
                    }
                }
                await group.waitForAll()
            }
        }
    }

    /// The certificate files of each listener in the configuration in force, with what the file system says of
    /// them (a reloaded configuration may name other files).
    private func fingerprints() -> [[FileFingerprint]] {
        source.current.config.listen.map { listen in
            (listen.tls?.certificates ?? []).flatMap { [Self.fingerprint($0.certificate), Self.fingerprint($0.key)] }
        }
    }

    private static func fingerprint(_ path: String) -> FileFingerprint {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return FileFingerprint(
            path: path, modified: attributes?[.modificationDate] as? Date,
            size: (attributes?[.size] as? NSNumber)?.intValue,
            inode: (attributes?[.systemFileNumber] as? NSNumber)?.intValue)
    }

    /// Reloads when a file changed and then stayed the same for one more look, so a certificate and key being
    /// replaced one after the other are read together.
    func reloadIfChanged() {
        let current = fingerprints()
        let settled = state.withLock { state -> Bool in
            guard current != state.loaded else {
                state.candidate = nil
                return false
            }
            guard current == state.candidate else {
                state.candidate = current
                return false
            }
            state.candidate = nil
            return true
        }
        if settled { reload(reason: "certificate files changed") }
    }

    /// Loads every TLS listener's certificates again.
    public func reload(reason: String) {
        let current = fingerprints()
        let config = source.current.config
        for (index, listen) in config.listen.enumerated() {
            guard let tls = listen.tls, index < listeners.count, let context = listeners[index] else { continue }
            do {
                try context.reload(tls.certificates)
                logger.notice(
                    "certificates reloaded",
                    metadata: [
                        "pier.reason": "\(reason)", "pier.listener": "\(listen.address)",
                        "pier.names": "\(context.certificates.flatMap(\.names).joined(separator: ", "))",
                    ])
            } catch {
                logger.error(
                    "certificate reload refused; the certificates in use keep serving",
                    metadata: [
                        "pier.reason": "\(reason)", "pier.listener": "\(listen.address)", "pier.error": "\(error)",
                    ])
            }
        }
        // A refused file is tried again when it changes again, not every second.
        state.withLock { $0.loaded = current }
    }
}
