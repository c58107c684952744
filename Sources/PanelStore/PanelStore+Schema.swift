import GRDB

extension PanelStore {
    /// The schema the migrations up to ``squashedMigrations`` leave, statement by statement as SQLite
    /// keeps it (`sqlite_master`, in creation order). A new, empty store is made with it in one
    /// transaction and those migrations are recorded as applied; later migrations then run as usual.
    /// Running the first fourteen migrations one by one cost ~33 million instructions (about 10 ms, SQLite
    /// re-reading its whole schema after every `ALTER TABLE`) — a sixth of a short batch's process. A
    /// test holds the two ways of making a store to the same schema; when a migration is added, this
    /// script may stay as it is (the migration runs after it) or be remade from a migrated store
    /// (the test prints the statements it finds).
    static let squashedSchema: [String] = [
        """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)
        """,
        """
        CREATE TABLE "response_cache" ("key" TEXT PRIMARY KEY NOT NULL, "backend" TEXT NOT NULL, "model" TEXT, "text" TEXT NOT NULL, "input_tokens" INTEGER, "output_tokens" INTEGER, "cost_usd" DOUBLE, "latency_ms" INTEGER NOT NULL, "ttft_ms" INTEGER, "finish_reason" TEXT, "created_at" DATETIME NOT NULL)
        """,
        """
        CREATE TABLE "batch_job" ("name" TEXT PRIMARY KEY NOT NULL, "created_at" DATETIME NOT NULL, "spent_usd" DOUBLE NOT NULL DEFAULT 0, "settings" TEXT, "budget_usd" DOUBLE, "cancelled" BOOLEAN NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE "batch_item" ("job" TEXT NOT NULL REFERENCES "batch_job"("name") ON DELETE CASCADE, "key" TEXT NOT NULL, "name" TEXT, "status" TEXT NOT NULL, "error" TEXT, "documents" TEXT NOT NULL DEFAULT '[]', "updated_at" DATETIME NOT NULL, "verdict" TEXT, "ship_share" DOUBLE, "score_median" DOUBLE, "cost_usd" DOUBLE, "answered" INTEGER, "position" INTEGER, "lease_owner" TEXT, "lease_token" TEXT, "lease_expires" DOUBLE, "listing" TEXT, "attempts" INTEGER NOT NULL DEFAULT 0, trace TEXT, PRIMARY KEY ("job", "key"))
        """,
        """
        CREATE TABLE "batch_name" ("job" TEXT NOT NULL, "name" TEXT NOT NULL, "key" TEXT NOT NULL, PRIMARY KEY ("job", "name"))
        """,
        """
        CREATE UNIQUE INDEX "batch_name_by_key" ON "batch_name"("job", "key")
        """,
        """
        CREATE TABLE "batch_result" (
          job TEXT NOT NULL, key TEXT NOT NULL, persona TEXT NOT NULL, review TEXT NOT NULL, cost_usd DOUBLE,
          created_at DATETIME NOT NULL, UNIQUE (job, key, persona)
        )
        """,
        """
        CREATE TABLE budget_reservation (
          job TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, amount_usd DOUBLE NOT NULL, expires DOUBLE NOT NULL,
          PRIMARY KEY (job, id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE "batch_document" (
          job TEXT NOT NULL, key TEXT NOT NULL, extension TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (job, key, extension)
        )
        """,
        """
        CREATE TABLE rate_window (
          backend TEXT NOT NULL, minute INTEGER NOT NULL, requests INTEGER NOT NULL, tokens INTEGER NOT NULL,
          PRIMARY KEY (backend, minute)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE team_token (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
          budget_usd DOUBLE, spent_usd DOUBLE NOT NULL DEFAULT 0, created_at DOUBLE NOT NULL,
          revoked BOOLEAN NOT NULL DEFAULT 0, display_name TEXT)
        """,
        """
        CREATE TABLE team_session (
          secret_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, csrf TEXT NOT NULL, expires DOUBLE NOT NULL)
        """,
        """
        CREATE TABLE team_review (
          id TEXT PRIMARY KEY, created_at DOUBLE NOT NULL, token_id TEXT NOT NULL, created_by TEXT NOT NULL,
          status TEXT NOT NULL, title TEXT NOT NULL, title_lower TEXT NOT NULL, listings TEXT NOT NULL, document TEXT,
          verdicts TEXT NOT NULL DEFAULT '', cost_usd DOUBLE, error TEXT, reserved_usd DOUBLE NOT NULL DEFAULT 0)
        """,
        """
        CREATE INDEX team_review_newest ON team_review (created_at DESC, id DESC)
        """,
        """
        CREATE TABLE team_review_action (
          review_id TEXT NOT NULL REFERENCES team_review(id) ON DELETE CASCADE, seq INTEGER NOT NULL, action TEXT NOT NULL,
          PRIMARY KEY (review_id, seq)) WITHOUT ROWID
        """,
        """
        CREATE TABLE backend_quality (
          backend TEXT PRIMARY KEY, kappa DOUBLE, agreement DOUBLE, n INTEGER NOT NULL, updated_at DOUBLE NOT NULL)
        """,
        """
        CREATE INDEX team_review_unfinished ON team_review (token_id) WHERE status IN ('queued', 'running')
        """,
        """
        CREATE TABLE team_batch_charge (
          job TEXT PRIMARY KEY, token_id TEXT NOT NULL, reserved_usd DOUBLE NOT NULL, settled BOOLEAN NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE team_review_event (
          review_id TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
          PRIMARY KEY (review_id, seq)) WITHOUT ROWID
        """,
        """
        CREATE TABLE team_review_event_expiry (review_id TEXT PRIMARY KEY, expires DOUBLE NOT NULL)
        """,
        """
        CREATE INDEX team_review_event_expiry_by_time ON team_review_event_expiry (expires)
        """,
        """
        CREATE TABLE team_publication (
          slug TEXT PRIMARY KEY, review_id TEXT NOT NULL UNIQUE REFERENCES team_review(id) ON DELETE CASCADE,
          published_at DOUBLE NOT NULL, updated_at DOUBLE NOT NULL, voting_open BOOLEAN NOT NULL DEFAULT 1)
        """,
        """
        CREATE INDEX team_publication_newest ON team_publication (published_at DESC, slug)
        """,
        """
        CREATE TABLE team_vote (
          review_id TEXT NOT NULL, tool TEXT NOT NULL, reader TEXT NOT NULL, verdict TEXT NOT NULL,
          network TEXT NOT NULL, voted_at DOUBLE NOT NULL, PRIMARY KEY (review_id, tool, reader)) WITHOUT ROWID
        """,
        """
        CREATE INDEX team_vote_network ON team_vote (network, voted_at)
        """,
        """
        CREATE TABLE team_secret (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID
        """,
        """
        CREATE INDEX batch_item_queued_order ON batch_item (job, position, key) WHERE status = 'pending'
        """,
    ]

    /// The migrations ``squashedSchema`` stands for.
    static let squashedMigrations = [
        "v1-response-cache",
        "v2-batch",
        "v3-batch-outcome",
        "v4-batch-result-without-rowid",
        "v5-batch-item-position",
        "v6-leases-and-budget",
        "v7-queue-and-documents",
        "v8-team",
        "v9-backend-quality",
        "v10-token-reservations",
        "v11-review-jobs",
        "v12-publications",
        "v13-queued-trace",
        "v14-claim-order",
        "v15-rowid-results-and-documents",
    ]

    /// Makes an empty store's schema in one step; a store with anything in it is left to the migrator.
    static func createSquashedSchema(_ pool: DatabasePool) throws {
        try pool.barrierWriteWithoutTransaction { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") == 0 else { return }
            try db.inTransaction {
                for statement in squashedSchema { try db.execute(sql: statement) }
                let insert = try db.makeStatement(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)")
                for identifier in squashedMigrations { try insert.execute(arguments: [identifier]) }
                return .commit
            }
        }
    }
}
