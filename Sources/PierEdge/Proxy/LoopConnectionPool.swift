import NIOCore
import PierCore

/// The idle keep-alive connections to one target on one event loop. Used only on that loop.
final class LoopConnectionPool: @unchecked Sendable {
    let loop: any EventLoop
    let keepalive: KeepaliveConfig
    private var idle: [UpstreamConnection] = []
    private var sweeper: Scheduled<Void>?
    private var closed = false

    init(loop: any EventLoop, keepalive: KeepaliveConfig) {
        self.loop = loop
        self.keepalive = keepalive
    }

    var idleCount: Int { idle.count }

    /// The most recently used idle connection that is still open, if any.
    func take() -> UpstreamConnection? {
        while let connection = idle.popLast() {
            if connection.isOpen && connection.pending == nil { return connection }
            connection.close()
        }
        return nil
    }

    /// Returns a connection after a complete exchange; closes it when the pool is full or drained.
    func release(_ connection: UpstreamConnection) {
        connection.owner = nil
        guard !closed, connection.isOpen, idle.count < keepalive.maxIdlePerTarget else {
            connection.close()
            return
        }
        connection.idleSince = .now()
        idle.append(connection)
        if sweeper == nil { scheduleSweep() }
    }

    func remove(_ connection: UpstreamConnection) {
        idle.removeAll { $0 === connection }
    }

    func closeAll() {
        closed = true
        sweeper?.cancel()
        sweeper = nil
        let connections = idle
        idle = []
        for connection in connections { connection.close() }
    }

    /// Closes connections idle for longer than `idle_timeout`; runs only while there are idle connections.
    private func scheduleSweep() {
        let period = min(TimeAmount(keepalive.idleTimeout), .seconds(1))
        sweeper = loop.assumeIsolated().scheduleTask(in: period) { [self] in
            sweeper = nil
            let cutoff = NIODeadline.now() - TimeAmount(keepalive.idleTimeout)
            let expired = idle.filter { $0.idleSince <= cutoff }
            if !expired.isEmpty {
                idle.removeAll { $0.idleSince <= cutoff }
                for connection in expired { connection.close() }
            }
            if !idle.isEmpty && !closed { scheduleSweep() }
        }
    }
}
