import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PierBoardStore
import PierCore

/// Input limits of the board API.
enum Limits {
    static let boardName = 100
    static let title = 200
    static let content = 50_000
    static let labels = 20
    static let label = 40
    static let comment = 10_000
    static let timeZone = 64
    static let search = 200
    static let pageSize = 200
    static let columnName = 50
}

extension BoardAPI {
    func addBoardRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("boards") { _, context in
            let user = try context.requireUser()
            return Response.json(try await self.repository.boards(memberID: user.id).map { BoardOut($0) })
        }
        group.post("boards") { request, context in
            let user = try Self.requireSupervisor(context)
            let input = try await JSONInput.read(request, allowed: ["name"])
            let name = try input.string("name", maxLength: Limits.boardName)
            let board = try await self.repository.createBoard(name: name, actorID: user.id)
            return Response.json(
                BoardOut(board), status: .created, headers: [.location: "\(Self.prefix)/boards/\(board.id)"])
        }
        group.get("boards/:id") { _, context in
            let id = try await self.memberBoardID(context)
            // Read before the board, so that a stream opened `?after=` it misses nothing the board did not show.
            let head = try await self.repository.boardEvents(boardID: id, after: .max, limit: 1)?.head
            guard let board = try await self.repository.board(id: id) else { throw APIProblem.notFound("board") }
            return Response.json(BoardOut(board, lastEventID: head))
        }
        group.get("boards/:id/members") { _, context in
            let boardID = try await self.memberBoardID(context)
            return Response.json(try await self.repository.members(boardID: boardID).map(UserOut.init))
        }
        group.post("boards/:id/members") { request, context in
            let boardID = try await self.memberBoardID(context)
            let user = try Self.requireSupervisor(context)
            let input = try await JSONInput.read(request, allowed: ["user_id"])
            let memberID = try input.string("user_id", maxLength: 36)
            guard try await self.repository.user(id: memberID) != nil else {
                throw APIProblem.invalidField("user_id", "no such user")
            }
            try await self.repository.addMember(boardID: boardID, userID: memberID, actorID: user.id)
            return Response.noContent()
        }
        group.delete("boards/:id/members/:user_id") { _, context in
            let boardID = try await self.memberBoardID(context)
            let user = try Self.requireSupervisor(context)
            let memberID = try Self.pathID(context, "member", parameter: "user_id")
            try await self.repository.removeMember(boardID: boardID, userID: memberID, actorID: user.id)
            return Response.noContent()
        }
        group.post("boards/:id/columns") { request, context in
            let boardID = try await self.memberBoardID(context)
            let user = try Self.requireSupervisor(context)
            let input = try await JSONInput.read(request, allowed: ["name", "is_done"])
            let column = try await self.repository.addColumn(
                boardID: boardID, name: try Self.columnName(input.string("name", maxLength: Limits.columnName)),
                isDone: try input.optionalBool("is_done") ?? false, actorID: user.id)
            return Response.json(ColumnOut(column: column), status: .created)
        }
        group.patch("columns/:id") { request, context in
            let columnID = try await self.memberColumnID(context)
            let user = try Self.requireSupervisor(context)
            let input = try await JSONInput.read(request, allowed: ["name", "is_done", "position"])
            let changes = ColumnChanges(
                name: try input.optionalString("name", maxLength: Limits.columnName).map(Self.columnName),
                isDone: try input.optionalBool("is_done"),
                position: try input.optionalInteger(
                    "position", range: 0...Int64(SQLBoardRepository.maxColumns - 1)
                ).map { Int($0) })
            let column = try await self.repository.updateColumn(id: columnID, changes: changes, actorID: user.id)
            return Response.json(ColumnOut(column: column))
        }
        group.delete("columns/:id") { _, context in
            let columnID = try await self.memberColumnID(context)
            let user = try Self.requireSupervisor(context)
            try await self.repository.deleteColumn(id: columnID, actorID: user.id)
            return Response.noContent()
        }
        group.get("boards/:id/tasks") { request, context in
            let user = try context.requireUser()
            let boardID = try await self.memberBoardID(context)
            let query = try self.taskQuery(request, user: user)
            let page = try await self.repository.tasks(boardID: boardID, query: query)
            return Response.json(TaskPageOut(tasks: page.tasks.map(TaskOut.init), nextCursor: page.nextCursor))
        }
        group.post("boards/:id/tasks") { request, context in
            let boardID = try await self.memberBoardID(context)
            let user = try Self.requireSupervisor(context)
            let input = try await JSONInput.read(
                request,
                allowed: ["title", "content", "column_id", "assignee_id", "due_at", "due_time_zone", "labels"])
            let new = NewTask(
                title: try input.string("title", maxLength: Limits.title),
                content: try input.optionalString("content", maxLength: Limits.content, allowEmpty: true) ?? "",
                columnID: try input.optionalString("column_id", maxLength: 36),
                assigneeID: try input.optionalString("assignee_id", maxLength: 36, nullable: true),
                dueAt: try Self.dueAt(input.optionalString("due_at", maxLength: 40, nullable: true)),
                dueTimeZone: try Self.timeZone(
                    input.optionalString("due_time_zone", maxLength: Limits.timeZone, nullable: true)),
                labels: try Self.labels(
                    input.optionalStrings("labels", maxCount: Limits.labels, maxLength: Limits.label))
                    ?? []
            )
            let task = try await self.repository.createTask(boardID: boardID, new, actorID: user.id)
            return Response.json(
                TaskOut(task), status: .created,
                headers: [.location: "\(Self.prefix)/tasks/\(task.id)", .eTag: Self.eTag(task)])
        }
    }

    /// The board in the path, if the signed-in user is a member; otherwise 404 (a board you are not a member of
    /// does not exist for you). Membership is checked before any role rule, so outsiders never learn more.
    func memberBoard(_ context: BoardContext) async throws -> Board {
        let id = try await memberBoardID(context)
        guard let board = try await repository.board(id: id) else { throw APIProblem.notFound("board") }
        return board
    }

    /// A column of a board the caller is a member of; any other column is 404.
    func memberColumnID(_ context: BoardContext) async throws -> String {
        let user = try context.requireUser()
        let id = try Self.pathID(context, "column")
        guard let (boardID, _) = try await repository.column(id: id),
            try await repository.isMember(boardID: boardID, userID: user.id)
        else { throw APIProblem.notFound("column") }
        return id
    }

    /// A column name as stored: without surrounding white space.
    static func columnName(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The board id in the path, if the signed-in user is a member (so the board exists); otherwise 404. For routes
    /// that do not need the board itself, this is one query instead of three.
    func memberBoardID(_ context: BoardContext) async throws -> String {
        let user = try context.requireUser()
        let id = try Self.pathID(context, "board")
        guard try await repository.isMember(boardID: id, userID: user.id) else { throw APIProblem.notFound("board") }
        return id
    }

    static let taskQueryParameters: Set<String> = [
        "assignee", "column", "label", "q", "due_before", "overdue", "limit", "cursor",
    ]

    /// Query parameters decoded as HTML forms send them: `+` is a space, then percent-escapes; the first of
    /// repeated names wins.
    static func formParameters(_ query: String?) throws -> [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        var parameters: [(name: String, value: String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) throws -> String {
                guard let decoded = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw APIProblem.invalidParameter(String(parts[0]), "is not valid percent-encoded UTF-8")
                }
                return decoded
            }
            parameters.append((try decode(parts[0]), parts.count > 1 ? try decode(parts[1]) : ""))
        }
        return parameters
    }

    func taskQuery(_ request: Request, user: User) throws -> TaskQuery {
        let parameters = try Self.formParameters(request.uri.query)
        for (name, _) in parameters where !Self.taskQueryParameters.contains(name) {
            throw APIProblem(
                .badRequest, code: "unknown_parameter",
                detail:
                    "unknown query parameter \"\(name)\"; expected one of: \(Self.taskQueryParameters.sorted().joined(separator: ", "))",
                extensions: [("parameter", JSONText.quoted(String(name)))])
        }
        func text(_ name: String, maxLength: Int) throws -> String? {
            guard let value = parameters.first(where: { $0.name == name })?.value else { return nil }
            guard !value.isEmpty, value.unicodeScalars.count <= maxLength else {
                throw APIProblem.invalidParameter(name, "must be 1 to \(maxLength) characters")
            }
            guard !value.unicodeScalars.contains(where: { $0.value == 0 }) else {
                throw APIProblem.invalidParameter(name, "must not contain NUL characters")
            }
            return value
        }
        var query = TaskQuery(now: clock())
        if let assignee = try text("assignee", maxLength: 36) {
            query.assigneeID = assignee == "me" ? user.id : assignee
        }
        query.columnID = try text("column", maxLength: 36)
        query.label = try text("label", maxLength: Limits.label)
        query.text = try text("q", maxLength: Limits.search)
        if let due = try text("due_before", maxLength: 40) {
            guard let parsed = WireTime.parse(due) else {
                throw APIProblem.invalidParameter(
                    "due_before", "must be an RFC 3339 date-time such as 2026-12-01T09:00:00+09:00")
            }
            query.dueBefore = parsed
        }
        if let overdue = try text("overdue", maxLength: 5) {
            guard overdue == "true" || overdue == "false" else {
                throw APIProblem.invalidParameter("overdue", "must be true or false")
            }
            query.overdue = overdue == "true"
        }
        if let limit = try text("limit", maxLength: 4) {
            guard let value = Int(limit), (1...Limits.pageSize).contains(value) else {
                throw APIProblem.invalidParameter("limit", "must be a number from 1 to \(Limits.pageSize)")
            }
            query.limit = value
        }
        query.cursor = try text("cursor", maxLength: 200)
        return query
    }

    // MARK: Field rules shared by create and update

    static func dueAt(_ text: String?) throws -> Int64? {
        guard let text else { return nil }
        guard let value = WireTime.parse(text) else {
            throw APIProblem.invalidField("due_at", "must be an RFC 3339 date-time such as 2026-12-01T18:00:00+09:00")
        }
        return value
    }

    static func timeZone(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard TimeZone(identifier: text) != nil, text.contains("/") || text == "UTC" else {
            throw APIProblem.invalidField("due_time_zone", "must be an IANA time zone such as Asia/Seoul")
        }
        return text
    }

    static func labels(_ labels: [String]?) throws -> [String]? {
        guard let labels else { return nil }
        return labels.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func eTag(_ task: BoardTask) -> String { "\"\(task.version)\"" }
}
