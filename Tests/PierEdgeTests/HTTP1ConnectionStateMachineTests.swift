import NIOCore
import Testing

@testable import PierEdge

/// The HTTP/1.1 connection's decisions, without a socket: bytes and events in, actions out.
@Suite("HTTP/1.1 connection state machine")
struct HTTP1ConnectionStateMachineTests {
    static let limits = HTTP1RequestParser.Limits(maxHeaderBytes: 1024, maxURIBytes: 256, maxBodyBytes: 1000)
    static let timeouts = HTTP1ConnectionStateMachine.Timeouts(header: .seconds(10), idle: .seconds(75))
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A machine and a clock, with helpers that name what happened.
    struct Connection {
        var machine = HTTP1ConnectionStateMachine(limits: limits, now: start, timeouts: timeouts)
        var now = start
        var bodyAccepted = true
        var writable = true

        mutating func receive(_ text: String) {
            machine.received(ByteBuffer(string: text))
        }

        /// Every action until the machine waits, as short strings.
        mutating func drain() -> [String] {
            var out: [String] = []
            while true {
                let action = machine.next(
                    bodyAccepted: bodyAccepted, clientWritable: writable, now: now, timeouts: timeouts)
                switch action {
                case .startExchange(let head): out.append("start \(head.method) \(head.target)")
                case .body(let bytes): out.append("body \(String(buffer: bytes))")
                case .requestEnded: out.append("end")
                case .finishExchange(let close): out.append(close ? "finish+close" : "finish")
                case .refuse(let error): out.append("refuse \(error.status)")
                case .close: out.append("close")
                case .wait: return out
                }
                if out.count > 100 { return out }
            }
        }

        mutating func respond(keepAlive: Bool = true) -> String {
            switch machine.responseCompleted(keepAlive: keepAlive, now: now, timeouts: timeouts) {
            case .finishExchange(let close): close ? "finish+close" : "finish"
            case .wait: "wait"
            default: "other"
            }
        }
    }

