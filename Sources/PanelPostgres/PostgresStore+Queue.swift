import Foundation
public import ModelBackends
public import PanelEngine
import PostgresNIO

/// The queue half of the store protocol on PostgreSQL: enqueuing a job's listings, claiming them with
/// `SKIP LOCKED`, waking idle workers, and the jobs' records; and backends' rate windows.
extension PostgresStore {
    public func enqueue(
        job: String, settings: String?, budgetUSD: Double?, listings: [QueuedListing], retry: Bool
    ) async throws
        -> EnqueueResult
    {
        try await transaction { connection in
            var newJob = false
            for try await inserted in try await connection.query(
                """
                INSERT INTO batch_job (name, settings, budget_usd) VALUES (\(job), \(settings), \(budgetUSD))
                ON CONFLICT (name) DO UPDATE SET settings = COALESCE(excluded.settings, batch_job.settings),
                  budget_usd = excluded.budget_usd, cancelled = false
                RETURNING (xmax = 0)
                """, logger: logger
            ).decode(Bool.self) {
                newJob = inserted
            }
            var result = EnqueueResult(newJob: newJob, added: 0, requeued: 0)
            for listing in listings {
                let status = listing.error == nil ? BatchItem.Status.pending : .failed
                // One statement a listing: inserted when new, replaced when it is to be queued again, else left.
                let rows = try await connection.query(
                    """
                    INSERT INTO batch_item (job, key, status, error, documents, listing, position, attempts, updated_at, trace)
                    VALUES (\(job), \(listing.key), \(status.rawValue), \(listing.error), '[]', \(listing.listing), \(listing.position), 0,
                      clock_timestamp(), \(listing.trace))
                    ON CONFLICT (job, key) DO UPDATE SET status = excluded.status, error = excluded.error, listing = excluded.listing,
                      position = excluded.position, attempts = 0, updated_at = excluded.updated_at, trace = excluded.trace
                    WHERE batch_item.status = 'failed' OR (\(retry) AND batch_item.status = 'partial')
                      OR (batch_item.status = 'pending' AND batch_item.listing IS NULL)
                    RETURNING (xmax = 0)
                    """, logger: logger)
                for try await inserted in rows.decode(Bool.self) where status == .pending {
                    if inserted { result.added += 1 } else { result.requeued += 1 }
                }
            }
            _ = try await connection.query("SELECT pg_notify(\(Self.queueChannel), \(job))", logger: logger)
            return result
        }
    }

    /// The channel idle workers listen on.
    static let queueChannel = "panel_queue"

    public func job(_ name: String) async throws -> JobRecord? {
        for try await (settings, budget, cancelled) in try await client.query(
            "SELECT settings, budget_usd, cancelled FROM batch_job WHERE name = \(name)", logger: logger
        ).decode((String?, Double?, Bool).self) {
            return JobRecord(name: name, settings: settings, budgetUSD: budget, cancelled: cancelled)
        }
        return nil
    }

    public func cancelJob(_ name: String) async throws -> Bool {
        for try await _ in try await client.query(
            "UPDATE batch_job SET cancelled = true WHERE name = \(name) RETURNING name", logger: logger)
        {
            return true
        }
        return false
    }

    /// Claims with `FOR UPDATE SKIP LOCKED`: processes claiming at once take different rows instead of
    /// queueing behind each other's locks. One statement claims the batch; only a listing given up on
    /// or taken over from an expired lease costs another.
    /// The SQL that keeps a claim to jobs of some kinds: `kinds` bound at `$index`.
    static func kindFilter(_ index: Int) -> String {
        "($\(index)::text = 'all' OR ($\(index)::text = 'reviews') = (left(i.job, \(TeamReview.jobPrefix.count)) = '\(TeamReview.jobPrefix)'))"
    }

