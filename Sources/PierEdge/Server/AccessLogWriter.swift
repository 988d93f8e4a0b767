import NIOConcurrencyHelpers
import PierCore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// What the access log records about one exchange.
public struct AccessLogEntry: Sendable {
    public var remoteAddress: String
    public var method: String
    public var target: String
    public var minorVersion: Int
    public var status: Int
    public var bodyBytes: Int
    public var referer: String?
    public var userAgent: String?
    public var requestID: String
    public var host: String?
    public var durationSeconds: Double
    public var epochSeconds: Int
}

/// Writes access log lines through a buffer that is flushed when it fills and at least once a second, so logging
/// costs a memory copy per request, not a system call.
public final class AccessLogWriter: Service, Sendable {
    public let format: AccessLogConfig.Format
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let buffer = NIOLockedValueBox([UInt8]())
    private let flushThreshold = 32 * 1024

    /// Why the log could not be opened.
    public struct OpenError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens the destination; `nil` for `off`.
    public static func open(_ config: AccessLogConfig) throws(OpenError) -> AccessLogWriter? {
        switch config.destination {
        case .off: return nil
        case .standardOutput: return AccessLogWriter(format: config.format, descriptor: 1, ownsDescriptor: false)
        case .standardError: return AccessLogWriter(format: config.format, descriptor: 2, ownsDescriptor: false)
        case .file(let path):
            let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else {
                throw OpenError(description: "cannot open access log \(path): \(String(cString: strerror(errno)))")
            }
            return AccessLogWriter(format: config.format, descriptor: descriptor, ownsDescriptor: true)
        }
    }

    init(format: AccessLogConfig.Format, descriptor: Int32, ownsDescriptor: Bool) {
        self.format = format
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// Records one exchange.
    public func record(_ entry: AccessLogEntry) {
        let line = format == .json ? Self.json(entry) : Self.combined(entry)
        let pending: [UInt8]? = buffer.withLockedValue { buffer in
            buffer.append(contentsOf: line.utf8)
            guard buffer.count >= flushThreshold else { return nil }
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if let pending { write(pending) }
    }

    /// Writes out whatever is buffered.
    public func flush() {
        let pending = buffer.withLockedValue { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if !pending.isEmpty { write(pending) }
    }

    /// Flushes once a second until shutdown, then a last time.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            flush()
        }
        flush()
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    static func combined(_ entry: AccessLogEntry) -> String {
        func quoted(_ value: String?) -> String {
            guard let value, !value.isEmpty else { return "\"-\"" }
            var escaped = ""
            for scalar in value.unicodeScalars {
                if scalar == "\"" || scalar == "\\" {
                    escaped += "\\" + String(scalar)
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    escaped += "\\x" + String(scalar.value, radix: 16)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
            return "\"" + escaped + "\""
        }
        let request = "\(entry.method) \(entry.target) HTTP/1.\(entry.minorVersion)"
        return
            "\(entry.remoteAddress) - - [\(CommonLogTime.format(epochSeconds: entry.epochSeconds))] \(quoted(request)) "
            + "\(entry.status) \(entry.bodyBytes) \(quoted(entry.referer)) \(quoted(entry.userAgent)) "
            + "\(entry.requestID) \(String(format: entry.durationSeconds))\n"
    }

    static func json(_ entry: AccessLogEntry) -> String {
        var line = "{\"time\":"
        JSONText.appendQuoted(HTTPDate.iso8601(epochSeconds: entry.epochSeconds), to: &line)
        line += ",\"remote_addr\":"
        JSONText.appendQuoted(entry.remoteAddress, to: &line)
        line += ",\"method\":"
        JSONText.appendQuoted(entry.method, to: &line)
        line += ",\"path\":"
        JSONText.appendQuoted(entry.target, to: &line)
        line += ",\"protocol\":\"HTTP/1.\(entry.minorVersion)\",\"status\":\(entry.status),\"bytes\":\(entry.bodyBytes)"
        line += ",\"duration\":\(String(format: entry.durationSeconds)),\"request_id\":"
        JSONText.appendQuoted(entry.requestID, to: &line)
        if let host = entry.host {
            line += ",\"host\":"
            JSONText.appendQuoted(host, to: &line)
        }
        if let referer = entry.referer {
            line += ",\"referer\":"
            JSONText.appendQuoted(referer, to: &line)
        }
        if let userAgent = entry.userAgent {
            line += ",\"user_agent\":"
            JSONText.appendQuoted(userAgent, to: &line)
        }
        return line + "}\n"
    }
}

extension String {
    /// Seconds with millisecond precision, like nginx's `$request_time`.
    init(format seconds: Double) {
        let milliseconds = Int((seconds * 1000).rounded())
        let fraction = milliseconds % 1000
        self = "\(milliseconds / 1000)." + (fraction < 10 ? "00" : fraction < 100 ? "0" : "") + "\(fraction)"
    }
}

/// The `[10/Oct/2000:13:55:36 +0000]` time of the common and combined log formats, in UTC.
enum CommonLogTime {
    static func format(epochSeconds: Int) -> String {
        // "Sun, 06 Nov 1994 08:49:37 GMT" → "06/Nov/1994:08:49:37 +0000"
        let date = HTTPDate.format(epochSeconds: epochSeconds)
        let parts = date.split(separator: " ")
        return "\(parts[1])/\(parts[2])/\(parts[3]):\(parts[4]) +0000"
    }
}

extension HTTPDate {
    /// `1994-11-06T08:49:37Z`.
    static func iso8601(epochSeconds: Int) -> String {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
