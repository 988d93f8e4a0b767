import NIOCore
import Synchronization

/// Writes HTTP/1.1 response heads straight into a `ByteBuffer`.
struct HTTPResponseHead {
    var status: Int
    var headers: [(String, String)] = []
    var vary: [String] = []

    init(status: Int) {
        self.status = status
        headers.reserveCapacity(14)
    }

    mutating func add(_ name: String, _ value: String) {
        headers.append((name, value))
    }

    mutating func add(_ pairs: [(String, String)]) {
        for (name, value) in pairs {
            if name == "Vary" {
                for item in value.split(separator: ",") {
                    let trimmed = String(item.trimmingASCIISpaces())
                    if !vary.contains(trimmed) { vary.append(trimmed) }
                }
            } else {
                headers.append((name, value))
            }
        }
    }

    mutating func addVary(_ value: String) {
        if !vary.contains(value) { vary.append(value) }
    }

    /// Writes the head with one bounds check and one copy per string: `ByteBuffer`'s per-call bookkeeping was a
    /// tenth of the edge's CPU time when every field went through `writeString`.
    func write(into buffer: inout ByteBuffer) {
        write(into: &buffer, ending: true)
    }

    /// Writes the status line and the fields, without the blank line that ends the head: the cached start of an
    /// answer that per-request fields complete.
    func writeFields(into buffer: inout ByteBuffer) {
        write(into: &buffer, ending: false)
    }

    private func write(into buffer: inout ByteBuffer, ending: Bool) {
        let statusLine = Self.statusLine(status)
        var total = statusLine.utf8.count + (ending ? 2 : 0)
        for (name, value) in headers { total += name.utf8.count + value.utf8.count + 4 }
        if !vary.isEmpty {
            total += 8 + 2 * (vary.count - 1)
            for item in vary { total += item.utf8.count }
        }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            var writer = RawHeadWriter(base: raw.baseAddress!)
            writer.put(statusLine)
            for (name, value) in headers {
                writer.put(name)
                writer.put(UInt8(ascii: ":"), UInt8(ascii: " "))
                writer.put(value)
                writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            if !vary.isEmpty {
                writer.put("Vary: ")
                for (index, item) in vary.enumerated() {
                    if index > 0 { writer.put(UInt8(ascii: ","), UInt8(ascii: " ")) }
                    writer.put(item)
                }
                writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            }
            if ending { writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n")) }
            return writer.offset
        }
    }

    /// Ends a cached head: `Date`, `X-Request-ID`, `Connection` when it must be said, and the blank line.
    static func writeClosingFields(
        date: String, requestID: String, connection: StaticString?, into buffer: inout ByteBuffer
    ) {
        let total =
            6 + date.utf8.count + 16 + requestID.utf8.count + 2 + (connection.map { $0.utf8CodeUnitCount } ?? 0) + 2
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            var writer = RawHeadWriter(base: raw.baseAddress!)
            writer.put("Date: ")
            writer.put(date)
            writer.put("\r\nX-Request-ID: ")
            writer.put(requestID)
            writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            if let connection { writer.put(connection) }
            writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            return writer.offset
        }
    }

    static func statusLine(_ status: Int) -> String {
        switch status {
        case 200: "HTTP/1.1 200 OK\r\n"
        case 204: "HTTP/1.1 204 No Content\r\n"
        case 206: "HTTP/1.1 206 Partial Content\r\n"
        case 304: "HTTP/1.1 304 Not Modified\r\n"
        case 404: "HTTP/1.1 404 Not Found\r\n"
        default: "HTTP/1.1 \(status) \(reasonPhrase(status))\r\n"
        }
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 422: "Unprocessable Content"
        case 428: "Precondition Required"
        case 421: "Misdirected Request"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

extension ByteBuffer {
    /// Writes one header line, `name` given with its colon and space: `writeHeaderLine("Host: ", host)`.
    mutating func writeHeaderLine(_ name: StaticString, _ value: String) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: name.utf8CodeUnitCount + value.utf8.count + 2) { raw in
            var writer = RawHeadWriter(base: raw.baseAddress!)
            writer.put(name)
            writer.put(value)
            writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            return writer.offset
        }
    }
}

/// Copies bytes into memory already sized for them by the caller.
private struct RawHeadWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0

    init(base: UnsafeMutableRawPointer) {
        self.base = base
    }

    mutating func put(_ string: String) {
        let copied = string.utf8.withContiguousStorageIfAvailable { bytes in
            if let source = bytes.baseAddress {
                (base + offset).copyMemory(from: source, byteCount: bytes.count)
            }
            return bytes.count
        }
        if let copied {
            offset += copied
        } else {
            for byte in string.utf8 {
                base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                offset += 1
            }
        }
    }

    mutating func put(_ string: StaticString) {
        (base + offset).copyMemory(from: string.utf8Start, byteCount: string.utf8CodeUnitCount)
        offset += string.utf8CodeUnitCount
    }

    mutating func put(_ first: UInt8, _ second: UInt8) {
        base.storeBytes(of: first, toByteOffset: offset, as: UInt8.self)
        base.storeBytes(of: second, toByteOffset: offset + 1, as: UInt8.self)
        offset += 2
    }
}

/// Request ids: an incoming `X-Request-ID` is kept when it is short and plain, otherwise a random one is made.
struct RequestIDGenerator {
    private var state: UInt64

    init() {
        // A process-wide seed from the system generator plus a per-connection counter: distinct streams without a
        // `getrandom` call for every connection.
        let sequence = Self.connections.add(1, ordering: .relaxed).newValue
        state = Self.seed &+ UInt64(truncatingIfNeeded: sequence) &* 0xD1B5_4A32_D192_ED03
        _ = next()
    }

    private static let seed: UInt64 = {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }()
    private static let connections = Atomic<Int>(0)

    /// SplitMix64: fast, well-distributed, seeded once per process. Request ids are correlation handles, not
    /// secrets.
    mutating func next() -> String {
        func step() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let high = step()
        let low = step()
        // One allocation: 32 hex digits written in place.
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { table in
                for index in 0..<16 {
                    buffer[index] = table[Int((high >> UInt64(60 - 4 * index)) & 0xF)]
                    buffer[16 + index] = table[Int((low >> UInt64(60 - 4 * index)) & 0xF)]
                }
            }
            return 32
        }
    }

    static func isAcceptable(_ value: String) -> Bool {
        let count = value.utf8.count
        return count >= 1 && count <= 128
            && value.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: ":")
            }
    }
}

/// The `Date` header value, formatted at most once per second.
final class DateHeaderCache {
    private var second = -1
    private var value = ""

    func current(epochSeconds: Int) -> String {
        if epochSeconds != second {
            second = epochSeconds
            value = HTTPDate.format(epochSeconds: epochSeconds)
        }
        return value
    }
}
