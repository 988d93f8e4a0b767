import Foundation
import Synchronization

/// Makes UUIDv7 ids (RFC 9562): time-ordered, so ordering by id follows creation order, and monotonic within this
/// process even inside one millisecond.
public final class IDGenerator: Sendable {
    private struct State {
        var lastMilliseconds: UInt64 = 0
        var counter: UInt16 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// A new id, lower-case hexadecimal with dashes.
    public func next(now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        let (milliseconds, counter) = state.withLock { state -> (UInt64, UInt16) in
            var milliseconds = UInt64(max(0, now))
            if milliseconds <= state.lastMilliseconds {
                milliseconds = state.lastMilliseconds
                state.counter &+= 1
                if state.counter > 0x0FFF {
                    milliseconds += 1
                    state.counter = 0
                }
            } else {
                state.counter = UInt16.random(in: 0...0x07FF)
            }
            state.lastMilliseconds = milliseconds
            return (milliseconds, state.counter)
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index))) }
        bytes[6] = 0x70 | UInt8(counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        var random = SystemRandomNumberGenerator()
        for index in 8..<16 { bytes[index] = random.next() }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
        let characters = Array(hex)
        return String(characters[0..<8]) + "-" + String(characters[8..<12]) + "-" + String(characters[12..<16]) + "-"
            + String(characters[16..<20]) + "-" + String(characters[20..<32])
    }

    /// Whether `text` has the shape of an id this generator makes (any UUID, lower case).
    public static func isValid(_ text: String) -> Bool {
        guard text.utf8.count == 36 else { return false }
        for (index, byte) in text.utf8.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) else { return false }
            }
        }
        return true
    }
}
