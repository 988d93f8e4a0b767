import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PierTokens
import ServiceLifecycle
import Synchronization

/// The key (and implicit assertion) an `auth: { paseto: … }` route checks tokens with: given in the configuration,
/// or fetched from a URL, kept, and fetched again every `refresh` and when a token does not verify with it.
///
/// Fetches are collapsed: requests that need one while it runs wait for it (on their own event loops) instead of
/// starting their own. A token that does not verify triggers at most one fetch every ``minimumRefetchInterval``,
/// so forged tokens cannot turn the edge into a flood of requests to the key's publisher.
final class TokenKeySet: Sendable {
    /// What tokens are checked with.
    struct Keys: Sendable {
        var key: Curve25519.Signing.PublicKey
        var implicitAssertion: [UInt8]
        /// Changes whenever the key or assertion does, so checks remembered under the old ones are not trusted.
        var generation: Int
    }

    /// The key document could not be used.
    struct FetchError: Error, CustomStringConvertible {
        var description: String
    }

    typealias Fetcher = @Sendable (_ url: String) async throws -> (paserk: String, implicitAssertion: String?)

    static let minimumRefetchInterval: Duration = .seconds(10)
    /// After a failed fetch, requests are refused at once for this long instead of each waiting for another try.
    static let failureBackoff: Duration = .seconds(1)

    private struct State {
        var keys: Keys?
        var fetching = false
        var waiters: [(any EventLoop, @Sendable () -> Void)] = []
        var lastAttempt: ContinuousClock.Instant?
        var lastSuccess: ContinuousClock.Instant?
        var lastFailure: String?
    }

    let config: PASETOAuthConfig
    private let state: Mutex<State>
    private let generation = Atomic<Int>(0)
    private let fetcher: Fetcher
    private let logger: Logger

    init(config: PASETOAuthConfig, logger: Logger, fetcher: Fetcher? = nil) {
        self.config = config
        self.logger = logger
        self.fetcher = fetcher ?? Self.fetch
        var initial = State()
        if case .inline(let paserk) = config.key, let key = try? PASERK.publicKey(paserk) {
            initial.keys = Keys(
                key: key, implicitAssertion: Array((config.implicitAssertion ?? "").utf8), generation: 0)
        }
        state = Mutex(initial)
    }

    /// Whether the key comes from a URL (and can change).
    var isFetched: Bool {
        if case .url = config.key { return true }
        return false
    }

    /// The key in hand, if any.
    var current: Keys? { state.withLock { $0.keys } }

    /// The generation of the key in hand (one atomic load: checked on every remembered token).
    var currentGeneration: Int { generation.load(ordering: .relaxed) }

    /// Whether a request whose token did not verify with the key in hand (or that found none) should wait for a
    /// fetch: the key comes from a URL and a fetch is under way, or none was tried in the last
    /// ``minimumRefetchInterval`` (without a key, in the last ``failureBackoff``).
    func shouldRefetch(now: ContinuousClock.Instant = .now) -> Bool {
        guard isFetched else { return false }
        return state.withLock { state in
            if state.fetching { return true }
            guard let last = state.lastAttempt else { return true }
            return now - last >= (state.keys == nil ? Self.failureBackoff : Self.minimumRefetchInterval)
        }
    }

    /// Fetches the key (or joins the fetch under way) and calls `done` on `eventLoop` once it is over, whatever
    /// its outcome.
    func refetch(on eventLoop: any EventLoop, _ done: @escaping @Sendable () -> Void) {
        guard case .url(let urls) = config.key else {
            eventLoop.execute(done)
            return
        }
        let start = state.withLock { state -> Bool in
            state.waiters.append((eventLoop, done))
            guard !state.fetching else { return false }
            state.fetching = true
            state.lastAttempt = .now
            return true
        }
        guard start else { return }
        Task { await self.runFetch(urls) }
    }

    /// Fetches the key now unless one was fetched within `refresh` (the periodic refresh).
    func refreshIfDue(now: ContinuousClock.Instant = .now) async {
        guard case .url(let urls) = config.key else { return }
        let due = state.withLock { state -> Bool in
            guard !state.fetching else { return false }
            if let last = state.lastSuccess, now - last < config.refresh { return false }
            // After a failure, tried again every minimum interval until it works.
            if let attempt = state.lastAttempt, now - attempt < Self.minimumRefetchInterval { return false }
            state.fetching = true
            state.lastAttempt = now
            return true
        }
        if due { await runFetch(urls) }
    }

    private func runFetch(_ urls: [String]) async {
        var outcome: Result<Keys, any Error> = .failure(FetchError(description: "no key URL"))
        var failures: [String] = []
        for url in urls {
            outcome = await fetch(url)
            guard case .failure(let error) = outcome else { break }
            failures.append(urls.count == 1 ? "\(error)" : "\(url): \(error)")
        }
        if case .failure = outcome { outcome = .failure(FetchError(description: failures.joined(separator: "; "))) }
        let url = urls.joined(separator: " ")
        finish(outcome, url: url)
    }

