import Foundation

/// When a certificate is renewed and how failures are retried. Pure, with the randomness passed in.
public struct RenewalPolicy: Sendable {
    /// The share of the lifetime after which a certificate is renewed without ARI.
    public var lifetimeFraction: Double = 2.0 / 3.0
    /// The first retry after a failure; doubled per failure up to `maximumRetry`.
    public var firstRetry: TimeInterval = 60
    public var maximumRetry: TimeInterval = 6 * 3600

    public init() {}

    /// When to renew: a random moment in the CA's suggested window (RFC 9773 §4.2) when there is one that has not
    /// passed, otherwise two thirds into the lifetime. `random` is in 0..<1.
    public func renewalTime(notBefore: Date, notAfter: Date, window: ClosedRange<Date>?, random: Double) -> Date {
        if let window {
            let span = window.upperBound.timeIntervalSince(window.lowerBound)
            return window.lowerBound.addingTimeInterval(span * random)
        }
        return notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) * lifetimeFraction)
    }

    /// The wait after `failures` consecutive failures (at least 1): exponential with a jitter of up to a half
    /// downwards, so replicas and names that failed together do not retry together.
    public func retryDelay(failures: Int, random: Double) -> TimeInterval {
        let exponent = Double(min(max(failures, 1) - 1, 20))
        let base = min(firstRetry * pow(2, exponent), maximumRetry)
        return base * (1 - 0.5 * random)
    }
}
