import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Obtains and renews the certificates of `acme.domains`, one per name, and hands each new one to `install`.
///
/// At start every stored certificate is installed and nothing is ordered for it until it is due; a name without
/// one is ordered at once. Renewal is due two thirds into the lifetime, or in the window the CA's ACME Renewal
/// Information suggests; a failure is retried with exponential back-off and jitter while the old certificate keeps
/// serving. Every failure is logged with the CA's problem document and kept for `statuses()`.
public final class ACMECertificateManager: Service, Sendable {
    /// What `GET /status` and `pier cert status` show of one name.
    public struct Status: Sendable {
        public var name: String
        public var certificate: StoredCertificate?
        public var nextAttempt: Date?
        public var failures: Int
        public var lastError: String?
        public var lastErrorAt: Date?
        /// Whether an order for it is running now.
        public var ordering: Bool
    }

    private struct Entry {
        var certificate: StoredCertificate?
        var due: Date
        var failures = 0
        var lastError: String?
        var lastErrorAt: Date?
        var ordering = false
        var window: ClosedRange<Date>?
        var windowCheckedAt: Date?
    }

    public let settings: ACMESettings
    private let storage: ACMEFileStorage
    private let solvers: [any ACMEChallengeSolver]
    private let install: @Sendable (StoredCertificate) -> Void
    private let logger: Logger
    private let policy: RenewalPolicy
    private let now: @Sendable () -> Date
    private let random: @Sendable () -> Double
    private let entries: Mutex<[String: Entry]>
    private let wake = Atomic<Bool>(false)
    private let retried = Atomic<Int>(0)
    private let startAfter: (@Sendable () async throws -> Void)?

    public init(
        settings: ACMESettings, solvers: [any ACMEChallengeSolver], logger: Logger,
        policy: RenewalPolicy = RenewalPolicy(), now: @escaping @Sendable () -> Date = { Date() },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        startAfter: (@Sendable () async throws -> Void)? = nil,
        install: @escaping @Sendable (StoredCertificate) -> Void
    ) {
        self.startAfter = startAfter
        self.settings = settings
        let storage = ACMEFileStorage(root: settings.storage)
        self.storage = storage
        self.solvers = settings.challenges.compactMap { type in solvers.first { $0.type == type } }
        self.install = install
        self.logger = logger
        self.policy = policy
        self.now = now
        self.random = random
        let start = now()
        let stored = storage.certificates(for: settings)
        var entries: [String: Entry] = [:]
        for name in settings.domains {
            let usable = stored.first { $0.name == name }
            entries[name] = Entry(
                certificate: usable,
                due: usable.map {
                    policy.renewalTime(notBefore: $0.notBefore, notAfter: $0.notAfter, window: nil, random: random())
                } ?? start)
        }
        self.entries = Mutex(entries)
    }

    /// The stored certificates that can serve now, for the TLS listeners before `run` starts.
    public var storedCertificates: [StoredCertificate] {
        entries.withLock { entries in settings.domains.compactMap { entries[$0]?.certificate } }
    }

    /// How many requests were sent again after the CA refused their nonce (`badNonce`, RFC 8555 §6.5).
    public var badNonceRetries: Int { retried.load(ordering: .relaxed) }

    public func statuses() -> [Status] {
        entries.withLock { entries in
            settings.domains.compactMap { name in
                entries[name].map {
                    Status(
                        name: name, certificate: $0.certificate, nextAttempt: $0.due, failures: $0.failures,
                        lastError: $0.lastError, lastErrorAt: $0.lastErrorAt, ordering: $0.ordering)
                }
            }
        }
    }

    /// Makes names due now: all of them, or those given; `force` also renews certificates that are not due.
    /// Returns the names queued; a name outside the allow-list is refused before anything is sent.
    public func renew(names: [String]? = nil, force: Bool) throws(ACMEError) -> [String] {
        let chosen = names ?? settings.domains
        for name in chosen where !settings.allows(name) {
            throw ACMEError(.nameNotAllowed, step: "renew \(name)", detail: "not in acme.domains")
        }
        let at = now()
        let queued = entries.withLock { entries -> [String] in
            var queued: [String] = []
            for name in chosen {
                guard var entry = entries[name] else { continue }
                if force || entry.certificate == nil || entry.due <= at {
                    entry.due = at
                    entry.failures = 0
                    entries[name] = entry
                    queued.append(name)
                }
            }
            return queued
        }
        wake.store(true, ordering: .relaxed)
        return queued
    }

