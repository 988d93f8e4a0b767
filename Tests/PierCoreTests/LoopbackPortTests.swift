import PierCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Loopback ports handed to other processes")
struct LoopbackPortTests {
    @Test("reserved ports lie outside the kernel's ephemeral range, are never handed out twice, and can be bound")
    func outsideEphemeralRange() throws {
        let ephemeral = LoopbackPort.ephemeralRange()
        var seen = Set<Int>()
        for _ in 0..<300 {
            let port = try LoopbackPort.reserve()
            #expect(!ephemeral.contains(port), "\(port) is in \(ephemeral)")
            #expect(seen.insert(port).inserted, "\(port) handed out twice")
        }
        let port = try LoopbackPort.reserve()
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0)
    }
}
