/// Everything the board service stores, as whole operations: each one is a single transaction that also writes its
/// audit events and outbox messages, so a change and its record can never be separated.
///
/// Implemented once over ``SQLDatabase`` (``SQLBoardRepository``) for PostgreSQL and SQLite; one conformance suite
/// runs against both.
public protocol BoardRepository: Sendable {
    // MARK: Schema
    func migrate() async throws
    /// Whether the database is reachable and fully migrated.
    func isReady() async -> Bool

    // MARK: Users
    func countUsers() async throws -> Int
    /// `passwordChangeRequired`: the password was generated, and its owner must choose another before anything else.
    func createUser(
        email: String, name: String, role: UserRole, passwordHash: String, actorID: String?,
        passwordChangeRequired: Bool
    ) async throws
        -> User
    func user(id: String) async throws -> User?
    func user(email: String) async throws -> User?
    func users() async throws -> [User]
    func setUserDisabled(id: String, disabled: Bool, actorID: String) async throws -> User
    /// Sets the language an account uses the board in (`ko`, `en`, or `nil`), which its email is written in.
    func setLanguage(id: String, language: String?) async throws -> User
    /// One's own display name (audited).
    func setName(id: String, name: String) async throws -> User
    /// Sets a new password and ends every session; `passwordChangeRequired` when it was generated for the owner.
    func setPasswordHash(id: String, passwordHash: String, actorID: String, passwordChangeRequired: Bool) async throws
    /// Replaces a hash by another of the same password (a rehash at a new cost), only if it is still `oldHash`;
    /// sessions are kept. Returns whether it was replaced.
    func replacePasswordHash(id: String, from oldHash: String, to newHash: String) async throws -> Bool

    // MARK: Boards
    func createBoard(name: String, actorID: String) async throws -> Board
    func boards(memberID: String) async throws -> [Board]
    func board(id: String) async throws -> Board?
    func isMember(boardID: String, userID: String) async throws -> Bool
    func members(boardID: String) async throws -> [User]
    func addMember(boardID: String, userID: String, actorID: String) async throws
    /// Removes a member. Refused (``StoreError/isRefused``) while tasks of the board are assigned to them
    /// (`member_has_tasks`) or when they are the board's last Supervisor (`last_supervisor`).
    func removeMember(boardID: String, userID: String, actorID: String) async throws

    // MARK: Columns
    /// A column and the board it belongs to.
    func column(id: String) async throws -> (boardID: String, column: BoardColumn)?
    /// Adds a column at the end of the board. Refused past ``SQLBoardRepository/maxColumns`` (`too_many_columns`);
    /// a name the board already has (ignoring case) is ``StoreError/isDuplicate``.
    func addColumn(boardID: String, name: String, isDone: Bool, actorID: String) async throws -> BoardColumn
    /// Renames a column, marks it done or not, or moves it to `position` (0 is first; the others shift).
    func updateColumn(id: String, changes: ColumnChanges, actorID: String) async throws -> BoardColumn
    /// Deletes an empty column. Refused for a board's only column (`last_column`) and while tasks are in it
    /// (`column_not_empty`).
    func deleteColumn(id: String, actorID: String) async throws

    // MARK: Tasks
    func createTask(boardID: String, _ task: NewTask, actorID: String) async throws -> BoardTask
    func task(id: String) async throws -> BoardTask?
    func tasks(boardID: String, query: TaskQuery) async throws -> TaskPage
    /// Applies `changes` if the task still has `expectedVersion`. With `onlyIfAssignedTo`, the change is refused
    /// (``StoreError/isForbidden``) unless the task, as locked in the transaction, is assigned to that user.
    func updateTask(
        id: String, expectedVersion: Int64, changes: TaskChanges, actorID: String, onlyIfAssignedTo: String?
    ) async throws -> BoardTask
    func moveTask(
        id: String, toColumnID: String, afterID: String?, beforeID: String?, expectedVersion: Int64?, actorID: String,
        onlyIfAssignedTo: String?
    ) async throws -> BoardTask
    func deleteTask(id: String, actorID: String) async throws

    // MARK: Comments and history
    func addComment(taskID: String, body: String, actorID: String) async throws -> TaskComment
    func comments(taskID: String) async throws -> [TaskComment]
    func history(taskID: String) async throws -> [AuditEvent]

