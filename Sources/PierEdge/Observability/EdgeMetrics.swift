import Foundation
import NIOCore
import PierCore
import Synchronization

/// The edge's `http.server.request.duration` histograms, one series per route (and upstream) and status class.
///
/// Recording is on the request path, so it takes no lock and shares no cache line between cores: each event loop
/// counts into its own shard (plain integers, touched only on that loop), and a scrape asks every loop for a copy
/// of its shards and adds them up. A series is kept across reloads for as long as the process runs, by its labels,
/// so its counters never go back.
final class RequestDurations: Sendable {
    /// Upper bounds of the buckets, in nanoseconds (``PierMetric/durationBuckets``); a last bucket takes the rest.
    static let bounds: [Int64] = PierMetric.durationBuckets.map { duration in
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// Counts of a series: per status class, the bucket counts (not cumulative) and the sum of durations.
    struct Tally: Sendable {
        var buckets = [Int](
            repeating: 0, count: RequestDurations.statusClasses.count * (RequestDurations.bounds.count + 1))
        var sums = [Int64](repeating: 0, count: RequestDurations.statusClasses.count)

        mutating func add(_ other: Tally) {
            for index in buckets.indices { buckets[index] += other.buckets[index] }
            for index in sums.indices { sums[index] += other.sums[index] }
        }
    }

    let route: String
    let upstream: String
    /// One loop's tally, in a class so that an answer reaches it with one access to its loop's box.
    final class Shard {
        var tally = Tally()
    }

    /// One shard per event loop, indexed like ``RequestDurationRegistry/loops``, touched only on its loop.
    private let shards: [NIOLoopBoundBox<Shard>]

    init(route: String, upstream: String, loops: [any EventLoop]) {
        self.route = route
        self.upstream = upstream
        self.shards = loops.map { NIOLoopBoundBox.makeBoxSendingValue(Shard(), eventLoop: $0) }
    }

    /// Counts one answer; call on the event loop of index `loop` (an index of no loop counts nothing).
    func record(loop: Int, status: Int, nanoseconds: Int64) {
        guard loop >= 0 && loop < shards.count else { return }
        let statusClass = min(max(status / 100, 1), 5) - 1
        var bucket = 0
        let bounds = Self.bounds
        while bucket < bounds.count && nanoseconds > bounds[bucket] { bucket += 1 }
        let shard = shards[loop].value
        shard.tally.buckets[statusClass * (bounds.count + 1) + bucket] += 1
        shard.tally.sums[statusClass] += nanoseconds
    }

    /// Every loop's tally added up, each read on its loop.
    func snapshot() -> EventLoopFuture<Tally>? {
        guard let first = shards.first else { return nil }
        let reads = shards.map { shard in shard.eventLoop.submit { shard.value.tally } }
        return EventLoopFuture.reduce(into: Tally(), reads, on: first.eventLoop) { total, next in total.add(next) }
    }
}

/// The request-duration series of one edge, by labels, and the event loops they are sharded over.
public final class RequestDurationRegistry: Sendable {
    private struct Key: Hashable {
        var route: String
        var upstream: String
    }

    let loops: [any EventLoop]
    private let indices: [ObjectIdentifier: Int]
    /// Every series, and the order they were first asked for (the exposition's order). Series are listed from the
    /// start, so rates read 0 rather than nothing; those of routes a reload removed stay.
    private let series = Mutex<(all: [Key: RequestDurations], order: [Key])>(([:], []))

    /// - Parameter group: the event loops the edge serves on; answers on other loops are not counted.
    public init(group: (any EventLoopGroup)?) {
        let loops = group.map { Array($0.makeIterator()) } ?? []
        self.loops = loops
        var indices: [ObjectIdentifier: Int] = [:]
        for (index, loop) in loops.enumerated() { indices[ObjectIdentifier(loop)] = index }
        self.indices = indices
    }

    /// The shard index of `loop`, or -1 for a loop the edge does not serve on.
    func index(of loop: any EventLoop) -> Int {
        indices[ObjectIdentifier(loop)] ?? -1
    }

    /// The series of a route: the one it had before a reload when the labels are the same.
    func series(route: String, upstream: String) -> RequestDurations {
        let key = Key(route: route, upstream: upstream)
        return series.withLock { series in
            if let existing = series.all[key] { return existing }
            let created = RequestDurations(route: route, upstream: upstream, loops: loops)
            series.all[key] = created
            series.order.append(key)
            return created
        }
    }

    /// The Prometheus text of every series (bucket, sum and count lines of `http_server_request_duration_seconds`,
    /// without the `# TYPE` line), once every loop has answered.
    func exposition(on loop: any EventLoop) -> EventLoopFuture<String> {
        let all = series.withLock { series in series.order.compactMap { series.all[$0] } }
        let reads = all.compactMap { series in series.snapshot()?.map { (series, $0) } }
        return EventLoopFuture.whenAllSucceed(reads, on: loop).map { snapshots in
            var text = ""
            let name = PierMetric.requestDuration.prometheusName
            let bounds = RequestDurations.bounds.map { PrometheusText.number(Double($0) / 1e9) }
            for (series, snapshot) in snapshots {
                for (classIndex, statusClass) in RequestDurations.statusClasses.enumerated() {
                    // 1xx answers come only from upgrades on proxied routes; elsewhere the series is left out.
                    if classIndex == 0 && series.upstream.isEmpty { continue }
                    let labels = PrometheusText.labels([
                        ("server", "edge"), ("route", series.route), ("status_class", statusClass),
                        ("upstream", series.upstream),
                    ])
                    let base = classIndex * (RequestDurations.bounds.count + 1)
                    var cumulative = 0
                    for (bucket, bound) in bounds.enumerated() {
                        cumulative += snapshot.buckets[base + bucket]
                        text += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
                    }
                    cumulative += snapshot.buckets[base + bounds.count]
                    text += "\(name)_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
                    text += "\(name)_sum{\(labels)} \(PrometheusText.number(Double(snapshot.sums[classIndex]) / 1e9))\n"
                    text += "\(name)_count{\(labels)} \(cumulative)\n"
                }
            }
            return text
        }
    }
}

/// Writing the Prometheus text exposition format (0.0.4).
enum PrometheusText {
    /// A sample value: integers without a fraction.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// `{name="value",…}` without the braces, values escaped (backslash, double quote, line feed).
    static func labels(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
    }

    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        return value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
