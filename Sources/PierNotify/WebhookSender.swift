import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PierBoardStore

/// How one webhook call ended.
public enum WebhookResult: Sendable, Equatable {
    /// The receiver answered (any status); `excerpt` is the start of its body.
    case answered(status: Int, excerpt: String)
    /// No answer: the connection failed, timed out or was refused.
    case failed(String)
}

/// Makes webhook calls; ``HTTPWebhookSender`` in production.
public protocol WebhookSender: Sendable {
    func post(url: String, headers: [(String, String)], body: String) async -> WebhookResult
    func shutdown() async
}

/// The Standard Webhooks signature of a call (https://www.standardwebhooks.com): HMAC-SHA256 over
/// `id.timestamp.body` with the secret's bytes, as `v1,<base64>`.
public enum WebhookSignature {
    public static func sign(id: String, timestamp: Int64, body: String, secret: String) -> String? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let key = Data(base64Encoded: encoded), !key.isEmpty else { return nil }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(id).\(timestamp).\(body)".utf8), using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The headers of one attempt: the delivery's id (the same on every attempt, so receivers drop duplicates),
    /// the attempt's time in seconds, and the signature.
    public static func headers(id: String, timestamp: Int64, body: String, secret: String) -> [(String, String)] {
        var headers = [
            ("content-type", "application/json"), ("user-agent", "Pier-Webhooks/1"), ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
        ]
        if let signature = sign(id: id, timestamp: timestamp, body: body, secret: secret) {
            headers.append(("webhook-signature", signature))
        }
        return headers
    }
}

/// Webhook calls over async-http-client: no redirects followed (a redirect is an answer like any other), 5 s to
/// connect, 10 s for the whole call, at most 1 KiB of the answer kept.
public final class HTTPWebhookSender: WebhookSender {
    let client: HTTPClient
    static let timeout = TimeAmount.seconds(10)

    public init() {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(10)))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func post(url: String, headers: [(String, String)], body: String) async -> WebhookResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: Self.timeout)
            var collected = ByteBuffer()
            for try await var piece in response.body {
                if collected.readableBytes < 1024 {
                    let slice = piece.readSlice(length: min(piece.readableBytes, 1024 - collected.readableBytes))
                    if var slice { collected.writeBuffer(&slice) }
                }
            }
            let excerpt = String(decoding: collected.readableBytesView, as: UTF8.self)
            return .answered(status: Int(response.status.code), excerpt: excerpt)
        } catch {
            return .failed(String(describing: error))
        }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}
