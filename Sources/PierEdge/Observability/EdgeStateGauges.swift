import Foundation
import Metrics
import NIOCore
import PierACME
import PierCore
import Synchronization

/// The edge's gauges that describe state rather than events — open connections, each upstream target's health and
/// load, each certificate's days to expiry — read from the running edge when `/metrics` is scraped, so that keeping
/// them costs the request path nothing. Series of targets and certificates that are gone are removed.
final class EdgeStateGauges: Sendable {
    private struct Series: Hashable {
        var metric: String
        var dimensions: [String]
    }

    private let shown = Mutex<[Series: [(String, String)]]>([:])

    func update(runtime: EdgeRuntime, server: EdgeServer, acme: ACMECertificateManager?, now: Date = Date()) {
        var current: [Series: [(String, String)]] = [:]
        func set(_ metric: PierMetric, _ dimensions: [(String, String)], _ value: Double) {
            Gauge(label: metric.name, dimensions: dimensions).record(value)
            current[Series(metric: metric.name, dimensions: dimensions.flatMap { [$0.0, $0.1] })] = dimensions
        }

        set(.edgeConnections, [("listener", "all")], Double(server.openConnections))
        let uptime = Int64(NIODeadline.now().uptimeNanoseconds)
        for (name, pool) in runtime.upstreams {
            for target in pool.targets {
                let dimensions = [("upstream", name), ("target", "\(target.address)")]
                set(.targetHealthy, dimensions, target.isUsable(now: uptime) ? 1 : 0)
                set(.targetInFlight, dimensions, Double(target.inFlight.load(ordering: .relaxed)))
            }
        }
        func seconds(_ notAfter: Date) -> Double { notAfter.timeIntervalSince(now).rounded() }
        let statuses = acme?.statuses() ?? []
        let acmePaths = Set(statuses.compactMap { $0.certificate?.certificatePath })
        var files = Set<String>()
        for context in server.tls.compactMap({ $0 }) {
            for certificate in context.certificates
            where !acmePaths.contains(certificate.files.certificate)
                && files.insert(certificate.files.certificate).inserted
            {
                set(
                    .certificateExpiry, [("name", certificate.names.first ?? "-"), ("source", "file")],
                    seconds(certificate.notAfter))
            }
        }
        for status in statuses {
            if let certificate = status.certificate {
                set(.certificateExpiry, [("name", status.name), ("source", "acme")], seconds(certificate.notAfter))
            }
            set(.certificateRenewalFailures, [("name", status.name)], Double(status.failures))
        }

        let gone = shown.withLock { shown in
            let gone = shown.filter { current[$0.key] == nil }
            shown = current
            return gone
        }
        for (series, dimensions) in gone {
            Gauge(label: series.metric, dimensions: dimensions).destroy()
        }
    }
}
