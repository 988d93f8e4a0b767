import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// One request and its answer on the edge: what the pipeline's stages share (the request, the route, the response
/// sink) and what the access log records at the end (status, bytes, timing).
///
/// Created by a protocol's connection (or stream) when a request head arrives and used only on that connection's
/// event loop.
final class EdgeExchange {
    let request: EdgeRequest
    /// The runtime the request started with: a reload takes effect from the next request.
    let runtime: EdgeRuntime
    /// Where the answer goes.
    let sink: any EdgeResponseSink
    let requestID: String
    let start: NIODeadline
    let epochSeconds: Int
    let remoteAddress: String
    /// The routing host: the absolute-form target's authority, `:authority` or `Host`, without port, lowercased
    /// (`nil` when no route matches on host and nothing logs it).
    let host: String?
    /// The authority of an absolute-form target (`GET http://authority/path`), which replaces `Host` upstream.
    let targetAuthority: String?
    /// The connection it arrived on: scheme, TLS, redirect.
    let traits: ConnectionTraits
    /// `https` on TLS listeners.
    var scheme: StaticString { traits.scheme }

    /// The route's configured response fields, rendered.
    var routeHeaders: ByteBuffer?
    /// The matched route, once resolved.
    var route: EdgeRuntime.Route?
    /// The `RateLimit` field's value on a route with `rate_limit`: what is left of this client's bucket.
    var rateLimitState: String?
    /// Whether the connection may carry another request after this one; stages and the protocol lower it.
    var keepAlive: Bool
    var status = 0
    var bodyBytes = 0
    /// The whole answer has been handed to the protocol.
    var responded = false
    /// The connection (or stream) went away: callbacks that arrive later do nothing.
    var cancelled = false
    /// The request's body has been read to its end (or it had none).
    var requestEnded: Bool
    /// The proxied exchange that streams the request body upstream, if the route proxies.
    var proxy: ProxyExchange?
    /// An answer that waits for the request body to be read (and discarded) first.
    var whenRequestEnds: (() -> Void)?
    /// Who the route's `auth:` found the token to speak for, forwarded upstream.
    var identity: EdgeAuthenticator.Identity?
    /// The request waits for the route's token key to be fetched: its body is not read meanwhile.
    var awaitingKeys = false

    /// Whether the protocol should read the request's body now: as fast as the proxy takes it, not while the
    /// request waits for a key, and otherwise (bodies of answers the edge gives itself are dropped) always.
    var wantsClientBytes: Bool { proxy?.wantsClientBytes ?? !awaitingKeys }

    init(
        request: EdgeRequest, runtime: EdgeRuntime, sink: any EdgeResponseSink, requestID: String,
        start: NIODeadline, remoteAddress: String, traits: ConnectionTraits, keepAlive: Bool
    ) {
        self.request = request
        self.runtime = runtime
        self.sink = sink
        self.requestID = requestID
        self.start = start
        self.epochSeconds = time(nil)
        self.remoteAddress = remoteAddress
        self.traits = traits
        self.keepAlive = keepAlive
        self.requestEnded = !request.hasBody
        // An absolute-form target's authority takes precedence over Host (RFC 9112 §3.2.2).
        let targetAuthority = Self.authority(ofAbsoluteTarget: request.target)
        self.targetAuthority = targetAuthority
        if runtime.needsHost {
            host = (targetAuthority ?? request.authority ?? request.headers.first(.host)).map(Self.hostWithoutPort)
        } else {
            host = nil
        }
    }

    /// The request's body has been read to its end.
    func requestDidEnd() {
        requestEnded = true
        if let answer = whenRequestEnds {
            whenRequestEnds = nil
            answer()
        }
    }

    /// Records the finished exchange: its duration in the route's metrics, its line in the access log.
    func record() {
        let now = NIODeadline.now()
        (route?.metrics ?? runtime.unroutedMetrics).record(
            loop: traits.loopIndex, status: status, nanoseconds: (now - start).nanoseconds)
        if let accessLog = runtime.accessLog {
            accessLog.record(logEntry(now: now))
        }
    }

    /// The value a request key names: the client's address, a header's first value or a cookie's value.
    func keyValue(_ key: UpstreamConfig.HashKey) -> String? {
        switch key {
        case .clientIP:
            return remoteAddress
        case .header(let name):
            return request.headers.first(name)
        case .cookie(let name):
            for value in request.headers.values(.cookie) {
                for pair in value.split(separator: ";") {
                    let trimmed = pair.trimmingASCIISpaces()
                    if let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name {
                        return String(trimmed[trimmed.index(after: equals)...])
                    }
                }
            }
            return nil
        }
    }

    /// What the access log records.
    func logEntry(now: NIODeadline) -> AccessLogEntry {
        AccessLogEntry(
            remoteAddress: remoteAddress,
            method: request.method,
            target: request.target,
            version: request.version,
            status: status,
            bodyBytes: bodyBytes,
            referer: request.headers.first(.referer),
            userAgent: request.headers.first(.userAgent),
            requestID: requestID,
            host: host,
            durationSeconds: Double((now - start).nanoseconds) / 1e9,
            epochSeconds: epochSeconds,
            tlsVersion: traits.tlsVersion,
            alpn: traits.alpn
        )
    }

    /// The authority of an absolute-form target (`http://host:port/path`), or `nil` for any other target and for
    /// an absolute one whose scheme is not http or https or whose authority is not a plain host and port (user
    /// information is refused, RFC 9110 §4.2.4).
    static func authority(ofAbsoluteTarget target: String) -> String? {
        guard target.utf8.first != UInt8(ascii: "/"), let schemeEnd = target.range(of: "://") else { return nil }
        let scheme = target[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = target[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        guard !authority.isEmpty, authority.utf8.allSatisfy(HTTP1RequestParser.isHostByte),
            !authority.utf8.contains(UInt8(ascii: "%"))
        else { return nil }
        return String(authority)
    }

    static func hostWithoutPort(_ value: String) -> String {
        let bytes = value.utf8
        var end = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            if let close = bytes.firstIndex(of: UInt8(ascii: "]")) { end = bytes.index(after: close) }
        } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > bytes.startIndex, bytes[bytes.index(before: end)] == UInt8(ascii: ".") {
            end = bytes.index(before: end)
        }
        let host = bytes[..<end]
        let hasUpperCase = host.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
        if !hasUpperCase && end == bytes.endIndex { return value }
        return hasUpperCase ? String(Substring(host)).lowercased() : String(Substring(host))
    }
}
