import Foundation
import PierCore
import Testing

@testable import PierBoard

@Suite("Board API pure logic")
struct BoardPureLogicTests {
    @Test("the account throttle starts after five failures, doubles, caps at 15 minutes and clears on success")
    func accountThrottle() {
        var state = LoginThrottleState()
        for _ in 0..<4 { state.recordFailure(account: "a", address: "1.1.1.1", now: 100) }
        #expect(state.retryAfter(account: "a", address: "2.2.2.2", now: 100) == nil)
        state.recordFailure(account: "a", address: "1.1.1.1", now: 100)
        #expect(state.retryAfter(account: "a", address: "2.2.2.2", now: 100) == 30)
        #expect(state.retryAfter(account: "a", address: "2.2.2.2", now: 131) == nil)
        state.recordFailure(account: "a", address: "1.1.1.1", now: 131)
        #expect(state.retryAfter(account: "a", address: "2.2.2.2", now: 131) == 60)
        for _ in 0..<20 { state.recordFailure(account: "a", address: "3.3.3.3", now: 200) }
        #expect(state.retryAfter(account: "a", address: "4.4.4.4", now: 200) == 900.0)
        state.recordSuccess(account: "a", address: "3.3.3.3")
        #expect(state.retryAfter(account: "a", address: "4.4.4.4", now: 200) == nil)
        #expect(state.retryAfter(account: "b", address: "1.1.1.1", now: 200) == nil)
    }

    @Test("the address throttle stops a spray over many accounts until its window ends")
    func addressThrottle() {
        var state = LoginThrottleState()
        for index in 0..<30 { state.recordFailure(account: "user\(index)", address: "9.9.9.9", now: 0) }
        #expect(state.retryAfter(account: "fresh", address: "9.9.9.9", now: 10) == 890)
        #expect(state.retryAfter(account: "fresh", address: "8.8.8.8", now: 10) == nil)
        #expect(state.retryAfter(account: "fresh", address: "9.9.9.9", now: 900) == nil)
    }

    @Test("the address block lasts the full 15 minutes from the failure that starts it, however spread the failures")
    func addressBlockLength() {
        var state = LoginThrottleState()
        for index in 0..<29 { state.recordFailure(account: "user\(index)", address: "9.9.9.9", now: Double(index)) }
        #expect(state.retryAfter(account: "fresh", address: "9.9.9.9", now: 830) == nil)
        state.recordFailure(account: "last", address: "9.9.9.9", now: 833)
        #expect(state.retryAfter(account: "fresh", address: "9.9.9.9", now: 833) == 900)
        #expect(state.retryAfter(account: "fresh", address: "9.9.9.9", now: 1_732) == 1)
        #expect(state.retryAfter(account: "fresh", address: "9.9.9.9", now: 1_733) == nil)
    }

    @Test("memory stays bounded under a spray of distinct accounts, and the spray cannot lift an active block")
    func bounded() {
        var state = LoginThrottleState()
        state.maxEntries = 100
        for _ in 0..<5 { state.recordFailure(account: "victim", address: "attacker", now: 0) }
        #expect(state.retryAfter(account: "victim", address: "elsewhere", now: 1) != nil)
        for index in 0..<1_000 { state.recordFailure(account: "u\(index)", address: "a\(index)", now: 1) }
        #expect(state.accounts.count + state.addresses.count <= 100)
        #expect(state.retryAfter(account: "victim", address: "elsewhere", now: 2) != nil)
    }

    @Test("an attempt is counted before it is checked against bcrypt, so parallel attempts cannot pass together")
    func beginCounts() {
        var state = LoginThrottleState()
        let admitted = (0..<50).filter { _ in state.begin(account: "a", address: "1.1.1.1", now: 0) == nil }.count
        #expect(admitted == 5)
        state.recordSuccess(account: "a", address: "1.1.1.1")
        #expect(state.begin(account: "a", address: "1.1.1.1", now: 0) == nil)
    }

    @Test("listen addresses and trusted proxies parse, and refuse nonsense")
    func parsing() throws {
        #expect(SocketAddressSpec(parsing: "127.0.0.1:9001") == SocketAddressSpec(host: "127.0.0.1", port: 9001))
        #expect(SocketAddressSpec(parsing: "[::1]:0") == SocketAddressSpec(host: "::1", port: 0))
        #expect(SocketAddressSpec(host: "::1", port: 80).description == "[::1]:80")
        for bad in ["9001", "host:", ":80", "host:99999", "[::1]80"] {
            #expect(SocketAddressSpec(parsing: bad) == nil)
        }
        let proxies = try TrustedProxies(parsing: "loopback, 10.0.0.5")
        #expect(proxies.trusts("127.0.0.1") && proxies.trusts("::1") && proxies.trusts("10.0.0.5"))
        #expect(!proxies.trusts("10.0.0.6") && !proxies.trusts(nil))
        let none = try TrustedProxies(parsing: "none")
        #expect(!none.trusts("127.0.0.1"))
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies(parsing: "10.0.0.0/8x") }
        // Ranges, for peers whose addresses change (edge pods); IPv4-mapped peers count as IPv4.
        let ranges = try TrustedProxies(parsing: "10.244.0.0/16, fd00:10::/32, 192.0.2.7")
        #expect(ranges.trusts("10.244.3.9") && ranges.trusts("::ffff:10.244.0.1") && ranges.trusts("fd00:10::42"))
        #expect(ranges.trusts("::ffff:192.0.2.7"))
        #expect(!ranges.trusts("10.245.0.1") && !ranges.trusts("fd00:11::1") && !ranges.trusts("127.0.0.1"))
        #expect(IPNetwork(parsing: "10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork(parsing: "fd00:10::1/32")?.description == "fd00:10::/32")
        #expect(IPNetwork(parsing: "0.0.0.0/0")?.contains([1, 2, 3, 4]) == true)
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0.0/", "/8", "10.0.0/8", "10.0.0.0/+8"] {
            #expect(throws: TrustedProxiesError.self, "\(bad)") { try TrustedProxies(parsing: bad) }
        }
    }

    @Test("wire times: RFC 3339 in, UTC with milliseconds out; nonsense refused")
    func wireTime() {
        #expect(WireTime.parse("2026-12-01T18:00:00+09:00") == 1_796_115_600_000)
        #expect(WireTime.parse("2026-12-01T09:00:00.250Z") == 1_796_115_600_250)
        #expect(WireTime.format(1_796_115_600_250) == "2026-12-01T09:00:00.250Z")
        // The calendar-free formatter agrees with Foundation across leap years and centuries.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let milliseconds = Int64.random(in: 0...13_569_465_600_000, using: &generator)
            // Whole seconds through Foundation (exact in a Double), the milliseconds by arithmetic.
            let seconds = Date(timeIntervalSince1970: Double(milliseconds / 1000)).formatted(.iso8601)
            let fraction = String(milliseconds % 1000)
            let expected =
                seconds.dropLast() + "." + String(repeating: "0", count: 3 - fraction.count) + fraction + "Z"
            #expect(WireTime.format(milliseconds) == expected, "\(milliseconds)")
        }
        #expect(WireTime.format(951_782_400_000) == "2000-02-29T00:00:00.000Z")
        for bad in ["tomorrow", "2026-13-01T00:00:00Z", "2026-12-01", "", String(repeating: "9", count: 50)] {
            #expect(WireTime.parse(bad) == nil, "\(bad)")
        }
    }
}
