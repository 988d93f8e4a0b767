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
    public var version: EdgeHTTPVersion
    public var status: Int
    public var bodyBytes: Int
    public var referer: String?
    public var userAgent: String?
    public var requestID: String
    public var host: String?
    public var durationSeconds: Double
    public var epochSeconds: Int
    /// The TLS version and the ALPN protocol, on TLS listeners.
    public var tlsVersion: StaticString? = nil
    public var alpn: String? = nil
}

/// Writes access log lines through a buffer. A line is formatted straight into the buffer as bytes (the time once per
/// second), so logging costs a memory copy per request, not a system call or a string built piece by piece. A
/// background task writes the buffer out when it passes 32 KiB and at least once a second, so the event loops never
/// wait for the destination; only when the destination has not kept up with 4 MiB of lines does the recording thread
/// write them itself, slowing the edge down instead of losing lines.
public final class AccessLogWriter: Service, Sendable {
    public let format: AccessLogConfig.Format
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let flushInterval: Duration
    private let state = NIOLockedValueBox(State())
    /// Held while taking lines from the buffer and writing them, so that lines reach the destination in order.
    private let writing = NIOLock()
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// Past this, the background writer is woken.
    static let flushThreshold = 32 * 1024
    /// Past this, the recording thread writes the lines itself.
    static let backlogLimit = 4 * 1024 * 1024

    private struct State {
        var buffer: [UInt8] = []
        var flushRequested = false
        /// The second `time` was formatted for.
        var second = Int.min
        var time: [UInt8] = []
    }

    /// Why the log could not be opened.
    public struct OpenError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens the destination; `nil` for `off`. `flushInterval`: how long a line may wait when few come.
    public static func open(
        _ config: AccessLogConfig, flushInterval: Duration = .seconds(1)
    ) throws(OpenError) -> AccessLogWriter? {
        let descriptor: Int32
        var owned = false
        switch config.destination {
        case .off: return nil
        case .standardOutput: descriptor = 1
        case .standardError: descriptor = 2
        case .file(let path):
            descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else {
                throw OpenError(description: "cannot open access log \(path): \(String(cString: strerror(errno)))")
            }
            owned = true
        }
        return AccessLogWriter(
            format: config.format, descriptor: descriptor, ownsDescriptor: owned, flushInterval: flushInterval)
    }

