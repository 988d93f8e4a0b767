import Metrics
import PierCore

/// The request-duration histograms of one route, one per status class.
///
/// Made once per runtime (a reload makes new handles, and the metrics registry hands back the same series for the
/// same labels), so that recording an answer on the event loop is one histogram update and no lookup.
final class RouteMetrics: Sendable {
    /// `1xx` … `5xx`; a series for each from the start, so that rates read zero rather than nothing. Only proxied
    /// routes answer `1xx` (`101` to an upgrade); elsewhere such a status is counted with `2xx`.
    private let durations: [Metrics.Timer]

    init(route: String, upstream: String) {
        let classes = upstream.isEmpty ? ["2xx", "2xx", "3xx", "4xx", "5xx"] : ["1xx", "2xx", "3xx", "4xx", "5xx"]
        durations = classes.map { statusClass in
            Metrics.Timer(
                label: PierMetric.requestDuration.name,
                dimensions: [
                    ("server", "edge"), ("route", route), ("status_class", statusClass), ("upstream", upstream),
                ])
        }
    }

    /// Requests no route took: redirects to HTTPS, ACME challenges, 404 and 405 answers, refused requests.
    static func unrouted() -> RouteMetrics { RouteMetrics(route: "none", upstream: "") }

    func record(status: Int, nanoseconds: Int64) {
        durations[min(max(status / 100, 1), 5) - 1].recordNanoseconds(nanoseconds)
    }
}
