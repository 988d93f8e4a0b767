import NIOCore
import Testing

@testable import PierEdge

/// The proxied exchange's decisions, without sockets: attempts, retries, failures and timeouts.
@Suite("Proxy exchange state machine")
struct ProxyExchangeStateMachineTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func machine(
        method idempotent: Bool = true, body: Bool = false, upgrade: Bool = false,
        retries: RetryConfig = RetryConfig(), timeouts: ProxyTimeouts = ProxyTimeouts()
    ) -> ProxyExchangeStateMachine {
        ProxyExchangeStateMachine(
            request: .init(idempotent: idempotent, hasBody: body, upgrade: upgrade), retries: retries,
            timeouts: timeouts, upstreamName: "app", now: start)
    }

    static let reset = ProxyExchangeStateMachine.Failure(status: 502, code: "upstream_reset", detail: "reset")

    @Test("attempts go to targets the balancer picks, each once, until the attempts are used up")
    func attempts() {
        var machine = Self.machine()
        var excludedSeen: [[Int]] = []
        #expect(
            machine.nextAttempt(now: Self.start) {
                excludedSeen.append($0)
                return 0
            } == .use(target: 0, fresh: false))
        #expect(machine.attemptFailed(.connectFailure, Self.reset, budget: { true }) == .retry)
        #expect(
            machine.nextAttempt(now: Self.start) {
                excludedSeen.append($0)
                return 1
            } == .use(target: 1, fresh: false))
        #expect(excludedSeen == [[], [0]])
        // Two attempts by default: the next failure is the answer.
        #expect(machine.attemptFailed(.connectFailure, Self.reset, budget: { true }) == .fail(Self.reset))
        #expect(machine.phase == .finished)
    }

    @Test("no usable target at all is 503 with Retry-After; none left after failures is the last failure")
    func noTarget() {
        var none = Self.machine()
        guard case .fail(let failure) = none.nextAttempt(now: Self.start, pick: { _ in nil }) else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.status == 503 && failure.retryAfter)
        #expect(failure.detail.contains("\"app\""))

        var some = Self.machine()
        _ = some.nextAttempt(now: Self.start) { _ in 0 }
        #expect(some.attemptFailed(.connectFailure, Self.reset, budget: { true }) == .retry)
        #expect(some.nextAttempt(now: Self.start, pick: { _ in nil }) == .fail(Self.reset))
    }

    @Test("after sending, only idempotent requests without a body are retried, and only within the budget")
    func retryRules() {
        var post = Self.machine(method: false)
        _ = post.nextAttempt(now: Self.start) { _ in 0 }
        post.connected(reused: false, now: Self.start)
        #expect(post.upstreamClosed(error: nil, budget: { true }) != .retry)

        var upload = Self.machine(body: true)
        _ = upload.nextAttempt(now: Self.start) { _ in 0 }
        upload.connected(reused: false, now: Self.start)
        #expect(upload.upstreamClosed(error: nil, budget: { true }) != .retry)

        var postConnect = Self.machine(method: false, body: true)
        _ = postConnect.nextAttempt(now: Self.start) { _ in 0 }
        // Never reached the target: safe for every method.
        #expect(postConnect.attemptFailed(.connectFailure, Self.reset, budget: { true }) == .retry)

        var overBudget = Self.machine()
        _ = overBudget.nextAttempt(now: Self.start) { _ in 0 }
        overBudget.connected(reused: false, now: Self.start)
        #expect(overBudget.upstreamClosed(error: nil, budget: { false }) != .retry)

        var notListed = Self.machine(retries: RetryConfig(attempts: 2, on: [.connectFailure]))
        _ = notListed.nextAttempt(now: Self.start) { _ in 0 }
        notListed.connected(reused: false, now: Self.start)
        #expect(notListed.upstreamClosed(error: nil, budget: { true }) != .retry)
    }

    @Test("a pooled connection found closed is replaced once, on the same target, without using an attempt")
    func staleConnection() {
        var machine = Self.machine(retries: RetryConfig(attempts: 1, on: []))
        _ = machine.nextAttempt(now: Self.start) { _ in 3 }
        machine.connected(reused: true, now: Self.start)
        #expect(machine.upstreamClosed(error: nil, budget: { false }) == .retry)
        #expect(machine.nextAttempt(now: Self.start) { _ in 9 } == .use(target: 3, fresh: true))
        machine.connected(reused: false, now: Self.start)
        // A second stale connection (or a fresh one closing) is an ordinary failure.
        #expect(machine.upstreamClosed(error: nil, budget: { true }) != .retry)
    }

    @Test("5xx heads are retried for idempotent requests when listed; a 101 nobody asked for is refused")
    func heads() {
        var machine = Self.machine(retries: RetryConfig(attempts: 2, on: [.status(503)]))
        _ = machine.nextAttempt(now: Self.start) { _ in 0 }
        machine.connected(reused: false, now: Self.start)
        #expect(machine.responseHead(status: 503, budget: { true }) == .retry)
        _ = machine.nextAttempt(now: Self.start) { _ in 1 }
        machine.connected(reused: false, now: Self.start)
        #expect(machine.responseHead(status: 503, budget: { true }) == .forward)

        var plain = Self.machine()
        _ = plain.nextAttempt(now: Self.start) { _ in 0 }
        plain.connected(reused: false, now: Self.start)
        guard case .fail(let failure) = plain.responseHead(status: 101, budget: { true }) else {
            Issue.record("a 101 to a plain request must be refused")
            return
        }
        #expect(failure.status == 502)

        var upgrade = Self.machine(upgrade: true)
        _ = upgrade.nextAttempt(now: Self.start) { _ in 0 }
        upgrade.connected(reused: false, now: Self.start)
        #expect(upgrade.responseHead(status: 101, budget: { true }) == .forward)
        upgrade.responseStarted(switched: true, eventStream: false, now: Self.start)
        #expect(upgrade.phase == .tunnel)
        #expect(upgrade.upstreamClosed(error: nil, budget: { true }) == .endTunnel)
    }

    @Test("deadlines per phase: connect, response, idle body, and none for event streams unless stream_idle")
    func deadlines() {
        let timeouts = ProxyTimeouts(connect: .seconds(2), response: .seconds(30), idle: .seconds(60))
        var machine = Self.machine(timeouts: timeouts)
        _ = machine.nextAttempt(now: Self.start) { _ in 0 }
        #expect(machine.deadline == Self.start + .seconds(3))
        machine.connected(reused: false, now: Self.start)
        #expect(machine.deadline == Self.start + .seconds(30))
        let early = machine.timerFired(
            now: Self.start + .seconds(1), clientStalledSince: nil, clientIdleTimeout: .seconds(75), budget: { true })
        #expect(early == .wait(Self.start + .seconds(30)))
        let late = machine.timerFired(
            now: Self.start + .seconds(31), clientStalledSince: nil, clientIdleTimeout: .seconds(75), budget: { true })
        // Timeouts are not retried by default (retries.on lists connect_failure and reset).
        guard case .timedOut(.fail(let failure)) = late, failure.status == 504 else {
            Issue.record("a GET that timed out is answered 504: \(late)")
            return
        }
        var listed = Self.machine(retries: RetryConfig(attempts: 2, on: [.timeout]), timeouts: timeouts)
        _ = listed.nextAttempt(now: Self.start) { _ in 0 }
        listed.connected(reused: false, now: Self.start)
        let retried = listed.timerFired(
            now: Self.start + .seconds(31), clientStalledSince: nil, clientIdleTimeout: .seconds(75), budget: { true })
        #expect(retried == .timedOut(.retry))

        var events = Self.machine(timeouts: timeouts)
        _ = events.nextAttempt(now: Self.start) { _ in 0 }
        events.connected(reused: false, now: Self.start)
        events.responseStarted(switched: false, eventStream: true, now: Self.start)
        #expect(events.deadline == nil)

        var body = Self.machine(timeouts: timeouts)
        _ = body.nextAttempt(now: Self.start) { _ in 0 }
        body.connected(reused: false, now: Self.start)
        body.responseStarted(switched: false, eventStream: false, now: Self.start)
        #expect(body.deadline == Self.start + .seconds(60))
        // A client that reads slowly keeps the exchange: its own idle timeout applies.
        let stalled = body.timerFired(
            now: Self.start + .seconds(61), clientStalledSince: Self.start + .seconds(50),
            clientIdleTimeout: .seconds(75), budget: { true })
        #expect(stalled == .wait(Self.start + .seconds(110)))
        let silent = body.timerFired(
            now: Self.start + .seconds(111), clientStalledSince: nil, clientIdleTimeout: .seconds(75),
            budget: { true })
        #expect(silent == .abort)
    }
}
