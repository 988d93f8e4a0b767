import Logging
import Metrics
import PierBoardStore
import PierCore
import ServiceLifecycle

/// Keeps `pier.board.outbox.backlog` and `pier.board.delivery.backlog` (by `channel`) current: one counting query
/// every `interval`, so scrapes cost the database nothing and an alert sees a backlog that grows.
public struct BacklogGauges: Service {
    let store: SQLNotificationStore
    let interval: Duration
    let logger: Logger

    public init(store: SQLNotificationStore, interval: Duration = .seconds(10), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let outbox = Gauge(label: PierMetric.outboxBacklog.name)
        let email = Gauge(label: PierMetric.deliveryBacklog.name, dimensions: [("channel", "email")])
        let webhook = Gauge(label: PierMetric.deliveryBacklog.name, dimensions: [("channel", "webhook")])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // Before the schema exists (or while the database is down) the gauges keep their last value.
                if await store.isReady(), let backlog = try? await store.backlog() {
                    outbox.record(backlog.outbox)
                    email.record(backlog.email)
                    webhook.record(backlog.webhook)
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
