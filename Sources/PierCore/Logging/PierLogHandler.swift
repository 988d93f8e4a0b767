import Foundation
import Logging
import Synchronization

/// How log lines are written: readable text for a terminal, or one JSON object per line for collectors.
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// The log handler the `pier` executable bootstraps: text or JSON lines on standard error.
///
/// Libraries never create it; they receive a `Logger`. Metadata keys are written as given (Pier's own
/// keys are prefixed `pier.`).
public struct PierLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let format: LogFormat
    private let sink: LogSink

    public init(label: String, format: LogFormat, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        let line: String
        switch format {
        case .text: line = Self.textLine(event: event, label: label, metadata: merged)
        case .json: line = Self.jsonLine(event: event, label: label, metadata: merged)
        }
        sink.write(line)
    }

    static func timestamp() -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date.now)
    }

    static func textLine(event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        var line = "\(timestamp()) \(event.level.rawValue.uppercased()) \(label): \(event.message)"
        for key in metadata.keys.sorted() {
            line += " \(key)=\(metadata[key].map(flatten) ?? "")"
        }
        return line + "\n"
    }

    static func jsonLine(event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        var line = "{\"time\":"
        JSONText.appendQuoted(timestamp(), to: &line)
        line += ",\"level\":"
        JSONText.appendQuoted(event.level.rawValue, to: &line)
        line += ",\"logger\":"
        JSONText.appendQuoted(label, to: &line)
        line += ",\"message\":"
        JSONText.appendQuoted(event.message.description, to: &line)
        for key in metadata.keys.sorted() where !["time", "level", "logger", "message"].contains(key) {
            line += ","
            JSONText.appendQuoted(key, to: &line)
            line += ":"
            JSONText.appendQuoted(metadata[key].map(flatten) ?? "", to: &line)
        }
        return line + "}\n"
    }

    static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values): return "[" + values.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            return "{" + dictionary.keys.sorted().map { "\($0)=\(flatten(dictionary[$0]!))" }.joined(separator: ",")
                + "}"
        }
    }
}

/// Where log lines go; writes are serialised so concurrent lines never interleave.
public final class LogSink: Sendable {
    private let descriptor: Int32
    private let lock = Mutex<Void>(())

    /// Standard error, where Pier writes its logs.
    public static let standardError = LogSink(descriptor: 2)
    /// Standard output.
    public static let standardOutput = LogSink(descriptor: 1)

    /// Writes to an open file descriptor that outlives the sink.
    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Writes one line.
    public func write(_ line: String) {
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { buffer in
                    Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
