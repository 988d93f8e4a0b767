import NIOCore

/// The order in which one event loop answers the requests it read in one turn: least recently answered connection
/// first.
///
/// The kernel reports ready connections in an order that favours the ones answered in the previous turn (a
/// level-triggered epoll puts them back at the head of its ready list), so under load a connection whose request
/// arrived early could wait while quicker neighbours were answered twice. Reading every ready connection first and
/// answering them oldest-first at the end of the turn serves requests in about the order they arrived, which keeps
/// the slowest answers close to the typical ones.
final class ServiceOrder {
    /// The connections to answer at the end of this turn; the end-of-turn task is scheduled while it is not empty.
    private var waiting: [any AnsweredInTurn] = []
    /// The previous turn's list, kept for its capacity.
    private var answering: [any AnsweredInTurn] = []
    /// Increases with every answer; a connection's `answeredTurn` is this value when it was last served.
    private var clock: UInt64 = 1

    /// One order for each event loop of a group, created on first use on its loop.
    struct PerLoop: Sendable {
        private let boxes: [ObjectIdentifier: NIOLoopBoundBox<ServiceOrder?>]

        init(group: any EventLoopGroup) {
            var boxes: [ObjectIdentifier: NIOLoopBoundBox<ServiceOrder?>] = [:]
            for loop in group.makeIterator() {
                boxes[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeEmptyBox(
                    valueType: ServiceOrder.self, eventLoop: loop)
            }
            self.boxes = boxes
        }

        /// The order of `loop`; call on `loop`.
        func order(for loop: any EventLoop) -> ServiceOrder? {
            guard let box = boxes[ObjectIdentifier(loop)] else { return nil }
            if let order = box.value { return order }
            let order = ServiceOrder()
            box.value = order
            return order
        }
    }

    /// Queues a connection with a request to answer at the end of this turn.
    func enqueue(_ handler: any AnsweredInTurn, on loop: any EventLoop) {
        waiting.append(handler)
        if waiting.count == 1 { loop.assumeIsolated().execute { self.run() } }
    }

    private func run() {
        swap(&waiting, &answering)
        if answering.count > 1 { answering.sort { $0.answeredTurn < $1.answeredTurn } }
        for handler in answering {
            handler.answeredTurn = clock
            clock &+= 1
            handler.answerQueued()
        }
        answering.removeAll(keepingCapacity: true)
    }
}

/// A connection that ``ServiceOrder`` answers.
protocol AnsweredInTurn: AnyObject {
    /// When it was last answered, in ``ServiceOrder``'s count; 0 before its first answer.
    var answeredTurn: UInt64 { get set }
    /// Answers what was read.
    func answerQueued()
}
