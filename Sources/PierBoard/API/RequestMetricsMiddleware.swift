import Hummingbird
import Metrics
import PierCore
import Synchronization

/// Records `http.server.request.duration` for every request: `server` `board`, the route's path pattern
/// (`/api/v1/boards/{id}`, `none` when no route matched) and the status class, until the response is ready (the
/// board's answers are whole buffers; a live stream counts until its head). The outermost middleware, so it sees the
/// statuses of problems as the client does.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = BoardContext

    private final class Timers: Sendable {
        private struct Key: Hashable {
            var route: String
            var statusClass: Int
        }

        private let timers = Mutex<[Key: Metrics.Timer]>([:])

        func timer(route endpoint: String?, status: Int) -> Metrics.Timer {
            // Hummingbird names a request that matched no route `NotFound`; every route pattern starts with `/`.
            let route = endpoint.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "none"
            let key = Key(route: route, statusClass: min(max(status / 100, 1), 5))
            return timers.withLock { timers in
                if let timer = timers[key] { return timer }
                let timer = Metrics.Timer(
                    label: PierMetric.requestDuration.name,
                    dimensions: [("server", "board"), ("route", route), ("status_class", "\(key.statusClass)xx")])
                timers[key] = timer
                return timer
            }
        }
    }

    private let timers = Timers()

    func handle(_ request: Request, context: BoardContext, next: (Request, BoardContext) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            timers.timer(route: context.endpointPath, status: response.status.code)
                .record(duration: start.duration(to: .now))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            timers.timer(route: context.endpointPath, status: status).record(
                duration: start.duration(to: .now))
            throw error
        }
    }
}
