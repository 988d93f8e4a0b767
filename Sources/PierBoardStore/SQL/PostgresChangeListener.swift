import Logging
import PostgresNIO
import ServiceLifecycle

/// Hears on PostgreSQL's `pier_changes` channel what every instance commits and publishes it to this process's
/// ``ChangeFeed``, so that a change made through one instance reaches the live streams of all.
///
/// Holds one pooled connection for as long as it runs. When the connection is lost it reconnects with back-off and
/// then publishes ``ChangeSignal/resync``: whatever was committed meanwhile is found by reading the events again.
public struct PostgresChangeListener: Service {
    let client: PostgresClient
    let feed: ChangeFeed
    let logger: Logger

    public init(client: PostgresClient, feed: ChangeFeed, logger: Logger) {
        self.client = client
        self.feed = feed
        self.logger = logger
    }

    public func run() async throws {
        let (client, feed, logger) = (client, feed, logger)
        try? await cancelWhenGracefulShutdown {
            var delay = Duration.milliseconds(250)
            var lost = false
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: ChangeRecorder.channel) { notifications in
                            if lost {
                                logger.notice("listening for changes again")
                                feed.publish([.resync])
                            }
                            lost = false
                            delay = .milliseconds(250)
                            for try await notification in notifications {
                                if let signal = ChangeSignal(encoded: notification.payload) {
                                    feed.publish([signal])
                                }
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { return }
                    if !lost {
                        logger.warning(
                            "lost the database connection that hears of changes; reconnecting",
                            metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
                if Task.isCancelled { return }
                lost = true
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
