import Foundation
import Logging
import PierCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reloads the edge's configuration on SIGHUP and when its file changes, without dropping anything in flight.
///
/// A new configuration is loaded and checked completely first; if it has errors, or changes something only a
/// restart can (listen addresses, workers, the access log, `max_connections`), it is refused with a logged error
/// and the running one keeps serving. Otherwise the new runtime is swapped in: each connection picks it up at its
/// next request, and requests in flight finish with the one they started with.
public final class EdgeReloader: Service, Sendable {
    /// What a reload attempt did.
    public enum Outcome: Sendable, Equatable {
        case applied
        case unchanged
        case refused(String)
    }

    private let path: String
    private let source: EdgeRuntimeSource
    private let makeRuntime: @Sendable (EdgeConfig) -> EdgeRuntime
    private let pollInterval: Duration
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        /// The configuration as last read from the file (before any command-line adjustment).
        var loaded: EdgeConfig
        var fingerprint: Fingerprint?
        /// A new fingerprint seen once; it is acted on when the next look finds it unchanged, so a file caught
        /// half-written is not applied.
        var candidate: Fingerprint?
    }

    /// Reloads run one at a time, so a slower, older one can never overwrite a newer one.
    private let reloading = Mutex(())

    private struct Fingerprint: Equatable {
        var modified: Date?
        var size: Int?
        var inode: Int?
    }

    /// - Parameters:
    ///   - loaded: the configuration the server started with, as read from `path`.
    ///   - makeRuntime: builds a runtime for a new configuration, sharing the caches and the access log.
    public init(
        path: String,
        loaded: EdgeConfig,
        source: EdgeRuntimeSource,
        pollInterval: Duration = .seconds(1),
        logger: Logger,
        makeRuntime: @escaping @Sendable (EdgeConfig) -> EdgeRuntime
    ) {
        self.path = path
        self.source = source
        self.makeRuntime = makeRuntime
        self.pollInterval = pollInterval
        self.logger = logger
        self.state = Mutex(State(loaded: loaded, fingerprint: Self.fingerprint(path)))
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

    /// Reloads when the file's modification time, size or inode changed and then stayed the same for one more
    /// look (one poll interval), so a file still being written is not read half-way.
    @discardableResult
    public func reloadIfChanged() -> Outcome {
        let current = Self.fingerprint(path)
        let settled = state.withLock { state -> Bool in
            guard current != state.fingerprint else {
                state.candidate = nil
                return false
            }
            guard current == state.candidate else {
                state.candidate = current
                return false
            }
            state.fingerprint = current
            state.candidate = nil
            return true
        }
        guard settled else { return .unchanged }
        return reload(reason: "file changed")
    }

    /// Loads the file and applies it if it is valid and reloadable.
    @discardableResult
    public func reload(reason: String) -> Outcome {
        reloading.withLock { _ in reloadNow(reason: reason) }
    }

    private func reloadNow(reason: String) -> Outcome {
        let config: EdgeConfig
        do {
            config = try EdgeConfig.load(path: path)
        } catch {
            return refuse(error.diagnostics.map(\.description).joined(separator: "; "), reason: reason)
        }
        let previous = state.withLock { $0.loaded }
        if let field = Self.restartOnlyChange(from: previous, to: config) {
            return refuse(
                "\(path): \(field) cannot change while running; restart pier edge to apply it", reason: reason)
        }
        guard config != previous else { return .unchanged }
        source.replace(makeRuntime(config))
        state.withLock { $0.loaded = config }
        logger.notice(
            "configuration reloaded", metadata: ["pier.reason": "\(reason)", "pier.routes": "\(config.routes.count)"])
        return .applied
    }

    private func refuse(_ text: String, reason: String) -> Outcome {
        logger.error(
            "configuration reload refused; the previous configuration keeps serving",
            metadata: ["pier.reason": "\(reason)", "pier.errors": "\(text)"])
        return .refused(text)
    }

    /// The first field whose change needs a restart, if any.
    static func restartOnlyChange(from old: EdgeConfig, to new: EdgeConfig) -> String? {
        // Certificate files may change (the TLS listener reloads them); everything else about a listener is bound
        // to its socket.
        func withoutCertificates(_ listen: [ListenConfig]) -> [ListenConfig] {
            listen.map { listener in
                var listener = listener
                listener.tls?.certificates = []
                return listener
            }
        }
        if withoutCertificates(old.listen) != withoutCertificates(new.listen) { return "listen" }
        if old.workers != new.workers { return "workers" }
        if old.accessLog != new.accessLog { return "access_log" }
        if old.limits.maxConnections != new.limits.maxConnections { return "limits.max_connections" }
        if old.admin != new.admin { return "admin" }
        return nil
    }

    private static func fingerprint(_ path: String) -> Fingerprint? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return Fingerprint(
            modified: attributes[.modificationDate] as? Date,
            size: (attributes[.size] as? NSNumber)?.intValue,
            inode: (attributes[.systemFileNumber] as? NSNumber)?.intValue)
    }
}