    // MARK: Live events
    /// The board's events after `after`, at most `limit`; `nil` when the board does not exist.
    func boardEvents(boardID: String, after: Int64, limit: Int) async throws -> BoardEventWindow?
    /// The tasks with these ids that still exist, in no particular order.
    func tasks(ids: [String]) async throws -> [BoardTask]

    // MARK: In-app notifications
    /// Someone's inbox, unread first, and how many are unread.
    func inbox(userID: String, unreadOnly: Bool, limit: Int) async throws -> (items: [InboxItem], unread: Int)
    func markInboxItemRead(userID: String, id: String) async throws -> Bool
    @discardableResult func markInboxRead(userID: String) async throws -> Int

    // MARK: Email deliveries
    /// Deliveries, newest first, optionally only those in one state (`pending`, `delivered`, `dead`).
    func deliveries(state: String?, limit: Int) async throws -> [DeliveryRecord]
    /// Puts a dead delivery back in the queue; `false` when `id` is not a dead delivery.
    func retryDeadDelivery(id: String) async throws -> Bool
    /// Whether a delivery with this id exists.
    func deliveryExists(id: String) async throws -> Bool

    // MARK: Webhooks
    /// Adds a webhook to a board; the secret is returned this once.
    func createWebhook(boardID: String, url: String, events: [String], actorID: String) async throws -> (
        webhook: Webhook, secret: String
    )
    func webhooks(boardID: String) async throws -> [Webhook]
    func webhookExists(boardID: String, id: String) async throws -> Bool
    /// Deletes a webhook and its deliveries; `false` when the board has no such webhook.
    func deleteWebhook(boardID: String, id: String, actorID: String) async throws -> Bool
    /// Queues a `webhook.test` call; its delivery id, or `nil` when the board has no such webhook.
    func queueWebhookTest(boardID: String, id: String, actorID: String) async throws -> String?
    /// A webhook's deliveries, newest first.
    func webhookDeliveries(webhookID: String, limit: Int) async throws -> [WebhookDeliveryRecord]
    /// Puts a dead delivery of the webhook back in the queue; `false` when it is not one.
    func retryWebhookDelivery(webhookID: String, id: String) async throws -> Bool

    // MARK: Outbox
    func pendingOutbox(limit: Int, now: Int64) async throws -> [OutboxMessage]

    // MARK: Sessions (refresh tokens, stored as hashes)
    /// Starts a session: a new token family.
    func createSession(userID: String, tokenHash: String, expiresAt: Int64) async throws
    /// Exchanges a refresh token for its successor in the same family; presenting an already used token revokes the
    /// whole family (it was stolen or replayed).
    func rotateSession(presentedHash: String, newHash: String, expiresAt: Int64) async throws -> SessionRotation
    /// Ends the session the token belongs to.
    func endSession(tokenHash: String) async throws
}

extension BoardRepository {
    /// An account whose password its owner knows (chosen, not generated).
    public func createUser(email: String, name: String, role: UserRole, passwordHash: String, actorID: String?)
        async throws -> User
    {
        try await createUser(
            email: email, name: name, role: role, passwordHash: passwordHash, actorID: actorID,
            passwordChangeRequired: false)
    }

    public func setPasswordHash(id: String, passwordHash: String, actorID: String) async throws {
        try await setPasswordHash(id: id, passwordHash: passwordHash, actorID: actorID, passwordChangeRequired: false)
    }

    public func updateTask(id: String, expectedVersion: Int64, changes: TaskChanges, actorID: String) async throws
        -> BoardTask
    {
        try await updateTask(
            id: id, expectedVersion: expectedVersion, changes: changes, actorID: actorID, onlyIfAssignedTo: nil)
    }

    public func moveTask(
        id: String, toColumnID: String, afterID: String?, beforeID: String?, expectedVersion: Int64?, actorID: String
    ) async throws -> BoardTask {
        try await moveTask(
            id: id, toColumnID: toColumnID, afterID: afterID, beforeID: beforeID, expectedVersion: expectedVersion,
            actorID: actorID, onlyIfAssignedTo: nil)
    }
}
