import HTTPTypes
import Logging
import NIOCore
import PierBoardStore
import ServiceLifecycle
import Synchronization

/// What a live stream is told.
enum LiveMessage: Sendable {
    /// An event of the board, rendered once for every stream.
    case event(LiveEvent)
    /// Events the client has not seen are no longer kept: it must reload the board.
    case reset
    /// The account's access may have changed: the stream checks it again.
    case recheck
    /// Nothing happened for a while: the stream writes a comment so that proxies keep the connection.
    case heartbeat
}

/// One event as every stream of the board sends it.
struct LiveEvent: Sendable {
    var seq: Int64
    /// The whole `id:` / `event:` / `data:` block.
    var frame: ByteBuffer
    /// The account a `member.removed` event took off the board.
    var removedMember: String?
}

/// The live streams of this process, by board.
///
/// One reader per board, not per stream: a ``ChangeSignal`` for a board makes the hub read that board's new events
/// once, render each once, and hand the same bytes to every stream of the board. A stream that opens with a
/// `Last-Event-ID` reads what it missed itself, and meanwhile the hub holds back what it would have been given, so it
/// gets every event exactly once and in order.
public final class LiveBoardHub: Service, Sendable {
    struct Subscriber {
        var userID: String
        var continuation: AsyncStream<LiveMessage>.Continuation
        /// The last event it was given.
        var delivered: Int64
        /// While it reads what it missed, the events the hub has for it wait here.
        var held: [LiveEvent]?
    }

    struct BoardState {
        /// Every event up to this one has been handed to every subscriber (`nil` until the first has opened).
        var cursor: Int64?
        var subscribers: [UInt64: Subscriber] = [:]
        var reading = false
        var readAgain = false
    }

    struct State {
        var boards: [String: BoardState] = [:]
        var nextID: UInt64 = 0
        var stopped = false
    }

    let repository: any BoardRepository
    let feed: ChangeFeed
    let renderer: LiveEventRenderer
    let logger: Logger
    let heartbeat: Duration
    private let state = Mutex(State())

    /// Events read in one query.
    static let batch = 500
    /// Events a subscriber may fall behind by before it is closed (it resumes from its `Last-Event-ID`).
    static let bufferLimit = 2000

    public init(
        repository: any BoardRepository, feed: ChangeFeed, logger: Logger, heartbeat: Duration = .seconds(15)
    ) {
        self.repository = repository
        self.feed = feed
        self.renderer = LiveEventRenderer(repository: repository)
        self.logger = logger
        self.heartbeat = heartbeat
    }

    /// How many streams are open, for tests and metrics.
    public var streamCount: Int {
        state.withLock { $0.boards.values.reduce(0) { $0 + $1.subscribers.count } }
    }

    // MARK: Running

