import Logging
import NIOCore
import NIOPosix
import PierCore
import ServiceLifecycle
import Synchronization

/// Active health checks: every target whose upstream has a `health_check` gets a `GET path` every `interval`, and
/// its state follows the thresholds. Follows reloads: it always checks the targets of the runtime in force.
public final class HealthChecker: Service, Sendable {
    private let source: EdgeRuntimeSource
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(source: EdgeRuntimeSource, group: any EventLoopGroup, logger: Logger) {
        self.source = source
        self.group = group
        self.logger = logger
    }

    /// The longest the loop sleeps: how soon targets added by a reload get their first check.
    static let longestSleep = TimeAmount.seconds(1)
    /// The shortest: checks due within this are started together instead of waking once for each.
    static let shortestSleep = TimeAmount.milliseconds(10)

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { tasks in
                while !Task.isCancelled {
                    let now = NIODeadline.now()
                    var wake = now + Self.longestSleep
                    for target in self.source.current.registry.targets {
                        guard let check = target.healthCheck, !target.isDraining else { continue }
                        let (start, next) = target.checkSchedule.withLock { schedule in
                            let start = !schedule.running && schedule.next <= now + Self.shortestSleep
                            if start {
                                schedule.running = true
                                schedule.next = now + TimeAmount(check.interval)
                            }
                            return (start, schedule.next)
                        }
                        wake = min(wake, next)
                        guard start else { continue }
                        tasks.addTask {
                            let result = await Self.probe(target, check: check, group: self.group)
                            target.recordCheck(passed: result.passed, detail: result.detail)
                            target.checkSchedule.withLock { $0.running = false }
                        }
                    }
                    // Sleeps until the next check is due instead of polling: an edge without health checks wakes
                    // once a second, and a busy event loop is not preempted by a timer many times a second.
                    let sleep = max(wake - NIODeadline.now(), Self.shortestSleep)
                    try? await Task.sleep(for: .nanoseconds(sleep.nanoseconds))
                }
            }
        }
    }

    /// One check: connect, send `GET path`, read the status line.
    static func probe(_ target: UpstreamTarget, check: HealthCheckConfig, group: any EventLoopGroup) async -> (
        passed: Bool, detail: String
    ) {
        let loop = group.next()
        let timeout = TimeAmount(check.timeout)
        let status = loop.makePromise(of: Int.self)
        let timer = loop.scheduleTask(in: timeout) {
            status.fail(HealthCheckError.timedOut)
        }
        UpstreamConnector.connect(to: target, on: loop, timeout: timeout) {
            StatusLineReader(status: status)
        }.whenComplete { result in
            switch result {
            case .success(let channel):
                var request = channel.allocator.buffer(capacity: 128)
                request.writeString(
                    "GET \(check.path) HTTP/1.1\r\nHost: \(target.address)\r\nUser-Agent: pier-health-check\r\n"
                        + "Connection: close\r\n\r\n")
                channel.writeAndFlush(request, promise: nil)
                status.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                status.fail(error)
            }
        }
        do {
            let code = try await status.futureResult.get()
            timer.cancel()
            return (check.expectStatus.contains(code), "status \(code)")
        } catch HealthCheckError.timedOut {
            return (false, "no answer within \(timeout.nanoseconds / 1_000_000) ms")
        } catch {
            timer.cancel()
            return (false, "\(error)")
        }
    }
}

enum HealthCheckError: Error, CustomStringConvertible {
    case timedOut
    case malformed
    case closed

    var description: String {
        switch self {
        case .timedOut: "timed out"
        case .malformed: "the answer is not HTTP"
        case .closed: "the connection closed without an answer"
        }
    }
}

/// Reads an HTTP/1.x status line and completes the promise with its code.
final class StatusLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let status: EventLoopPromise<Int>
    private var buffer = ByteBuffer()

    init(status: EventLoopPromise<Int>) {
        self.status = status
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        guard let line = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 1024 { status.fail(HealthCheckError.malformed) }
            return
        }
        let text = String(decoding: buffer.readableBytesView[buffer.readerIndex..<line], as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2)
        if parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]), (100...599).contains(code) {
            status.succeed(code)
        } else {
            status.fail(HealthCheckError.malformed)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        status.fail(HealthCheckError.closed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        status.fail(error)
        context.close(promise: nil)
    }
}
