import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP port on 127.0.0.1 that was free a moment ago, for handing an address to a process before it starts (a board
/// instance behind `pier up`'s edge, a test CA told where to validate).
///
/// The port is chosen outside the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), so that between the
/// check and the other process's bind no outgoing connection and no bind to port 0 can be given it; and a port is
/// handed out once per process, so two reservations never collide with each other.
public enum LoopbackPort {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String { "cannot reserve a loopback port" }
    }

    private static let handedOut = Mutex<Set<Int>>([])

    public static func reserve() throws(Failure) -> Int {
        let ephemeral = ephemeralRange()
        for _ in 0..<512 {
            let candidate = Int.random(in: 10_000...65_535)
            if ephemeral.contains(candidate) { continue }
            let fresh = handedOut.withLock { ports in ports.insert(candidate).inserted }
            guard fresh else { continue }
            if isFree(candidate) { return candidate }
        }
        throw Failure()
    }

    /// The kernel's range for port-0 binds and outgoing connections (Linux's default when it cannot be read).
    public static func ephemeralRange() -> ClosedRange<Int> {
        let fallback = 32_768...60_999
        guard let file = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r") else { return fallback }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return fallback }
        let fields = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard fields.count == 2 else { return fallback }
        let (low, high) = (fields[0], fields[1])
        guard low > 0, high >= low else { return fallback }
        return low...high
    }

    private static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        return bound == 0
    }
}
