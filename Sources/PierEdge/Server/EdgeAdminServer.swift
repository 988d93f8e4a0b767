import Foundation
import Logging
import NIOCore
import NIOPosix
import PierACME
import PierCore
import ServiceLifecycle
import Synchronization

/// The operators' status listener (`admin.listen`, loopback only): `GET /status` reports every upstream's targets
/// with their health, load and ejections, and every certificate with its expiry and renewal, as JSON;
/// `POST /certificates/renew` (`?force=true`, `&name=NAME`) queues ACME renewals; `GET /metrics` is the Prometheus
/// text exposition of the edge's metrics and of the process's registry, when the executable hands one over.
public final class EdgeAdminServer: Service, Sendable {
    private let address: SocketAddressSpec
    private let source: EdgeRuntimeSource
    private let server: EdgeServer
    private let acme: ACMECertificateManager?
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listening: EventLoopPromise<SocketAddress>
    private let metrics: (@Sendable () -> [UInt8])?

    /// What `/metrics` answers: the registry's text, the request durations every event loop counted (in the same
    /// family as the registry's, the board's in `pier up`), and the edge's state.
    typealias Exposition = @Sendable (_ on: any EventLoop) -> EventLoopFuture<String>

    /// - Parameter metrics: the Prometheus text of the process's metrics registry; without it `/metrics` has the edge's
    ///   own metrics only.
    public init(
        address: SocketAddressSpec, source: EdgeRuntimeSource, server: EdgeServer,
        acme: ACMECertificateManager? = nil, group: any EventLoopGroup, logger: Logger,
        metrics: (@Sendable () -> [UInt8])? = nil
    ) {
        self.metrics = metrics
        self.acme = acme
        self.address = address
        self.source = source
        self.server = server
        self.group = group
        self.logger = logger
        self.listening = group.next().makePromise(of: SocketAddress.self)
    }

    /// The bound address, once listening.
    public func boundAddress() async throws -> SocketAddress {
        try await listening.futureResult.get()
    }

    public func run() async throws {
        let status: @Sendable () -> String = { [source, server, acme] in
            Self.statusJSON(
                source.current, openConnections: server.openConnections,
                certificates: Self.certificatesJSON(server: server, acme: acme))
        }
        let renew: @Sendable (_ names: [String]?, _ force: Bool) -> (Int, String) = { [acme] names, force in
            guard let acme else {
                return (
                    409,
                    ProblemDetails(
                        status: 409, title: "Conflict", code: "acme_off",
                        detail: "this edge has no acme: section; its certificates come from files"
                    ).json
                )
            }
            do throws(ACMEError) {
                let queued = try acme.renew(names: names, force: force)
                return (202, "{\"queued\":[\(queued.map(JSONText.quoted).joined(separator: ","))]}\n")
            } catch {
                return (
                    400,
                    ProblemDetails(status: 400, title: "Bad Request", code: error.code.rawValue, detail: "\(error)")
                        .json
                )
            }
        }
        let exposition = exposing(metrics)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            AdminHandler(status: status, renew: renew, metrics: exposition))
                    }
                }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            listening.fail(error)
            throw error
        }
        if let bound = channel.localAddress { listening.succeed(bound) }
        logger.info(
            "admin status listening", metadata: ["pier.address": "\(channel.localAddress.map { "\($0)" } ?? "")"])
        try? await gracefulShutdown()
        try? await channel.close()
    }

    private func exposing(_ metrics: (@Sendable () -> [UInt8])?) -> Exposition {
        { [source, server, acme] loop in
            let runtime = source.current
            let registry = metrics.map { String(decoding: $0(), as: UTF8.self) } ?? ""
            let state = EdgeStateMetrics.text(runtime: runtime, server: server, acme: acme)
            return runtime.durations.exposition(on: loop).map { durations in
                PierMetric.addingHelp(
                    to: Self.splice(durations, family: PierMetric.requestDuration.prometheusName, into: registry)
                        + state)
            }
        }
    }

    /// `samples` of a histogram family put into `text` right after that family's `# TYPE` line, or with one of
    /// their own at the end: the text format wants a family's lines together, under one `# TYPE`.
    static func splice(_ samples: String, family: String, into text: String) -> String {
        guard !samples.isEmpty else { return text }
        let header = "# TYPE \(family) histogram\n"
        guard let range = text.range(of: header) else { return text + header + samples }
        return String(text[..<range.upperBound]) + samples + String(text[range.upperBound...])
    }

    static func statusJSON(_ runtime: EdgeRuntime, openConnections: Int, certificates: String = "[]") -> String {
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        var upstreams: [String] = []
        for (name, pool) in runtime.upstreams.sorted(by: { $0.key < $1.key }) {
            let targets = pool.targets.map { target in
                var fields = [
                    "\"address\":\(JSONText.quoted(target.address.description))",
                    "\"weight\":\(target.weight)",
                    "\"health\":\(JSONText.quoted(target.active.name))",
                    "\"usable\":\(target.isUsable(now: now))",
                    "\"in_flight\":\(target.inFlight.load(ordering: .relaxed))",
                    "\"requests\":\(target.requests.load(ordering: .relaxed))",
                    "\"failures\":\(target.failures.load(ordering: .relaxed))",
                    "\"ejections\":\(target.ejections.load(ordering: .relaxed))",
                ]
                if let seconds = target.ejectedFor(now: now) {
                    fields.append("\"ejected_for_seconds\":\((seconds * 10).rounded() / 10)")
                }
                return "{" + fields.joined(separator: ",") + "}"
            }
            upstreams.append(
                "\(JSONText.quoted(name)):{\"balance\":\(JSONText.quoted(pool.config.balance.rawValue)),"
                    + "\"targets\":[\(targets.joined(separator: ","))]}")
        }
        return "{\"version\":\(JSONText.quoted(PierVersion.current)),\"open_connections\":\(openConnections),"
            + "\"routes\":\(runtime.config.routes.count),\"upstreams\":{\(upstreams.joined(separator: ","))},"
            + "\"certificates\":\(certificates)}\n"
    }
}

