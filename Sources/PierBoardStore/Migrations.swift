/// The versioned schema. Statements are portable between PostgreSQL and SQLite (TEXT ids, BIGINT epoch
/// milliseconds, BOOLEAN, DOUBLE PRECISION), so one list serves both databases.
public enum Migrations {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var statements: [String]
    }

    public static let all: [Migration] = [
        Migration(
            version: 1,
            name: "users, boards, tasks, comments, audit, outbox, refresh tokens",
            statements: [
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL,
                    email_key TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('supervisor', 'pic')),
                    disabled BOOLEAN NOT NULL DEFAULT FALSE,
                    password_hash TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE boards (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    created_by TEXT NOT NULL REFERENCES users (id),
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE board_columns (
                    id TEXT PRIMARY KEY,
                    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    is_done BOOLEAN NOT NULL DEFAULT FALSE
                )
                """,
                "CREATE INDEX board_columns_board ON board_columns (board_id, position)",
                """
                CREATE TABLE board_members (
                    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users (id),
                    added_at BIGINT NOT NULL,
                    PRIMARY KEY (board_id, user_id)
                )
                """,
                "CREATE INDEX board_members_user ON board_members (user_id)",
                """
                CREATE TABLE tasks (
                    id TEXT PRIMARY KEY,
                    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
                    column_id TEXT NOT NULL REFERENCES board_columns (id),
                    title TEXT NOT NULL,
                    content TEXT NOT NULL,
                    assignee_id TEXT REFERENCES users (id),
                    due_at BIGINT,
                    due_tz TEXT,
                    position DOUBLE PRECISION NOT NULL,
                    version BIGINT NOT NULL,
                    created_by TEXT NOT NULL REFERENCES users (id),
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX tasks_board_column_position ON tasks (board_id, column_id, position, id)",
                "CREATE INDEX tasks_assignee ON tasks (assignee_id)",
                """
                CREATE TABLE task_labels (
                    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                    label TEXT NOT NULL,
                    PRIMARY KEY (task_id, label)
                )
                """,
                "CREATE INDEX task_labels_label ON task_labels (label)",
                """
                CREATE TABLE comments (
                    id TEXT PRIMARY KEY,
                    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                    author_id TEXT NOT NULL REFERENCES users (id),
                    body TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX comments_task ON comments (task_id, id)",
                """
                CREATE TABLE audit_events (
                    id TEXT PRIMARY KEY,
                    board_id TEXT,
                    task_id TEXT,
                    actor_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    field TEXT,
                    old_value TEXT,
                    new_value TEXT,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX audit_events_task ON audit_events (task_id, id)",
                """
                CREATE TABLE task_transitions (
                    id TEXT PRIMARY KEY,
                    task_id TEXT NOT NULL,
                    from_column_id TEXT,
                    to_column_id TEXT NOT NULL,
                    actor_id TEXT NOT NULL,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX task_transitions_task ON task_transitions (task_id, id)",
                """
                CREATE TABLE outbox (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    available_at BIGINT NOT NULL,
                    delivered_at BIGINT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT
                )
                """,
                "CREATE INDEX outbox_pending ON outbox (delivered_at, available_at)",
                """
                CREATE TABLE refresh_tokens (
                    id TEXT PRIMARY KEY,
                    family_id TEXT NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users (id),
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
            ]
        ),
        Migration(
            version: 2,
            name: "index for the end of a column (creates and moves)",
            statements: [
                // `MAX(position) WHERE column_id = $1` runs on every create and move; without this index it scans
                // the board's tasks.
                "CREATE INDEX tasks_column_position ON tasks (column_id, position)"
            ]
        ),
        Migration(
            version: 3,
            name: "session version of an account (revokes its access tokens at once)",
            statements: [
                "ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0"
            ]
        ),
        Migration(
            version: 4,
            name: "notifications: in-app inbox, email deliveries and their attempts, each account's language",
            statements: [
                "ALTER TABLE users ADD COLUMN language TEXT CHECK (language IN ('ko', 'en'))",
                """
                CREATE TABLE deliveries (
                    id TEXT PRIMARY KEY,
                    outbox_id TEXT NOT NULL REFERENCES outbox (id),
                    channel TEXT NOT NULL CHECK (channel IN ('email')),
                    recipient_id TEXT NOT NULL REFERENCES users (id),
                    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    available_at BIGINT NOT NULL,
                    finished_at BIGINT,
                    last_error TEXT,
                    UNIQUE (outbox_id, channel, recipient_id)
                )
                """,
                "CREATE INDEX deliveries_due ON deliveries (state, available_at)",
                // Reminders look for tasks whose due date is near or past.
                "CREATE INDEX tasks_due ON tasks (due_at)",
                """
                CREATE TABLE delivery_attempts (
                    id TEXT PRIMARY KEY,
                    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
                    at BIGINT NOT NULL,
                    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
                    detail TEXT NOT NULL
                )
                """,
                "CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id)",
                """
                CREATE TABLE inbox_items (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users (id),
                    outbox_id TEXT NOT NULL REFERENCES outbox (id),
                    kind TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    read_at BIGINT,
                    UNIQUE (outbox_id, user_id)
                )
                """,
                "CREATE INDEX inbox_items_user ON inbox_items (user_id, read_at, id)",
            ]
        ),
        Migration(
            version: 5,
            name: "live board events, numbered per board in commit order",
            statements: [
                """
                CREATE TABLE board_event_heads (
                    board_id TEXT PRIMARY KEY REFERENCES boards (id) ON DELETE CASCADE,
                    last_seq BIGINT NOT NULL
                )
                """,
                "INSERT INTO board_event_heads (board_id, last_seq) SELECT id, 0 FROM boards",
                // No foreign keys to tasks, columns or users: an event outlives what it speaks of.
                """
                CREATE TABLE board_events (
                    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
                    seq BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    actor_id TEXT,
                    task_id TEXT,
                    column_id TEXT,
                    user_id TEXT,
                    version BIGINT,
                    at BIGINT NOT NULL,
                    PRIMARY KEY (board_id, seq)
                )
                """,
            ]
        ),
        Migration(
            version: 6,
            name: "webhooks per board, their deliveries and every attempt",
            statements: [
                """
                CREATE TABLE webhooks (
                    id TEXT PRIMARY KEY,
                    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
                    url TEXT NOT NULL,
                    secret TEXT NOT NULL,
                    events TEXT NOT NULL,
                    created_by TEXT NOT NULL REFERENCES users (id),
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX webhooks_board ON webhooks (board_id)",
                """
                CREATE TABLE webhook_deliveries (
                    id TEXT PRIMARY KEY,
                    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
                    outbox_id TEXT REFERENCES outbox (id),
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    available_at BIGINT NOT NULL,
                    finished_at BIGINT,
                    last_status INTEGER,
                    last_error TEXT,
                    UNIQUE (outbox_id, webhook_id)
                )
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, available_at)",
                "CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id)",
                """
                CREATE TABLE webhook_attempts (
                    id TEXT PRIMARY KEY,
                    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
                    at BIGINT NOT NULL,
                    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
                    status INTEGER,
                    detail TEXT NOT NULL
                )
                """,
                "CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id)",
            ]
        ),
        Migration(
            version: 7,
            name: "accounts whose password was generated must choose their own",
            statements: [
                "ALTER TABLE users ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT FALSE"
            ]
        ),
    ]

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies every migration not yet applied, each in its own transaction; safe to run from several instances
    /// at once (PostgreSQL: an advisory lock; SQLite: one writer).
    @discardableResult
    public static func migrate(_ database: any SQLDatabase, now: Int64) async throws -> [Int] {
        var applied: [Int] = []
        for migration in all {
            let didApply = try await database.transaction { transaction in
                if transaction.dialect == .postgres {
                    try await transaction.query("SELECT pg_advisory_xact_lock(7270001)")
                }
                // Inside the lock, so instances starting together on an empty database do not race to create it.
                try await transaction.query(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                )
                let existing = try await transaction.query(
                    "SELECT version FROM schema_migrations WHERE version = $1", [.integer(Int64(migration.version))])
                guard existing.isEmpty else { return false }
                for statement in migration.statements {
                    try await transaction.query(statement)
                }
                try await transaction.query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    [.integer(Int64(migration.version)), .text(migration.name), .integer(now)]
                )
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// The highest applied version (0 for an empty database).
    public static func currentVersion(_ database: any SQLDatabase) async throws -> Int {
        let exists: [SQLRow]
        switch database.dialect {
        case .postgres:
            exists = try await database.query(
                "SELECT 1 AS found FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
            )
        case .sqlite:
            exists = try await database.query(
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        }
        guard !exists.isEmpty else { return 0 }
        let rows = try await database.query("SELECT MAX(version) AS version FROM schema_migrations")
        return Int(try rows.first?.optionalInt("version") ?? 0)
    }
}
