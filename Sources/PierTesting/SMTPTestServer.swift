import Foundation

/// A real SMTP server for mail tests: `Tests/Probes/smtp_server.py` (aiosmtpd) on 127.0.0.1, started for the body and
/// stopped by PID afterwards. What it receives is parsed by Python's `email` package and read back as `Received`.
public struct SMTPTestServer: Sendable {
    /// One message as the server took it.
    public struct Received: Decodable, Sendable {
        public struct Part: Decodable, Sendable {
            public var type: String
            public var charset: String?
            public var encoding: String?
            public var content: String
        }

        public var attempt: Int
        public var mailFrom: String
        public var rcptTos: [String]
        public var tls: Bool
        public var authenticatedAs: String?
        /// What Python's parser found wrong with the message (nothing, for a well-formed one).
        public var defects: [String]
        /// Headers, decoded (RFC 2047 words become text).
        public var headers: [String: String]
        /// The longest line of the message as sent, in bytes.
        public var longestLine: Int
        /// Whether a line ended in a bare LF instead of CRLF.
        public var bareLf: Bool
        public var parts: [Part]
    }

    public let port: Int
    public let directory: String

    /// Starts the server with `options` (see the script: `--cert`, `--key`, `--implicit-tls`, `--require-starttls`,
    /// `--auth user:password`, `--mechanisms`, `--fail-first N`, `--refuse address`), runs `body`, stops the server.
    public static func with<Result: Sendable>(
        _ options: [String] = [], _ body: (SMTPTestServer) async throws -> Result
    ) async throws -> Result {
        try await TemporaryDirectory.with { directory in
            try await TestPython.withProbe("smtp_server.py", arguments: ["--out", directory] + options) { port in
                try await body(SMTPTestServer(port: port, directory: directory))
            }
        }
    }

    /// Every message taken so far, in order.
    public func received() throws -> [Received] {
        let path = directory + "/messages.jsonl"
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try decoder.decode(Received.self, from: Data($0.utf8))
        }
    }
}
