import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PierBoardStore
import PierCore

extension BoardAPI {
    func addTaskRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("tasks/:id") { _, context in
            let (task, _) = try await self.memberTask(context)
            return Response.json(TaskOut(task), headers: [.eTag: Self.eTag(task)])
        }
        group.patch("tasks/:id") { request, context in try await self.updateTask(request, context) }
        group.delete("tasks/:id") { _, context in
            let (task, _) = try await self.memberTask(context)
            let user = try Self.requireSupervisor(context)
            try await self.repository.deleteTask(id: task.id, actorID: user.id)
            return Response.noContent()
        }
        group.post("tasks/:id/move") { request, context in try await self.moveTask(request, context) }
        group.get("tasks/:id/comments") { _, context in
            let (task, _) = try await self.memberTask(context)
            return Response.json(try await self.repository.comments(taskID: task.id).map(CommentOut.init))
        }
        group.post("tasks/:id/comments") { request, context in
            let (task, user) = try await self.memberTask(context)
            let input = try await JSONInput.read(request, allowed: ["body"])
            let body = try input.string("body", maxLength: Limits.comment)
            let comment = try await self.repository.addComment(taskID: task.id, body: body, actorID: user.id)
            return Response.json(CommentOut(comment), status: .created)
        }
        group.get("tasks/:id/history") { _, context in
            let (task, _) = try await self.memberTask(context)
            return Response.json(try await self.repository.history(taskID: task.id).map(HistoryOut.init))
        }
    }

    /// The task in the path, if the signed-in user is a member of its board; otherwise 404.
    func memberTask(_ context: BoardContext) async throws -> (BoardTask, User) {
        let user = try context.requireUser()
        let id = try Self.pathID(context, "task")
        guard let task = try await repository.task(id: id),
            try await repository.isMember(boardID: task.boardID, userID: user.id)
        else { throw APIProblem.notFound("task") }
        return (task, user)
    }

    /// What a user may change on a task: a Supervisor anything, a PIC the status (column), position and content of a
    /// task assigned to them.
    static func requireMayChange(_ task: BoardTask, by user: User, fields: Set<String>) throws {
        if user.role == .supervisor { return }
        guard task.assigneeID == user.id else {
            throw APIProblem.forbidden("a PIC may only change tasks assigned to them")
        }
        let allowed: Set<String> = ["column_id", "content", "version", "after_id", "before_id"]
        if let field = fields.subtracting(allowed).sorted().first {
            throw APIProblem(
                .forbidden, code: "forbidden",
                detail: "a PIC may change only the status, position and content of a task",
                extensions: [APIProblem.naming(field)])
        }
    }

    /// The version the client saw: `If-Match` (an ETag from GET) or the `version` field; `nil` when neither is sent.
    static func expectedVersion(_ request: Request, _ input: JSONInput) throws -> Int64? {
        let field = try input.optionalInteger("version", range: 0...Int64.max)
        if let header = request.headers[.ifMatch] {
            var text = header.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("W/") { text.removeFirst(2) }
            guard text.count >= 3, text.first == "\"", text.last == "\"",
                let version = Int64(text.dropFirst().dropLast())
            else {
                throw APIProblem(
                    .badRequest, code: "invalid_if_match", detail: "If-Match must be the task's ETag, such as \"3\"")
            }
            if let field, field != version {
                throw APIProblem.invalidField("version", "differs from If-Match")
            }
            return version
        }
        return field
    }

    /// A 409 that carries the task as it is now, so the client can show the other change and retry.
    func conflict(_ error: StoreError, taskID: String) async throws -> APIProblem {
        var problem = APIProblem.from(error)
        if let current = try await repository.task(id: taskID) {
            let json = JSONOut.render(TaskOut(current))
            problem.extensions = [("current_version", String(current.version)), ("current_task", json)]
            problem.headers[.eTag] = Self.eTag(current)
        }
        return problem
    }

    /// `PATCH /tasks/{id}`.
    func updateTask(_ request: Request, _ context: BoardContext) async throws -> Response {
        let (task, user) = try await memberTask(context)
        let input = try await JSONInput.read(
            request,
            allowed: ["title", "content", "column_id", "assignee_id", "due_at", "due_time_zone", "labels", "version"])
        try Self.requireMayChange(task, by: user, fields: Set(input.fields.keys))
        guard let version = try Self.expectedVersion(request, input) else {
            throw APIProblem(
                .preconditionRequired, code: "version_required",
                detail: "send If-Match with the task's ETag, or the version you saw in a version field")
        }
        var changes = TaskChanges()
        changes.title = try input.optionalString("title", maxLength: Limits.title)
        changes.content = try input.optionalString("content", maxLength: Limits.content, allowEmpty: true)
        changes.columnID = try input.optionalString("column_id", maxLength: 36)
        changes.assigneeID = try input.clearableString("assignee_id", maxLength: 36)
        if let due = try input.clearableString("due_at", maxLength: 40) {
            changes.dueAt = .some(try Self.dueAt(due))
        }
        if let zone = try input.clearableString("due_time_zone", maxLength: Limits.timeZone) {
            changes.dueTimeZone = .some(try Self.timeZone(zone))
        }
        changes.labels = try Self.labels(
            input.optionalStrings("labels", maxCount: Limits.labels, maxLength: Limits.label))
        do {
            // For a PIC, the assignment is checked again on the locked row: a reassignment in between wins.
            let updated = try await repository.updateTask(
                id: task.id, expectedVersion: version, changes: changes, actorID: user.id,
                onlyIfAssignedTo: user.role == .pic ? user.id : nil)
            return Response.json(TaskOut(updated), headers: [.eTag: Self.eTag(updated)])
        } catch let error as StoreError where error.isConflict {
            throw try await conflict(error, taskID: task.id)
        }
    }

    /// `POST /tasks/{id}/move`: to a column, optionally between two neighbours.
    func moveTask(_ request: Request, _ context: BoardContext) async throws -> Response {
        let (task, user) = try await memberTask(context)
        let input = try await JSONInput.read(request, allowed: ["column_id", "after_id", "before_id", "version"])
        try Self.requireMayChange(task, by: user, fields: Set(input.fields.keys))
        let columnID = try input.string("column_id", maxLength: 36)
        let afterID = try input.optionalString("after_id", maxLength: 36, nullable: true)
        let beforeID = try input.optionalString("before_id", maxLength: 36, nullable: true)
        let version = try Self.expectedVersion(request, input)
        do {
            let moved = try await repository.moveTask(
                id: task.id, toColumnID: columnID, afterID: afterID, beforeID: beforeID, expectedVersion: version,
                actorID: user.id, onlyIfAssignedTo: user.role == .pic ? user.id : nil)
            return Response.json(TaskOut(moved), headers: [.eTag: Self.eTag(moved)])
        } catch let error as StoreError where error.isConflict {
            throw try await conflict(error, taskID: task.id)
        }
    }
}
