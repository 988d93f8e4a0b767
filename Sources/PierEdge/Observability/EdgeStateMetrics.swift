import Foundation
import NIOCore
import PierACME
import PierCore
import Synchronization

/// The edge's metrics that describe state rather than answers — open connections, each upstream target's health,
/// load, failures and ejections, each certificate's time to expiry — written as Prometheus text from the running
/// edge when `/metrics` is scraped. The request path keeps nothing for them beyond the atomics it already keeps,
/// and targets and certificates a reload removed are simply no longer there.
enum EdgeStateMetrics {
    static func text(runtime: EdgeRuntime, server: EdgeServer, acme: ACMECertificateManager?, now: Date = Date())
        -> String
    {
        var text = ""
        func family(_ metric: PierMetric, _ type: String, _ samples: [([(String, String)], Double)]) {
            guard !samples.isEmpty else { return }
            text += "# TYPE \(metric.prometheusName) \(type)\n"
            for (labels, value) in samples {
                text += "\(metric.prometheusName){\(PrometheusText.labels(labels))} \(PrometheusText.number(value))\n"
            }
        }

        family(.edgeConnections, "gauge", [([("listener", "all")], Double(server.openConnections))])
        let uptime = Int64(NIODeadline.now().uptimeNanoseconds)
        let targets = runtime.upstreams.sorted { $0.key < $1.key }.flatMap { name, pool in
            pool.targets.map { target in ([("upstream", name), ("target", "\(target.address)")], target) }
        }
        family(.targetHealthy, "gauge", targets.map { ($0.0, $0.1.isUsable(now: uptime) ? 1 : 0) })
        family(.targetInFlight, "gauge", targets.map { ($0.0, Double($0.1.inFlight.load(ordering: .relaxed))) })
        family(.targetFailures, "counter", targets.map { ($0.0, Double($0.1.failures.load(ordering: .relaxed))) })
        family(.targetEjections, "counter", targets.map { ($0.0, Double($0.1.ejections.load(ordering: .relaxed))) })

        let limiters = zip(runtime.config.routes, runtime.routes).compactMap { config, route in
            route.rateLimiter.map { ([("route", config.metricsLabel)], $0) }
        }
        family(.rateLimited, "counter", limiters.map { ($0.0, Double($0.1.limited)) })
        family(.rateLimitKeys, "gauge", limiters.map { ($0.0, Double($0.1.keys)) })

        func seconds(_ notAfter: Date) -> Double { notAfter.timeIntervalSince(now).rounded() }
        let statuses = acme?.statuses() ?? []
        let acmePaths = Set(statuses.compactMap { $0.certificate?.certificatePath })
        var files = Set<String>()
        var expiry: [([(String, String)], Double)] = []
        for context in server.tls.compactMap({ $0 }) {
            for certificate in context.certificates
            where !acmePaths.contains(certificate.files.certificate)
                && files.insert(certificate.files.certificate).inserted
            {
                expiry.append(
                    ([("name", certificate.names.first ?? "-"), ("source", "file")], seconds(certificate.notAfter)))
            }
        }
        for status in statuses {
            if let certificate = status.certificate {
                expiry.append(([("name", status.name), ("source", "acme")], seconds(certificate.notAfter)))
            }
        }
        family(.certificateExpiry, "gauge", expiry)
        family(.certificateRenewalFailures, "gauge", statuses.map { ([("name", $0.name)], Double($0.failures)) })
        return text
    }
}
