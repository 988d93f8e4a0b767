import Foundation
import PierCore

extension SQLBoardRepository {
    public func boardEvents(boardID: String, after: Int64, limit: Int) async throws -> BoardEventWindow? {
        guard
            let head = try await database.query(
                "SELECT last_seq FROM board_event_heads WHERE board_id = $1", [.text(boardID)]
            ).first?.int("last_seq")
        else { return nil }
        guard after < head else { return BoardEventWindow(events: [], head: head, isContinuous: after == head) }
        let events = try await database.query(
            "SELECT board_id, seq, kind, actor_id, task_id, column_id, user_id, version, at FROM board_events WHERE board_id = $1 AND seq > $2 ORDER BY seq LIMIT \(max(1, limit))",
            [.text(boardID), .integer(after)]
        ).compactMap(Self.decodeBoardEvent)
        return BoardEventWindow(events: events, head: head, isContinuous: events.first?.seq == after + 1)
    }

    /// `nil` for a row of a kind this build does not know (written by a newer one): it is skipped.
    static func decodeBoardEvent(_ row: SQLRow) throws -> BoardEventRecord? {
        guard let kind = BoardEventKind(rawValue: try row.text("kind")) else { return nil }
        let subject: BoardEventRecord.Subject
        if let task = try row.optionalText("task_id") {
            subject = .task(id: task, version: try row.optionalInt("version") ?? 0)
        } else if let column = try row.optionalText("column_id") {
            subject = .column(id: column)
        } else if let user = try row.optionalText("user_id") {
            subject = .member(userID: user)
        } else {
            subject = .board
        }
        return BoardEventRecord(
            boardID: try row.text("board_id"), seq: try row.int("seq"), kind: kind,
            actorID: try row.optionalText("actor_id"), subject: subject, at: try row.int("at"))
    }

    public func tasks(ids taskIDs: [String]) async throws -> [BoardTask] {
        let unique = Array(Set(taskIDs)).sorted()
        guard !unique.isEmpty else { return [] }
        let markers = (1...unique.count).map { "$\($0)" }.joined(separator: ", ")
        let binds = unique.map { SQLValue.text($0) }
        let rows = try await database.query("SELECT \(Self.taskColumns) FROM tasks WHERE id IN (\(markers))", binds)
        var labels: [String: [String]] = [:]
        for row in try await database.query(
            "SELECT task_id, label FROM task_labels WHERE task_id IN (\(markers))", binds)
        {
            labels[try row.text("task_id"), default: []].append(try row.text("label"))
        }
        return try rows.map { row in
            try Self.decodeTask(row, labels: (labels[try row.text("id")] ?? []).sorted())
        }
    }
}
