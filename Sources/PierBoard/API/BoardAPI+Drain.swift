import Synchronization

extension BoardAPI {
    /// Starts draining before a shutdown: from now on `/readyz` answers 503 `draining` while every other route keeps
    /// serving, so that a load balancer's health checks take the instance out of rotation before it stops listening.
    public func startDraining() {
        drain.start()
    }

    /// Whether ``startDraining()`` was called.
    public var isDraining: Bool { drain.isDraining }
}

/// Whether a board instance is draining; set once, never cleared (the process is on its way out).
final class DrainState: Sendable {
    private let draining = Atomic<Bool>(false)

    func start() {
        draining.store(true, ordering: .relaxed)
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }
}
