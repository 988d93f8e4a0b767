import NIOCore
import PierBoardStore

/// Renders board events as server-sent events: the `data:` is the event with the current state of what it speaks
/// of, as the API returns it (the task, column or member; `null` once it is gone), and the actor's id and name.
struct LiveEventRenderer: Sendable {
    let repository: any BoardRepository

    func render(_ records: [BoardEventRecord]) async throws -> [LiveEvent] {
        guard !records.isEmpty else { return [] }
        var taskIDs: [String] = []
        var userIDs: Set<String> = []
        var columnIDs: Set<String> = []
        for record in records {
            if let actor = record.actorID { userIDs.insert(actor) }
            switch record.subject {
            case .task(let id, _): taskIDs.append(id)
            case .column(let id): columnIDs.insert(id)
            case .member(let id): userIDs.insert(id)
            case .board: break
            }
        }
        var tasks: [String: BoardTask] = [:]
        for task in try await repository.tasks(ids: taskIDs) { tasks[task.id] = task }
        var users: [String: User] = [:]
        for id in userIDs { users[id] = try await repository.user(id: id) }
        var columns: [String: BoardColumn] = [:]
        for id in columnIDs { columns[id] = try await repository.column(id: id)?.column }

        return records.map { record in
            var out = JSONOut()
            out.object { out in
                out.field("id", record.seq)
                out.field("kind", record.kind.rawValue)
                out.field("board_id", record.boardID)
                out.field("at", WireTime.format(record.at))
                if let actorID = record.actorID, let actor = users[actorID] {
                    out.field("actor", PersonOut(user: actor))
                } else {
                    out.field("actor", nil as String?)
                }
                switch record.subject {
                case .task(let id, let version):
                    out.field("task_id", id)
                    out.field("version", version)
                    if let task = tasks[id], record.kind != .taskDeleted {
                        out.field("task", TaskOut(task))
                    } else {
                        out.field("task", nil as String?)
                    }
                case .column(let id):
                    out.field("column_id", id)
                    if let column = columns[id], record.kind != .columnDeleted {
                        out.field("column", ColumnOut(column: column))
                    } else {
                        out.field("column", nil as String?)
                    }
                case .member(let id):
                    out.field("user_id", id)
                    if let user = users[id] {
                        out.field("member", PersonOut(user: user))
                    } else {
                        out.field("member", nil as String?)
                    }
                case .board:
                    break
                }
            }
            var frame = ByteBuffer()
            frame.writeString("id: \(record.seq)\nevent: \(record.kind.rawValue)\ndata: ")
            frame.writeString(out.text)
            frame.writeString("\n\n")
            var removed: String?
            if record.kind == .memberRemoved, case .member(let id) = record.subject { removed = id }
            return LiveEvent(seq: record.seq, frame: frame, removedMember: removed)
        }
    }
}

/// Who did something, as a live event names them.
struct PersonOut: JSONWritable {
    var user: User

    func writeJSON(to out: inout JSONOut) {
        out.object { out in
            out.field("id", user.id)
            out.field("name", user.name)
            out.field("role", user.role.rawValue)
        }
    }
}
