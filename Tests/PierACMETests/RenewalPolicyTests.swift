import Foundation
import Testing

@testable import PierACME

@Suite("ACME renewal policy")
struct RenewalPolicyTests {
    let policy = RenewalPolicy()
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("without ARI a certificate is renewed two thirds into its lifetime")
    func twoThirds() {
        let end = start.addingTimeInterval(90 * 86400)
        #expect(
            policy.renewalTime(notBefore: start, notAfter: end, window: nil, random: 0.7)
                == start.addingTimeInterval(60 * 86400))
    }

    @Test("with ARI the renewal is at a random moment of the suggested window")
    func window() {
        let end = start.addingTimeInterval(90 * 86400)
        let window = start.addingTimeInterval(10 * 86400)...start.addingTimeInterval(12 * 86400)
        #expect(policy.renewalTime(notBefore: start, notAfter: end, window: window, random: 0) == window.lowerBound)
        #expect(
            policy.renewalTime(notBefore: start, notAfter: end, window: window, random: 0.5)
                == start.addingTimeInterval(11 * 86400))
    }

    @Test("failures back off exponentially, with jitter, up to six hours")
    func backOff() {
        #expect(policy.retryDelay(failures: 1, random: 0) == 60)
        #expect(policy.retryDelay(failures: 2, random: 0) == 120)
        #expect(policy.retryDelay(failures: 3, random: 1) == 120)
        #expect(policy.retryDelay(failures: 30, random: 0) == 6 * 3600)
    }
}