    private func fetch(_ url: String) async -> Result<Keys, any Error> {
        let outcome: Result<Keys, any Error>
        do {
            let document = try await fetcher(url)
            guard let key = try? PASERK.publicKey(document.paserk) else {
                throw FetchError(description: "the answer's paserk is not a k4.public. PASERK")
            }
            let assertion = Array((config.implicitAssertion ?? document.implicitAssertion ?? "").utf8)
            outcome = .success(Keys(key: key, implicitAssertion: assertion, generation: 0))
        } catch {
            outcome = .failure(error)
        }
        return outcome
    }

    private func finish(_ outcome: Result<Keys, any Error>, url: String) {
        let (waiters, message) = state.withLock { state -> ([(any EventLoop, @Sendable () -> Void)], Logger.Message?) in
            state.fetching = false
            var message: Logger.Message?
            switch outcome {
            case .success(var keys):
                state.lastSuccess = .now
                let changed =
                    state.keys.map {
                        $0.key.rawRepresentation != keys.key.rawRepresentation
                            || $0.implicitAssertion != keys.implicitAssertion
                    } ?? true
                if changed {
                    keys.generation = (state.keys?.generation ?? 0) + 1
                    state.keys = keys
                    generation.store(keys.generation, ordering: .relaxed)
                    message = keys.generation == 1 ? "fetched the token key" : "fetched a new token key"
                }
                if state.lastFailure != nil {
                    state.lastFailure = nil
                    message = message ?? "fetched the token key again"
                }
            case .failure(let error):
                let description = "\(error)"
                if state.lastFailure != description {
                    message =
                        state.keys == nil
                        ? "cannot fetch the token key: requests to routes with auth are refused (503)"
                        : "cannot fetch the token key again; the one in hand stays in use"
                }
                state.lastFailure = description
            }
            let waiters = state.waiters
            state.waiters = []
            return (waiters, message)
        }
        if let message {
            var metadata: Logger.Metadata = ["pier.auth.key_url": "\(url)"]
            if case .failure(let error) = outcome {
                metadata["pier.error"] = "\(error)"
                logger.warning(message, metadata: metadata)
            } else {
                logger.info(message, metadata: metadata)
            }
        }
        for (loop, done) in waiters { loop.execute(done) }
    }

    /// GETs `url` and reads the key document: JSON with `paserk` (and optionally `implicit_assertion`, `version`,
    /// `purpose`), or the PASERK as plain text.
    @Sendable static func fetch(_ url: String) async throws -> (paserk: String, implicitAssertion: String?) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json, text/plain")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        guard response.status == .ok else {
            throw FetchError(description: "the key URL answered \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: 65536)
        return try parseDocument(Array(buffer: body))
    }

    /// The key document's PASERK and implicit assertion.
    static func parseDocument(_ bytes: [UInt8]) throws -> (paserk: String, implicitAssertion: String?) {
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("k4.public.") { return (text, nil) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw FetchError(description: "the key URL's answer is neither JSON nor a PASERK")
        }
        if let version = object["version"] as? String, version != "v4" {
            throw FetchError(description: "the key is for PASETO \(version), not v4")
        }
        if let purpose = object["purpose"] as? String, purpose != "public" {
            throw FetchError(description: "the key is for the \(purpose) purpose, not public")
        }
        guard let paserk = object["paserk"] as? String else {
            throw FetchError(description: "the key URL's JSON has no paserk")
        }
        return (paserk, object["implicit_assertion"] as? String)
    }
}

/// The key sets of every route with `auth:`, kept across reloads so a fetched key is not fetched again when the
/// configuration is read anew; and the service that refreshes them.
public final class TokenKeyRegistry: Sendable {
    private let sets = Mutex<[PASETOAuthConfig: TokenKeySet]>([:])
    private let fetcher: TokenKeySet.Fetcher?

    public init() {
        fetcher = nil
    }

    /// With another way to fetch keys (tests).
    init(fetcher: @escaping TokenKeySet.Fetcher) {
        self.fetcher = fetcher
    }

    /// The key set of each configuration (shared by routes with the same one); sets no route uses are dropped.
    func keySets(for configs: [PASETOAuthConfig?], logger: Logger) -> [TokenKeySet?] {
        sets.withLock { known in
            var kept: [PASETOAuthConfig: TokenKeySet] = [:]
            let result = configs.map { config -> TokenKeySet? in
                guard let config else { return nil }
                let set = kept[config] ?? known[config] ?? TokenKeySet(config: config, logger: logger, fetcher: fetcher)
                kept[config] = set
                return set
            }
            known = kept
            return result
        }
    }

    var all: [TokenKeySet] { sets.withLock { Array($0.values) } }
}

/// Fetches the keys of `auth:` routes when they are due: at start, every `refresh`, and every 10 s after a failure.
struct TokenKeyRefresher: Service {
    let registry: TokenKeyRegistry

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await withTaskGroup(of: Void.self) { group in
                    for set in registry.all where set.isFetched {
                        group.addTask { await set.refreshIfDue() }
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