extension EdgeAdminServer {
    /// Every certificate the TLS listeners serve from files, and every ACME name with its state.
    static func certificatesJSON(server: EdgeServer, acme: ACMECertificateManager?) -> String {
        let now = Date()
        let formatter = ISO8601DateFormatter()
        func date(_ value: Date?) -> String {
            value.map { JSONText.quoted(formatter.string(from: $0)) } ?? "null"
        }
        func days(_ notAfter: Date) -> String {
            String(format: "%.1f", notAfter.timeIntervalSince(now) / 86400)
        }
        let statuses = acme?.statuses() ?? []
        // ACME certificates are listed with their state below, files once each here.
        var seen = Set(statuses.compactMap { $0.certificate?.certificatePath })
        var items: [String] = []
        for context in server.tls.compactMap({ $0 }) {
            for certificate in context.certificates where seen.insert(certificate.files.certificate).inserted {
                items.append(
                    "{\"source\":\"file\",\"file\":\(JSONText.quoted(certificate.files.certificate)),"
                        + "\"names\":[\(certificate.names.map(JSONText.quoted).joined(separator: ","))],"
                        + "\"issuer\":\(JSONText.quoted(certificate.issuer)),\"not_after\":\(date(certificate.notAfter)),"
                        + "\"days_to_expiry\":\(days(certificate.notAfter))}")
            }
        }
        for status in statuses {
            var fields = [
                "\"source\":\"acme\"", "\"name\":\(JSONText.quoted(status.name))",
                "\"state\":\(JSONText.quoted(status.ordering ? "ordering" : status.certificate == nil ? "missing" : "valid"))",
            ]
            if let certificate = status.certificate {
                fields += [
                    "\"names\":[\(certificate.names.map(JSONText.quoted).joined(separator: ","))]",
                    "\"issuer\":\(JSONText.quoted(certificate.issuer))", "\"not_after\":\(date(certificate.notAfter))",
                    "\"days_to_expiry\":\(days(certificate.notAfter))",
                    "\"obtained_at\":\(date(certificate.obtainedAt))",
                ]
            }
            fields += [
                "\"next_renewal\":\(date(status.nextAttempt))", "\"failures\":\(status.failures)",
                "\"last_error\":\(status.lastError.map(JSONText.quoted) ?? "null")",
                "\"last_error_at\":\(date(status.lastErrorAt))",
            ]
            items.append("{" + fields.joined(separator: ",") + "}")
        }
        return "[" + items.joined(separator: ",") + "]"
    }
}