    init(format: AccessLogConfig.Format, descriptor: Int32, ownsDescriptor: Bool, flushInterval: Duration) {
        self.format = format
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.flushInterval = flushInterval
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// Records one exchange.
    public func record(_ entry: AccessLogEntry) {
        let (wakeWriter, writeNow) = state.withLockedValue { state -> (Bool, Bool) in
            if state.second != entry.epochSeconds {
                state.second = entry.epochSeconds
                state.time.removeAll(keepingCapacity: true)
                switch format {
                case .combined: CommonLogTime.append(epochSeconds: entry.epochSeconds, to: &state.time)
                case .json: HTTPDate.appendISO8601(epochSeconds: entry.epochSeconds, to: &state.time)
                }
            }
            switch format {
            case .combined: Self.appendCombined(entry, time: state.time, to: &state.buffer)
            case .json: Self.appendJSON(entry, time: state.time, to: &state.buffer)
            }
            guard state.buffer.count >= Self.flushThreshold else { return (false, false) }
            if state.buffer.count >= Self.backlogLimit { return (false, true) }
            guard !state.flushRequested else { return (false, false) }
            state.flushRequested = true
            return (true, false)
        }
        if writeNow {
            flush()
        } else if wakeWriter {
            wake.yield()
        }
    }

    /// Writes out whatever is buffered, on the calling thread.
    public func flush() {
        writing.withLock {
            let pending = state.withLockedValue { state -> [UInt8] in
                state.flushRequested = false
                guard !state.buffer.isEmpty else { return [] }
                // The buffer keeps its size for the lines to come; the lines leave in a copy.
                defer { state.buffer.removeAll(keepingCapacity: true) }
                return state.buffer
            }
            if !pending.isEmpty { write(pending) }
        }
    }

    /// Writes the buffer out when woken by a full buffer and every `flushInterval`, until shutdown; then a last time.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in self.wakeups { self.flush() }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.flushInterval)
                        self.flush()
                    }
                }
            }
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

    /// The nginx combined format, then the request id and the duration in seconds:
    /// `127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 4f1c… 0.001`.
    static func appendCombined(_ entry: AccessLogEntry, time: [UInt8], to line: inout [UInt8]) {
        line.append(contentsOf: entry.remoteAddress.utf8)
        line.append(contentsOf: " - - [".utf8)
        line.append(contentsOf: time)
        line.append(contentsOf: "] \"".utf8)
        appendEscaped(entry.method, to: &line)
        line.append(0x20)
        appendEscaped(entry.target, to: &line)
        line.append(0x20)
        line.append(contentsOf: entry.version.logName.rawBytes)
        line.append(contentsOf: "\" ".utf8)
        line.appendDecimal(entry.status)
        line.append(0x20)
        line.appendDecimal(entry.bodyBytes)
        line.append(0x20)
        appendQuoted(entry.referer, to: &line)
        line.append(0x20)
        appendQuoted(entry.userAgent, to: &line)
        line.append(0x20)
        line.append(contentsOf: entry.requestID.utf8)
        line.append(0x20)
        appendSeconds(entry.durationSeconds, to: &line)
        if let tlsVersion = entry.tlsVersion {
            // On TLS listeners only, so plain lines keep nginx's layout.
            line.append(0x20)
            line.append(contentsOf: tlsVersion.rawBytes)
            line.append(0x20)
            line.append(contentsOf: (entry.alpn ?? "-").utf8)
        }
        line.append(0x0A)
    }

    /// One JSON object per line.
    static func appendJSON(_ entry: AccessLogEntry, time: [UInt8], to line: inout [UInt8]) {
        line.append(contentsOf: "{\"time\":\"".utf8)
        line.append(contentsOf: time)
        line.append(contentsOf: "\",\"remote_addr\":".utf8)
        JSONText.appendQuoted(entry.remoteAddress, to: &line)
        line.append(contentsOf: ",\"method\":".utf8)
        JSONText.appendQuoted(entry.method, to: &line)
        line.append(contentsOf: ",\"path\":".utf8)
        JSONText.appendQuoted(entry.target, to: &line)
        line.append(contentsOf: ",\"protocol\":\"".utf8)
        line.append(contentsOf: entry.version.logName.rawBytes)
        line.append(contentsOf: "\",\"status\":".utf8)
        line.appendDecimal(entry.status)
        line.append(contentsOf: ",\"bytes\":".utf8)
        line.appendDecimal(entry.bodyBytes)
        line.append(contentsOf: ",\"duration\":".utf8)
        appendSeconds(entry.durationSeconds, to: &line)
        line.append(contentsOf: ",\"request_id\":".utf8)
        JSONText.appendQuoted(entry.requestID, to: &line)
        func optional(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            line.append(contentsOf: name.rawBytes)
            JSONText.appendQuoted(value, to: &line)
        }
        optional(",\"host\":", entry.host)
        optional(",\"referer\":", entry.referer)
        optional(",\"user_agent\":", entry.userAgent)
        if let tlsVersion = entry.tlsVersion {
            line.append(contentsOf: ",\"tls\":\"".utf8)
            line.append(contentsOf: tlsVersion.rawBytes)
            line.append(0x22)
        }
        optional(",\"alpn\":", entry.alpn)
        line.append(contentsOf: "}\n".utf8)
    }

    /// A quoted field of the combined format; `"-"` when absent or empty.
    private static func appendQuoted(_ value: String?, to line: inout [UInt8]) {
        guard let value, !value.isEmpty else {
            line.append(contentsOf: "\"-\"".utf8)
            return
        }
        line.append(0x22)
        appendEscaped(value, to: &line)
        line.append(0x22)
    }

    /// As nginx escapes log fields: `"` and `\` get a backslash, control bytes become `\xHH`; other bytes, UTF-8
    /// included, are written as they are.
    static func appendEscaped(_ value: String, to line: inout [UInt8]) {
        let plain = value.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F && $0 != 0x22 && $0 != 0x5C }
        guard !plain else {
            line.append(contentsOf: value.utf8)
            return
        }
        let hex = Self.hexDigits.rawBytes
        for byte in value.utf8 {
            if byte == 0x22 || byte == 0x5C {
                line.append(0x5C)
                line.append(byte)
            } else if byte < 0x20 || byte == 0x7F {
                line.append(contentsOf: [0x5C, UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            } else {
                line.append(byte)
            }
        }
    }

    private static let hexDigits: StaticString = "0123456789ABCDEF"

    /// Seconds with millisecond precision, like nginx's `$request_time`: `0.004`.
    static func appendSeconds(_ seconds: Double, to line: inout [UInt8]) {
        let milliseconds = max(0, Int((seconds * 1000).rounded()))
        line.appendDecimal(milliseconds / 1000)
        line.append(UInt8(ascii: "."))
        let fraction = milliseconds % 1000
        line.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        line.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        line.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }
}

/// The `10/Oct/2000:13:55:36 +0000` time of the common and combined log formats, in UTC.
enum CommonLogTime {
    static func format(epochSeconds: Int) -> String {
        var bytes: [UInt8] = []
        append(epochSeconds: epochSeconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func append(epochSeconds: Int, to bytes: inout [UInt8]) {
        let parts = HTTPDate.utcParts(epochSeconds: epochSeconds)
        HTTPDate.appendTwoDigits(parts.tm_mday, to: &bytes)
        bytes.append(UInt8(ascii: "/"))
        bytes.append(contentsOf: HTTPDate.monthNames[Int(parts.tm_mon)].utf8)
        bytes.append(UInt8(ascii: "/"))
        bytes.appendDecimal(Int(parts.tm_year) + 1900)
        bytes.append(UInt8(ascii: ":"))
        HTTPDate.appendTime(parts, to: &bytes)
        bytes.append(contentsOf: " +0000".utf8)
    }
}