    public func run() async throws {
        try await startAfter?()
        let client: ACMEClient
        do {
            let key = try storage.accountKey(directory: settings.directory)
            client = try ACMEClient(
                directoryURL: settings.directory, accountKey: key, trustedRoots: settings.trustedRoots, logger: logger)
        } catch {
            logger.error("ACME cannot start; no certificate will be obtained", metadata: ["pier.error": "\(error)"])
            throw error
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.checkRenewalInfo(client)
                for name in self.dueNames() {
                    if Task.isCancelled { break }
                    await self.obtain(name, client: client)
                    self.retried.store(client.badNonceRetried.load(ordering: .relaxed), ordering: .relaxed)
                }
                // Wake once a second for a forced renewal; otherwise when the next name is due.
                var waited = 0
                while !Task.isCancelled && !self.wake.exchange(false, ordering: .relaxed) && waited < 3600
                    && self.dueNames().isEmpty
                {
                    try? await Task.sleep(for: .seconds(1))
                    waited += 1
                }
            }
        }
        await client.shutdown()
    }

    private func dueNames() -> [String] {
        let at = now()
        return entries.withLock { entries in
            settings.domains.filter { name in entries[name].map { $0.due <= at && !$0.ordering } ?? false }
        }
    }

    /// Orders a certificate for one allowed name and installs it; on failure keeps the old one and backs off.
    func obtain(_ name: String, client: ACMEClient) async {
        guard settings.allows(name) else { return }
        entries.withLock { $0[name]?.ordering = true }
        logger.notice("ACME ordering a certificate", metadata: ["pier.acme.name": "\(name)"])
        do {
            let issued = try await client.obtain(
                names: [name], email: settings.email, solvers: solvers, keyType: settings.keyType,
                preferredChain: settings.preferredChain, timeout: settings.orderTimeout)
            let stored = try storage.store(issued, name: name, directory: settings.directory, now: now())
            install(stored)
            let due = policy.renewalTime(
                notBefore: stored.notBefore, notAfter: stored.notAfter, window: nil, random: random())
            entries.withLock {
                $0[name] = Entry(certificate: stored, due: due)
            }
            logger.notice(
                "ACME certificate obtained",
                metadata: [
                    "pier.acme.name": "\(name)", "pier.acme.issuer": "\(stored.issuer)",
                    "pier.acme.not_after": "\(stored.notAfter)", "pier.acme.renew_at": "\(due)",
                ])
        } catch {
            let failures = entries.withLock { entries -> Int in
                var entry = entries[name]!
                entry.failures += 1
                entry.ordering = false
                entry.lastError = "\(error)"
                entry.lastErrorAt = now()
                entry.due = now().addingTimeInterval(policy.retryDelay(failures: entry.failures, random: random()))
                entries[name] = entry
                return entry.failures
            }
            let current = entries.withLock { $0[name]?.certificate }
            logger.error(
                "ACME could not obtain a certificate",
                metadata: [
                    "pier.acme.name": "\(name)", "pier.error": "\(error)", "pier.acme.failures": "\(failures)",
                    "pier.acme.serving":
                        "\(current.map { "the old certificate, valid until \($0.notAfter)" } ?? "no certificate")",
                ])
        }
    }

    /// With ARI (RFC 9773): asks the CA, at most every six hours per certificate, when to renew.
    private func checkRenewalInfo(_ client: ACMEClient) async {
        guard let base = try? await client.directory().renewalInfo else { return }
        let at = now()
        let candidates = entries.withLock { entries in
            entries.compactMap { name, entry -> (String, String)? in
                guard let id = entry.certificate?.renewalID,
                    entry.windowCheckedAt.map({ at.timeIntervalSince($0) > 6 * 3600 }) ?? true
                else { return nil }
                return (name, id)
            }
        }
        for (name, id) in candidates {
            let window = try? await client.renewalInfo(base: base, id: id)
            entries.withLock { entries in
                guard var entry = entries[name], let certificate = entry.certificate else { return }
                entry.windowCheckedAt = at
                if let window, window.upperBound > at {
                    entry.window = window
                    if entry.failures == 0 {
                        entry.due = policy.renewalTime(
                            notBefore: certificate.notBefore, notAfter: certificate.notAfter, window: window,
                            random: random())
                    }
                }
                entries[name] = entry
            }
        }
    }
}

extension ACMEClient {
    /// The suggested renewal window of a certificate (an unauthenticated GET, RFC 9773 §4.2).
    func renewalInfo(base: String, id: String) async throws(ACMEError) -> ClosedRange<Date> {
        let info = try await get(base.hasSuffix("/") ? base + id : base + "/" + id, step: "renewal info")
            .decode(ACMERenewalInfo.self, step: "renewal info")
        guard info.suggestedWindow.start <= info.suggestedWindow.end else {
            throw ACMEError(.protocolViolation, step: "renewal info", detail: "the window ends before it starts")
        }
        return info.suggestedWindow.start...info.suggestedWindow.end
    }
}
