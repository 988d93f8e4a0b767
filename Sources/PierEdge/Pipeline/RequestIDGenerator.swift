import Synchronization

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
