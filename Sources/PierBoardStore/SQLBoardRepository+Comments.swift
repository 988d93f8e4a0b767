import Foundation
import PierCore

extension SQLBoardRepository {
    public func addComment(taskID: String, body: String, actorID: String) async throws -> TaskComment {
        let now = clock()
        let ids = self.ids
        return try await write(now: now) { db, recorder in
            guard let task = try await Self.loadTask(db, id: taskID, lock: true) else {
                throw StoreError.notFound("task")
            }
            let comment = TaskComment(
                id: ids.next(now: now), taskID: taskID, authorID: actorID, body: body, createdAt: now)
            try await db.query(
                "INSERT INTO comments (id, task_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                [.text(comment.id), .text(taskID), .text(actorID), .text(body), .integer(now)]
            )
            var change = Change(boardID: task.boardID, taskID: taskID, actorID: actorID)
            change.audit("comment.added", new: comment.id)
            var payload = [
                "task_id": taskID, "board_id": task.boardID, "actor_id": actorID, "title": task.title,
                "comment_id": comment.id, "excerpt": String(body.prefix(280)),
            ]
            if let assignee = task.assigneeID { payload["assignee_id"] = assignee }
            change.notify("task.commented", key: "task.commented:\(comment.id)", payload: payload)
            change.live(.taskCommented, .task(id: taskID, version: task.version))
            try await recorder.record(db, change)
            return comment
        }
    }

    public func comments(taskID: String) async throws -> [TaskComment] {
        try await database.query(
            "SELECT id, task_id, author_id, body, created_at FROM comments WHERE task_id = $1 ORDER BY id",
            [.text(taskID)]
        ).map {
            TaskComment(
                id: try $0.text("id"), taskID: try $0.text("task_id"), authorID: try $0.text("author_id"),
                body: try $0.text("body"), createdAt: try $0.int("created_at"))
        }
    }

    public func history(taskID: String) async throws -> [AuditEvent] {
        try await database.query(
            "SELECT id, board_id, task_id, actor_id, action, field, old_value, new_value, at FROM audit_events WHERE task_id = $1 ORDER BY id",
            [.text(taskID)]
        ).map(Self.decodeAudit)
    }

    static func decodeAudit(_ row: SQLRow) throws -> AuditEvent {
        AuditEvent(
            id: try row.text("id"), boardID: try row.optionalText("board_id"), taskID: try row.optionalText("task_id"),
            actorID: try row.text("actor_id"),
            action: try row.text("action"), field: try row.optionalText("field"),
            oldValue: try row.optionalText("old_value"),
            newValue: try row.optionalText("new_value"), at: try row.int("at")
        )
    }
}
