import HTTPTypes
import Synchronization

/// Which methods the router serves on a path, so that a path it knows with a method it does not answer
/// `405 Method Not Allowed` with `Allow` (RFC 9110 §15.5.6) rather than 404.
///
/// Filled once from `Router.routes` after every route is added; read only when the router found no route, so the
/// lock is off the path of every request that is routed.
final class AllowedMethods: Sendable {
    private struct Route: Sendable {
        /// Path segments; `nil` matches any one segment (a parameter such as `{id}`).
        var segments: [String?]
        var method: HTTPRequest.Method
    }

    private let routes = Mutex<[Route]>([])

    /// Records the router's routes, given as paths such as `/api/v1/users/{id}` (or `:id`).
    func set(_ routes: [(path: String, method: HTTPRequest.Method)]) {
        let parsed = routes.map { route in
            Route(
                segments: route.path.split(separator: "/").map { segment in
                    segment.hasPrefix("{") || segment.hasPrefix(":") || segment == "*" ? nil : String(segment)
                },
                method: route.method)
        }
        self.routes.withLock { $0 = parsed }
    }

    /// The methods routed for `path`, in a stable order; empty when no route has that path.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        let matching = routes.withLock { routes in
            routes.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { pattern, segment in
                        pattern.map { $0 == segment } ?? true
                    }
            }.map(\.method)
        }
        return Set(matching.map(\.rawValue)).sorted().compactMap { HTTPRequest.Method($0) }
    }
}