    public func run() async throws {
        let signals = feed.subscribe()
        await withDiscardingTaskGroup { group in
            group.addTask {
                // Heartbeats for every stream from one timer, and now and then a check of every stream's access.
                var beats = 0
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.heartbeat) } catch { return }
                    beats += 1
                    self.broadcast(beats % 4 == 0 ? [.heartbeat, .recheck] : [.heartbeat])
                }
            }
            for await signal in signals.cancelOnGracefulShutdown() {
                switch signal {
                case .board(let boardID):
                    if shouldRead(boardID) { group.addTask { await self.read(boardID) } }
                case .user(let userID):
                    tell(userID: userID, .recheck)
                case .resync:
                    for boardID in allBoardsToRead() { group.addTask { await self.read(boardID) } }
                    broadcast([.recheck])
                }
            }
            group.cancelAll()
        }
        // Shutting down: every stream ends, and its client reconnects to another instance with its Last-Event-ID.
        let continuations = state.withLock { state in
            state.stopped = true
            let all = state.boards.values.flatMap { $0.subscribers.values.map(\.continuation) }
            state.boards.removeAll()
            return all
        }
        for continuation in continuations { continuation.finish() }
    }

    private func broadcast(_ messages: [LiveMessage]) {
        let continuations = state.withLock { state in
            state.boards.values.flatMap { $0.subscribers.values.map(\.continuation) }
        }
        for continuation in continuations { for message in messages { continuation.yield(message) } }
    }

    private func tell(userID: String, _ message: LiveMessage) {
        let continuations = state.withLock { state in
            state.boards.values.flatMap { $0.subscribers.values.filter { $0.userID == userID }.map(\.continuation) }
        }
        for continuation in continuations { continuation.yield(message) }
    }

    /// Whether a reader should start for the board; if one is reading, it is told to read again.
    private func shouldRead(_ boardID: String) -> Bool {
        state.withLock { state in
            guard var board = state.boards[boardID], !board.subscribers.isEmpty, board.cursor != nil else {
                return false
            }
            if board.reading {
                board.readAgain = true
                state.boards[boardID] = board
                return false
            }
            board.reading = true
            state.boards[boardID] = board
            return true
        }
    }

    private func allBoardsToRead() -> [String] {
        state.withLock { state in Array(state.boards.keys) }.filter { shouldRead($0) }
    }

    /// Reads the board's events after the cursor and hands them out, until nothing new is left.
    private func read(_ boardID: String) async {
        var failures = 0
        while true {
            guard let cursor = state.withLock({ $0.boards[boardID]?.cursor }) else { return }
            do {
                guard let window = try await repository.boardEvents(boardID: boardID, after: cursor, limit: Self.batch)
                else {
                    // The board is gone: its streams end.
                    finishBoard(boardID)
                    return
                }
                if !window.isContinuous && window.head > cursor {
                    // Pruned before this instance read them (it could not reach the database for ten minutes).
                    resetBoard(boardID, head: window.head)
                } else {
                    let events = try await renderer.render(window.events)
                    deliver(boardID, events, upTo: events.last?.seq ?? cursor)
                }
                failures = 0
                let more = window.events.count == Self.batch
                let again = state.withLock { state -> Bool in
                    guard var board = state.boards[boardID] else { return false }
                    if more || board.readAgain {
                        board.readAgain = false
                        state.boards[boardID] = board
                        return true
                    }
                    board.reading = false
                    state.boards[boardID] = board.subscribers.isEmpty ? nil : board
                    return false
                }
                if !again { return }
            } catch {
                failures += 1
                if failures == 1 {
                    logger.warning(
                        "could not read the board's live events; retrying",
                        metadata: ["pier.board": "\(boardID)", "error": "\(error)"])
                }
                do { try await Task.sleep(for: .milliseconds(min(5000, 200 * failures))) } catch {
                    state.withLock { state in state.boards[boardID]?.reading = false }
                    return
                }
            }
        }
    }

    private func deliver(_ boardID: String, _ events: [LiveEvent], upTo last: Int64) {
        var overflowed: [AsyncStream<LiveMessage>.Continuation] = []
        state.withLock { state in
            guard var board = state.boards[boardID] else { return }
            for (id, var subscriber) in board.subscribers {
                for event in events where event.seq > subscriber.delivered {
                    if subscriber.held != nil {
                        subscriber.held!.append(event)
                        if subscriber.held!.count > Self.bufferLimit {
                            overflowed.append(subscriber.continuation)
                            break
                        }
                        continue
                    }
                    if case .dropped = subscriber.continuation.yield(.event(event)) {
                        overflowed.append(subscriber.continuation)
                        break
                    }
                    subscriber.delivered = event.seq
                }
                board.subscribers[id] = subscriber
            }
            board.cursor = max(board.cursor ?? last, last)
            state.boards[boardID] = board
        }
        // A stream that cannot keep up ends; its client resumes from the last event it got.
        for continuation in overflowed { continuation.finish() }
    }

    private func resetBoard(_ boardID: String, head: Int64) {
        let continuations = state.withLock { state -> [AsyncStream<LiveMessage>.Continuation] in
            guard var board = state.boards[boardID] else { return [] }
            board.cursor = head
            state.boards[boardID] = board
            return board.subscribers.values.map(\.continuation)
        }
        for continuation in continuations {
            continuation.yield(.reset)
            continuation.finish()
        }
    }

    private func finishBoard(_ boardID: String) {
        let continuations = state.withLock { state in
            state.boards.removeValue(forKey: boardID)?.subscribers.values.map(\.continuation) ?? []
        }
        for continuation in continuations { continuation.finish() }
    }

    // MARK: Opening a stream

    /// The messages of a new stream of `boardID` for `userID`: first what came after `after` (every event from now
    /// when `nil`), then each new event. The stream ends when the hub stops or the stream falls too far behind;
    /// a `reset` comes first when events after `after` are no longer kept.
    /// The stream's owner calls ``close(boardID:id:)`` with the id when it stops reading.
    func open(boardID: String, userID: String, after: Int64?) async throws -> (
        id: UInt64, messages: AsyncStream<LiveMessage>
    ) {
        let (stream, continuation) = AsyncStream.makeStream(
            of: LiveMessage.self, bufferingPolicy: .bufferingOldest(Self.bufferLimit))
        let id = try state.withLock { state -> UInt64 in
            guard !state.stopped else {
                throw APIProblem(
                    .serviceUnavailable, code: "draining",
                    detail: "the instance is shutting down; reconnect, and another instance answers")
            }
            state.nextID += 1
            let id = state.nextID
            state.boards[boardID, default: BoardState()].subscribers[id] = Subscriber(
                userID: userID, continuation: continuation, delivered: after ?? -1, held: [])
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.close(boardID: boardID, id: id) }
        do {
            try await catchUp(boardID: boardID, id: id, after: after, continuation: continuation)
        } catch {
            continuation.finish()
            throw error
        }
        // Anything committed while it caught up is read now, by the hub's own reader.
        feed.publish([.board(boardID)])
        return (id, stream)
    }

    private func catchUp(
        boardID: String, id: UInt64, after: Int64?, continuation: AsyncStream<LiveMessage>.Continuation
    ) async throws {
        guard let first = try await repository.boardEvents(boardID: boardID, after: after ?? .max, limit: 1) else {
            throw APIProblem.notFound("board")
        }
        var position = after ?? first.head
        if after != nil, !first.isContinuous, position != first.head {
            continuation.yield(.reset)
            continuation.finish()
            return
        }
        while true {
            // Read up to what the hub has already handed out (or the head, when it has not started on the board).
            let target = state.withLock { state -> Int64 in
                if state.boards[boardID]?.cursor == nil { state.boards[boardID]?.cursor = max(position, first.head) }
                return state.boards[boardID]?.cursor ?? position
            }
            guard position < target else { break }
            guard
                let window = try await repository.boardEvents(
                    boardID: boardID, after: position, limit: Self.batch)
            else { throw APIProblem.notFound("board") }
            guard window.isContinuous else {
                continuation.yield(.reset)
                continuation.finish()
                return
            }
            for event in try await renderer.render(window.events.filter { $0.seq <= target }) {
                continuation.yield(.event(event))
                position = event.seq
            }
            if window.events.isEmpty { break }
        }
        // Caught up: what the hub held back follows, then the stream is live.
        state.withLock { state in
            guard var subscriber = state.boards[boardID]?.subscribers[id] else { return }
            for event in subscriber.held ?? [] where event.seq > position {
                continuation.yield(.event(event))
                position = event.seq
            }
            subscriber.held = nil
            subscriber.delivered = position
            state.boards[boardID]?.subscribers[id] = subscriber
        }
    }

    /// Ends a stream: the hub forgets it.
    func close(boardID: String, id: UInt64) {
        let removed = state.withLock { state -> Subscriber? in
            guard var board = state.boards[boardID] else { return nil }
            let removed = board.subscribers.removeValue(forKey: id)
            if board.subscribers.isEmpty && !board.reading {
                state.boards.removeValue(forKey: boardID)
            } else {
                state.boards[boardID] = board
            }
            return removed
        }
        removed?.continuation.finish()
    }
}
