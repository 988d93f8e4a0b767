import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The transport of RFC 8555: the directory, a pool of nonces (with `badNonce` retries), JWS-signed POSTs and
/// POST-as-GET, over async-http-client. One per CA directory and account key.
public final class ACMEClient: Sendable {
    let directoryURL: String
    let accountKey: ACMEAccountKey
    private let http: HTTPClient
    private let logger: Logger
    private let state = Mutex(State())
    /// Requests sent again after a `badNonce` refusal, for diagnostics and tests.
    let badNonceRetried = Atomic<Int>(0)

    private struct State {
        var directory: ACMEDirectory?
        var nonces: [String] = []
        var accountURL: String?
    }

    /// How often a request refused with `badNonce` is sent again with a fresh nonce (RFC 8555 §6.5).
    static let badNonceRetries = 5

    /// - Parameter trustedRoots: a PEM file of the roots the CA's HTTPS endpoint is verified with, instead of the
    ///   system's (only for a test CA).
    public init(directoryURL: String, accountKey: ACMEAccountKey, trustedRoots: String?, logger: Logger) throws {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let trustedRoots {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustedRoots))
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(30)))
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    /// The account URL (`kid`), once registered.
    var accountURL: String? { state.withLock { $0.accountURL } }

    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]

        var location: String? { headers.first(name: "Location") }

        /// Seconds from `Retry-After`, when given as a number (the form ACME servers use).
        var retryAfter: Duration? {
            guard let text = headers.first(name: "Retry-After"), let seconds = Int(text) else { return nil }
            return .seconds(max(0, min(seconds, 60)))
        }

        /// The targets of `Link` fields with `rel` (RFC 8288), such as `alternate` chains or `up` issuers.
        func links(rel: String) -> [String] {
            headers[canonicalForm: "Link"].compactMap { value -> String? in
                let text = String(value)
                guard let open = text.firstIndex(of: "<"), let close = text.firstIndex(of: ">"), open < close else {
                    return nil
                }
                let parameters = text[close...].lowercased()
                guard parameters.contains("rel=\"\(rel)\"") || parameters.contains("rel=\(rel)") else { return nil }
                return String(text[text.index(after: open)..<close])
            }
        }

        func decode<T: Decodable>(_ type: T.Type, step: String) throws(ACMEError) -> T {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .custom { decoder in
                let text = try decoder.singleValueContainer().decode(String.self)
                if let date = ACMEDates.parse(text) { return date }
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: text))
            }
            do {
                return try decoder.decode(T.self, from: Data(body))
            } catch {
                throw ACMEError(
                    .protocolViolation, step: step,
                    detail:
                        "unexpected \(T.self) from the CA (\(status)): \(String(decoding: body.prefix(300), as: UTF8.self))"
                )
            }
        }
    }

    /// The directory, read once.
    func directory() async throws(ACMEError) -> ACMEDirectory {
        if let directory = state.withLock({ $0.directory }) { return directory }
        let response = try await send(.GET, directoryURL, body: nil, step: "directory")
        guard response.status == 200 else {
            throw ACMEError(
                .problem, step: "directory", problem: problem(in: response),
                detail: "\(directoryURL) answered \(response.status)")
        }
        let directory = try response.decode(ACMEDirectory.self, step: "directory")
        state.withLock { $0.directory = directory }
        return directory
    }

    /// A plain GET (renewal information is not signed).
    func get(_ url: String, step: String) async throws(ACMEError) -> Response {
        let response = try await send(.GET, url, body: nil, step: step)
        guard response.status == 200 else {
            throw ACMEError(.problem, step: step, problem: problem(in: response), detail: "HTTP \(response.status)")
        }
        return response
    }

    private func nonce() async throws(ACMEError) -> String {
        if let nonce = state.withLock({ $0.nonces.popLast() }) { return nonce }
        let url = try await directory().newNonce
        let response = try await send(.HEAD, url, body: nil, step: "new nonce")
        guard let nonce = response.headers.first(name: "Replay-Nonce") else {
            throw ACMEError(.protocolViolation, step: "new nonce", detail: "\(url) sent no Replay-Nonce")
        }
        return nonce
    }

    /// A signed POST (`payload`), or a POST-as-GET (`nil`); a `badNonce` refusal is retried with a new nonce, any
    /// other problem document is thrown with the step's name.
    func post(
        _ url: String, payload: [UInt8]?, step: String, accept: String? = nil
    ) async throws(ACMEError) -> Response {
        var attempt = 0
        while true {
            attempt += 1
            let nonce = try await nonce()
            let body: [UInt8]
            do {
                body = try accountKey.sign(payload: payload, url: url, nonce: nonce, accountURL: accountURL)
            } catch {
                throw ACMEError(.protocolViolation, step: step, detail: "cannot sign the request: \(error)")
            }
            let response = try await send(.POST, url, body: body, step: step, accept: accept)
            guard response.status >= 400 else { return response }
            let problem = problem(in: response)
            if problem?.isBadNonce == true && attempt <= Self.badNonceRetries {
                badNonceRetried.add(1, ordering: .relaxed)
                logger.debug("ACME badNonce, sending again", metadata: ["pier.acme.step": "\(step)"])
                continue
            }
            throw ACMEError(
                .problem, step: step,
                problem: problem ?? ACMEProblem(detail: "HTTP \(response.status)", status: response.status))
        }
    }

    /// A JSON payload for `post`.
    static func payload<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }

    /// Registers the account key, or finds the account it already has (RFC 8555 §7.3: the same key gives the same
    /// account, answered 200 instead of 201).
    func register(email: String?) async throws(ACMEError) -> String {
        struct NewAccount: Encodable {
            var termsOfServiceAgreed = true
            var contact: [String]?
        }
        let url = try await directory().newAccount
        let response = try await post(
            url, payload: Self.payload(NewAccount(contact: email.map { ["mailto:\($0)"] })), step: "new account")
        guard let location = response.location else {
            throw ACMEError(.protocolViolation, step: "new account", detail: "no account URL (Location) in the answer")
        }
        state.withLock { $0.accountURL = location }
        if response.status == 201 {
            logger.notice("ACME account created", metadata: ["pier.acme.account": "\(location)"])
        }
        return location
    }

    private func send(
        _ method: HTTPMethod, _ url: String, body: [UInt8]?, step: String, accept: String? = nil
    ) async throws(ACMEError) -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "pier-acme")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/jose+json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        if let accept { request.headers.add(name: "Accept", value: accept) }
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 4 << 20)
            if let nonce = response.headers.first(name: "Replay-Nonce") {
                state.withLock { state in
                    state.nonces.append(nonce)
                    if state.nonces.count > 8 { state.nonces.removeFirst() }
                }
            }
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(buffer: bytes))
        } catch {
            throw ACMEError(.unreachable, step: step, detail: "\(method) \(url): \(error)")
        }
    }

    private func problem(in response: Response) -> ACMEProblem? {
        guard
            response.headers.first(name: "Content-Type")?.hasPrefix("application/problem+json") == true
                || response.body.first == UInt8(ascii: "{")
        else { return nil }
        return try? JSONDecoder().decode(ACMEProblem.self, from: Data(response.body))
    }
}

/// RFC 3339 timestamps as ACME servers write them (with or without fractional seconds).
enum ACMEDates {
    static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        // Nanoseconds (Go's time format): keep milliseconds.
        if let dot = text.firstIndex(of: "."),
            let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" })
        {
            let digits = text[text.index(after: dot)..<zone].prefix(3)
            return fractional.date(from: String(text[..<dot]) + "." + digits + text[zone...])
        }
        return nil
    }
}