/// Answers admin requests, one at a time, on a connection.
final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let status: @Sendable () -> String
    private let renew: @Sendable (_ names: [String]?, _ force: Bool) -> (Int, String)
    private let metrics: EdgeAdminServer.Exposition?
    /// A `/metrics` answer is being put together: later requests wait, so answers keep their order.
    private var answering = false
    private var parser = HTTP1RequestParser(
        limits: .init(maxHeaderBytes: 8192, maxURIBytes: 2048, maxBodyBytes: 0))
    private var pending = ByteBuffer()

    init(
        status: @escaping @Sendable () -> String,
        renew: @escaping @Sendable (_ names: [String]?, _ force: Bool) -> (Int, String) = { _, _ in (404, "") },
        metrics: EdgeAdminServer.Exposition? = nil
    ) {
        self.status = status
        self.renew = renew
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        process(context: context)
    }

    private func process(context: ChannelHandlerContext) {
        while !answering {
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next(&pending)
            } catch {
                answer(
                    context: context, status: error.status,
                    body: ProblemDetails(
                        status: error.status, title: EdgeResponseHead.reasonPhrase(error.status), code: error.code,
                        detail: error.reason
                    ).json, type: ProblemDetails.contentType, keepAlive: false)
                return
            }
            guard let event else { return }
            guard case .head(let head) = event else { continue }
            let parts = head.target.split(separator: "?", maxSplits: 1)
            let path = parts.first.map(String.init) ?? head.target
            if path == "/certificates/renew" {
                guard head.method == "POST" else {
                    answer(
                        context: context, status: 405,
                        body: ProblemDetails(
                            status: 405, title: "Method Not Allowed", code: "method_not_allowed",
                            detail: "POST /certificates/renew queues renewals"
                        ).json, type: ProblemDetails.contentType, keepAlive: head.keepAlive)
                    continue
                }
                var names: [String] = []
                var force = false
                for pair in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
                    let field = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    let value = field.count > 1 ? (field[1].removingPercentEncoding ?? field[1]) : ""
                    if field[0] == "name" { names.append(value.lowercased()) }
                    if field[0] == "force" { force = value == "true" || value == "1" }
                }
                let (code, body) = renew(names.isEmpty ? nil : names, force)
                answer(
                    context: context, status: code, body: body,
                    type: code < 300 ? "application/json" : ProblemDetails.contentType, keepAlive: head.keepAlive)
                continue
            }
            if head.method != "GET" && head.method != "HEAD" {
                answer(
                    context: context, status: 405,
                    body: ProblemDetails(
                        status: 405, title: "Method Not Allowed", code: "method_not_allowed",
                        detail: "the admin listener answers GET"
                    ).json, type: ProblemDetails.contentType,
                    keepAlive: head.keepAlive)
            } else if path == "/status" || path == "/" {
                answer(
                    context: context, status: 200, body: status(), type: "application/json",
                    keepAlive: head.keepAlive, omitBody: head.method == "HEAD")
            } else if path == "/metrics", let metrics {
                // Prometheus text exposition format 0.0.4, once every event loop has handed over its counts.
                answering = true
                let (keepAlive, omitBody) = (head.keepAlive, head.method == "HEAD")
                metrics(context.eventLoop).assumeIsolated().whenComplete { result in
                    self.answering = false
                    switch result {
                    case .success(let text):
                        self.answer(
                            context: context, status: 200, body: text,
                            type: "text/plain; version=0.0.4; charset=utf-8", keepAlive: keepAlive,
                            omitBody: omitBody)
                    case .failure:
                        self.answer(
                            context: context, status: 503,
                            body: ProblemDetails(
                                status: 503, title: "Service Unavailable", code: "metrics_unavailable",
                                detail: "an event loop did not hand over its counts"
                            ).json, type: ProblemDetails.contentType, keepAlive: false)
                    }
                    if keepAlive { self.process(context: context) }
                }
            } else {
                answer(
                    context: context, status: 404,
                    body: ProblemDetails(
                        status: 404, title: "Not Found", code: "not_found",
                        detail: metrics == nil ? "try GET /status" : "try GET /status or GET /metrics"
                    ).json,
                    type: ProblemDetails.contentType, keepAlive: head.keepAlive)
            }
        }
    }

    private func answer(
        context: ChannelHandlerContext, status: Int, body: String, type: String, keepAlive: Bool,
        omitBody: Bool = false
    ) {
        var response = EdgeResponseHead(status: status)
        response.add("Content-Type", type)
        response.add("Content-Length", String(body.utf8.count))
        response.add("Cache-Control", "no-store")
        if !keepAlive { response.add("Connection", "close") }
        var out = context.channel.allocator.buffer(capacity: body.utf8.count + 200)
        response.write(into: &out)
        if !omitBody { out.writeString(body) }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