    public func claimQueued(
        job: String?, kinds: JobKinds, excluding: Set<String>, owner: String, lease: Duration, limit: Int, maxAttempts: Int
    ) async throws -> [QueuedClaim] {
        let statement = ClaimStatement(
            job: job, excluding: excluding.sorted(), limit: limit, owner: owner, lease: lease.seconds, kinds: kinds.rawValue)
        // The claim alone is one statement (no transaction around it, one round trip); only a listing
        // given up on or taken over from an expired lease costs a transaction after it.
        var rows: [ClaimStatement.Row] = []
        if job != nil {
            for try await row in try await client.execute(ClaimOneJobStatement(claim: statement), logger: logger) { rows.append(row) }
        } else {
            for try await row in try await client.execute(statement, logger: logger) { rows.append(row) }
        }
        var claims: [QueuedClaim] = []
        var followUps: [(claim: ItemClaim, reason: String?, givenUp: Bool)] = []
        for row in rows {
            var reason = row.5
            let expired = row.7.map { !$0.isEmpty } ?? false
            if expired { reason = QueueReasons.expiredLease(owner: row.6 ?? "another process") }
            if row.4 > maxAttempts {
                followUps.append(
                    (ItemClaim(job: row.0, key: row.1, token: row.2), QueueReasons.givenUp(attempts: row.4 - 1, reason: reason), true))
                continue
            }
            if expired { followUps.append((ItemClaim(job: row.0, key: row.1, token: row.2), reason, false)) }
            claims.append(
                QueuedClaim(
                    claim: ItemClaim(job: row.0, key: row.1, token: row.2), listing: row.3, attempt: row.4, hasResults: row.8,
                    trace: row.9))
        }
        guard !followUps.isEmpty else { return claims }
        // Under the leases just taken: no other process writes these rows meanwhile. Should this fail, every
        // row just claimed is given back (no attempt counted; a lease runs out where even that fails) and the
        // claim fails as a whole, as it did in one transaction: the claimer says so and claims again.
        do {
            try await recordFollowUps(followUps)
        } catch {
            for claim in claims.map(\.claim) + followUps.map(\.claim) { try? await release(claim, name: nil, attempted: false) }
            throw error
        }
        return claims
    }

    private func recordFollowUps(_ followUps: [(claim: ItemClaim, reason: String?, givenUp: Bool)]) async throws {
        try await transaction { connection in
            for followUp in followUps {
                if followUp.givenUp {
                    try await writeItem(
                        connection, job: followUp.claim.job, key: followUp.claim.key, name: nil, status: .failed, error: followUp.reason,
                        documents: [], outcome: .init(), position: nil)
                    if let review = TeamReview.id(ofJob: followUp.claim.job) {
                        try await endReview(connection, .givenUp(review, error: followUp.reason ?? "given up"))
                    }
                } else {
                    _ = try await connection.query(
                        "UPDATE batch_item SET error = \(followUp.reason) WHERE job = \(followUp.claim.job) AND key = \(followUp.claim.key)",
                        logger: logger)
                }
            }
        }
    }

    public func openItems(job: String?, kinds: JobKinds, excluding: Set<String>) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(job)
        binds.append(excluding.sorted())
        binds.append(kinds.rawValue)
        let sql = """
            SELECT COUNT(*) FROM batch_item i JOIN batch_job j ON j.name = i.job
            WHERE i.status = 'pending' AND i.listing IS NOT NULL AND NOT j.cancelled AND ($1::text IS NULL OR i.job = $1::text)
              AND NOT (i.job = ANY($2::text[])) AND \(Self.kindFilter(3))
            """
        for try await count in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(Int.self) {
            return count
        }
        return 0
    }

    /// Woken by `NOTIFY` (a listing enqueued or given back, from any process) through a connection of
    /// its own that `LISTEN`s; polling after `timeout` covers a lost connection and expired leases.
    public func waitForWork(timeout: Duration) async {
        await listener.wait(timeout: timeout)
    }
}

