import Foundation

/// A real webhook receiver for tests: `Tests/Probes/webhook_receiver.py` on 127.0.0.1, which checks every call's
/// Standard Webhooks signature with the PyPI `standardwebhooks` package and records it.
public struct WebhookTestReceiver: Sendable {
    /// One call as the receiver took it.
    public struct Received: Sendable {
        public var attempt: Int
        public var path: String
        /// What the receiver answered.
        public var status: Int
        /// Whether `standardwebhooks` accepted the signature and timestamp.
        public var verified: Bool
        public var error: String?
        /// Header names in lower case.
        public var headers: [String: String]
        /// The JSON body as received.
        public var bodyJSON: String

        public var body: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(bodyJSON.utf8))) as? [String: Any] ?? [:]
        }

        public var type: String? { body["type"] as? String }
        public var data: [String: Any] { body["data"] as? [String: Any] ?? [:] }
    }

    public let port: Int
    public let directory: String

    /// The URL of one hook on the receiver; its secret is given with ``setSecret(_:for:)``.
    public func url(_ name: String) -> String { "http://127.0.0.1:\(port)/hooks/\(name)" }

    public func setSecret(_ secret: String, for name: String) throws {
        try secret.write(toFile: "\(directory)/\(name).secret", atomically: true, encoding: .utf8)
    }

    /// Starts the receiver (`--fail-first N`, `--status CODE`), runs `body`, stops it.
    public static func with<Result: Sendable>(
        _ options: [String] = [], _ body: (WebhookTestReceiver) async throws -> Result
    ) async throws -> Result {
        try await TemporaryDirectory.with { directory in
            try await TestPython.withProbe("webhook_receiver.py", arguments: ["--out", directory] + options) { port in
                try await body(WebhookTestReceiver(port: port, directory: directory))
            }
        }
    }

    /// Every call taken so far, in order.
    public func received() throws -> [Received] {
        let path = directory + "/requests.jsonl"
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return Received(
                attempt: object["attempt"] as? Int ?? 0, path: object["path"] as? String ?? "",
                status: object["status"] as? Int ?? 0, verified: object["verified"] as? Bool ?? false,
                error: object["error"] as? String, headers: object["headers"] as? [String: String] ?? [:],
                bodyJSON: String(
                    decoding: try JSONSerialization.data(withJSONObject: object["body"] ?? [:]), as: UTF8.self))
        }
    }
}