    @Test("one request: start, end, then the answer finishes it and the connection waits for the next")
    func oneRequest() {
        var connection = Connection()
        connection.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.drain() == ["start GET /a", "end"])
        #expect(connection.respond() == "finish")
        #expect(connection.machine.phase == .idle)
        #expect(connection.machine.deadline == Self.start + Self.timeouts.idle)
    }

    @Test("pipelined requests are started one at a time, each after the previous answer")
    func pipelining() {
        var connection = Connection()
        connection.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.drain() == ["start GET /a", "end"])
        // The second request waits in the buffer.
        #expect(connection.drain() == [])
        #expect(connection.respond() == "finish")
        #expect(connection.drain() == ["start GET /b", "end"])
        #expect(connection.respond() == "finish")
        #expect(connection.drain() == [])
    }

    @Test("an answer that arrives before the body ended waits for the end; with keep-alive off it closes at once")
    func answerBeforeBody() {
        var connection = Connection()
        connection.receive("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        #expect(connection.drain() == ["start POST /u", "body ab"])
        #expect(connection.respond() == "wait")
        connection.receive("cd")
        #expect(connection.drain() == ["body cd", "end", "finish"])

        var early = Connection()
        early.receive("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        _ = early.drain()
        #expect(early.respond(keepAlive: false) == "finish+close")
        #expect(early.machine.phase == .closing)
    }

    @Test("body bytes wait while the consumer cannot take them, but the end of a bodyless request does not")
    func backPressure() {
        var connection = Connection()
        connection.bodyAccepted = false
        connection.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.drain() == ["start GET /a", "end"])
        connection.receive("")
        var upload = Connection()
        upload.bodyAccepted = false
        upload.receive("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        #expect(upload.drain() == ["start POST /u"])
        upload.bodyAccepted = true
        #expect(upload.drain() == ["body ab", "end"])
    }

    @Test("no new request starts while the client does not read")
    func clientNotReading() {
        var connection = Connection()
        connection.writable = false
        connection.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.drain() == [])
        connection.writable = true
        #expect(connection.drain() == ["start GET /a", "end"])
    }

    @Test("malformed bytes are refused and the connection closes")
    func refusal() {
        var connection = Connection()
        connection.receive("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n")
        #expect(connection.drain() == ["refuse 400"])
        #expect(connection.machine.phase == .closing)
        #expect(connection.drain() == [])
    }

    @Test("a client that half-closes after pipelining gets every answer, then the close")
    func halfClose() {
        var connection = Connection()
        connection.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.drain() == ["start GET /a", "end"])
        #expect(connection.machine.inputEnded() == .none)
        #expect(connection.respond() == "finish")
        #expect(connection.drain() == ["start GET /b", "end"])
        #expect(connection.respond() == "finish+close")

        var idle = Connection()
        #expect(idle.machine.inputEnded() == .close)
    }

    @Test("shutdown closes an idle connection at once and a busy one after its answer")
    func shutdown() {
        var idle = Connection()
        #expect(idle.machine.shutdown() == .close)

        var busy = Connection()
        busy.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = busy.drain()
        #expect(busy.machine.shutdown() == .none)
        #expect(!busy.machine.mayKeepAlive)
        #expect(busy.respond() == "finish+close")
    }

    @Test("timers: early fires re-arm, a partial head gets 408, an idle connection closes, a stalled write waits")
    func timers() {
        var connection = Connection()
        #expect(
            connection.machine.timerFired(now: Self.start, stalledSince: nil, timeouts: Self.timeouts)
                == .rearm(Self.start + Self.timeouts.header))
        connection.receive("GET / HTTP/1.1\r\nHo")
        #expect(connection.drain() == [])
        let late = Self.start + .seconds(11)
        #expect(connection.machine.timerFired(now: late, stalledSince: nil, timeouts: Self.timeouts) == .headerTimeout)

        var idle = Connection()
        idle.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = idle.drain()
        _ = idle.respond()
        let afterIdle = Self.start + .seconds(76)
        // A client still reading a big answer gets another idle period from its last progress.
        let progress = Self.start + .seconds(70)
        #expect(
            idle.machine.timerFired(now: afterIdle, stalledSince: progress, timeouts: Self.timeouts)
                == .rearm(progress + Self.timeouts.idle))
        #expect(
            idle.machine.timerFired(now: afterIdle + .seconds(75), stalledSince: nil, timeouts: Self.timeouts)
                == .closeNow)
    }

    @Test("reads: held while the answer is on its way only past the read-ahead bound, and in a tunnel by the proxy")
    func reads() {
        var connection = Connection()
        #expect(connection.machine.shouldRead(clientWritable: true, proxy: nil))
        #expect(connection.machine.shouldRead(clientWritable: false, proxy: nil) == false)
        connection.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = connection.drain()
        let waiting = HTTP1ConnectionStateMachine.ProxyDemand(wantsBytes: false, upgrade: false)
        #expect(connection.machine.shouldRead(clientWritable: true, proxy: waiting))
        connection.receive(String(repeating: "x", count: HTTP1ConnectionStateMachine.maxReadAhead))
        #expect(connection.machine.shouldRead(clientWritable: true, proxy: waiting) == false)
        let upgrade = HTTP1ConnectionStateMachine.ProxyDemand(wantsBytes: false, upgrade: true)
        var upgrading = Connection()
        upgrading.receive("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        _ = upgrading.drain()
        #expect(upgrading.machine.shouldRead(clientWritable: true, proxy: upgrade) == false)
        #expect(upgrading.machine.enterTunnel() == nil)
        let tunnelling = HTTP1ConnectionStateMachine.ProxyDemand(wantsBytes: true, upgrade: true)
        #expect(upgrading.machine.shouldRead(clientWritable: true, proxy: tunnelling) == true)
        #expect(upgrading.machine.inputEnded() == .closeNow)
    }
}