extension PostgresStore: RateWindows {
    /// The window's row is made if missing and locked, so processes counting at once serialise on it.
    public func take(backend: String, tokens: Int, limit: RateLimit) async throws -> Duration? {
        try await transaction { connection in
            var now = 0.0
            for try await value in try await connection.query("SELECT \(unescaped: Self.epoch)", logger: logger).decode(Double.self) {
                now = value
            }
            let (minute, remaining) = RateLimit.window(at: now)
            _ = try await connection.query(
                """
                INSERT INTO rate_window (backend, minute, requests, tokens) VALUES (\(backend), \(Int(minute)), 0, 0)
                ON CONFLICT (backend, minute) DO NOTHING
                """, logger: logger)
            var window = (requests: 0, tokens: 0)
            for try await row in try await connection.query(
                "SELECT requests, tokens FROM rate_window WHERE backend = \(backend) AND minute = \(Int(minute)) FOR UPDATE",
                logger: logger
            ).decode((Int, Int).self) {
                window = row
            }
            guard limit.admits(requests: window.requests, used: window.tokens, tokens: tokens) else {
                return .milliseconds(Int64((remaining * 1000).rounded(.up)))
            }
            _ = try await connection.query(
                """
                UPDATE rate_window SET requests = requests + 1, tokens = tokens + \(tokens)
                WHERE backend = \(backend) AND minute = \(Int(minute))
                """, logger: logger)
            if window.requests == 0 {
                _ = try await connection.query(
                    "DELETE FROM rate_window WHERE backend = \(backend) AND minute < \(Int(minute))", logger: logger)
            }
            return nil
        }
    }
}

extension PostgresStore {
    /// The claim: up to `limit` queued listings leased to `owner`, skipping rows others are claiming —
    /// jobs oldest first, each job's listings in their order. Prepared once per connection (it was parsed
    /// and planned on every claim).
    struct ClaimStatement: PostgresPreparedStatement {
        static let name = "panel_claim_v1"
        static let sql = claimSQL(oneJob: false)

        /// With `oneJob` the job is given (`$1`), so its listings' order is the order: read from the index
        /// of queued listings, `limit` of them, not every queued listing sorted by its job's age first.
        static func claimSQL(oneJob: Bool) -> String {
            """
            WITH candidates AS (
              SELECT i.job, i.key, i.lease_owner AS old_owner, i.lease_token AS old_token
              FROM batch_item i JOIN batch_job j ON j.name = i.job
              WHERE i.status = 'pending' AND i.listing IS NOT NULL AND NOT j.cancelled
                AND \(oneJob ? "i.job = $1::text" : "($1::text IS NULL OR i.job = $1::text)")
                AND NOT (i.job = ANY($2::text[])) AND \(PostgresStore.kindFilter(6))
                AND (i.lease_token IS NULL OR i.lease_expires <= \(PostgresStore.epoch))
              ORDER BY \(oneJob ? "i.position, i.key" : "j.created_at, j.name, i.position, i.key")
              LIMIT $3
              FOR UPDATE OF i SKIP LOCKED
            )
            UPDATE batch_item i SET lease_owner = $4, lease_token = gen_random_uuid()::text,
              lease_expires = \(PostgresStore.epoch) + $5, attempts = i.attempts + 1
            FROM candidates c WHERE i.job = c.job AND i.key = c.key
            RETURNING i.job, i.key, i.lease_token, i.listing, i.attempts, i.error, c.old_owner, c.old_token,
              EXISTS (SELECT 1 FROM batch_result r WHERE r.job = i.job AND r.key = i.key), i.trace
            """
        }
        typealias Row = (String, String, String, String, Int, String?, String?, String?, Bool, String?)

        let job: String?
        let excluding: [String]
        let limit: Int
        let owner: String
        let lease: Double
        let kinds: String

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 6)
            binds.append(job)
            binds.append(excluding)
            binds.append(limit)
            binds.append(owner)
            binds.append(lease)
            binds.append(kinds)
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// The claim of a worker bound to one job (`panel batch`, `panel worker --job`).
    struct ClaimOneJobStatement: PostgresPreparedStatement {
        static let name = "panel_claim_job_v1"
        static let sql = ClaimStatement.claimSQL(oneJob: true)
        typealias Row = ClaimStatement.Row

        let claim: ClaimStatement

        func makeBindings() throws -> PostgresBindings { try claim.makeBindings() }

        func decodeRow(_ row: PostgresRow) throws -> Row { try claim.decodeRow(row) }
    }
}
