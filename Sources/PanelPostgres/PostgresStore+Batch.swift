import Foundation
public import ModelBackends
public import PanelEngine
import PostgresNIO

/// The batch half of the store protocol on PostgreSQL: one transaction per method, rows locked where two
/// processes could race.
extension PostgresStore {
    static let itemColumns = "key, name, status, error, documents, verdict, ship_share, score_median, cost_usd, answered"
    typealias ItemRow = (String, String?, String, String?, String, String?, Double?, Double?, Double?, Int?)

    static func item(_ row: ItemRow) -> BatchItem {
        let documents = JSONValue.parse(row.4)?.arrayValue?.compactMap(\.stringValue) ?? []
        return BatchItem(
            key: row.0, name: row.1, status: BatchItem.Status(rawValue: row.2) ?? .pending, error: row.3, documents: documents,
            outcome: BatchItem.Outcome(verdict: row.5, shipShare: row.6, scoreMedian: row.7, costUSD: row.8, answered: row.9))
    }

    static func encode(_ documents: [String]) -> String {
        JSONValue.array(documents.map(JSONValue.string)).canonicalText()
    }

    func writeItem(
        _ connection: PostgresConnection, job: String, key: String, name: String?, status: BatchItem.Status, error: String?,
        documents: [String], outcome: BatchItem.Outcome, position: Int?
    ) async throws {
        _ = try await connection.query(
            """
            INSERT INTO batch_item (job, key, name, status, error, documents, verdict, ship_share, score_median, cost_usd, answered,
              position, updated_at, lease_owner, lease_token, lease_expires)
            VALUES (\(job), \(key), \(name), \(status.rawValue), \(error), \(Self.encode(documents)), \(outcome.verdict),
              \(outcome.shipShare), \(outcome.scoreMedian), \(outcome.costUSD), \(outcome.answered), \(position), clock_timestamp(),
              NULL, NULL, NULL)
            ON CONFLICT (job, key) DO UPDATE SET name = excluded.name, status = excluded.status, error = excluded.error,
              documents = excluded.documents, verdict = excluded.verdict, ship_share = excluded.ship_share,
              score_median = excluded.score_median, cost_usd = excluded.cost_usd, answered = excluded.answered,
              position = COALESCE(excluded.position, batch_item.position), updated_at = excluded.updated_at,
              lease_owner = NULL, lease_token = NULL, lease_expires = NULL
            """, logger: logger)
    }

    func reserveName(
        _ connection: PostgresConnection, job: String, key: String, base: String, isTaken: (String) -> Bool
    ) async throws -> String {
        // The usual case in one statement: the listing's name from an earlier run, else `base` when free.
        if !isTaken(base) {
            for try await name in try await connection.query(
                """
                WITH existing AS (
                  SELECT name FROM batch_name WHERE job = \(job) AND key = \(key)
                ), inserted AS (
                  INSERT INTO batch_name (job, name, key) SELECT \(job), \(base), \(key) WHERE NOT EXISTS (SELECT 1 FROM existing)
                  ON CONFLICT DO NOTHING RETURNING name
                )
                SELECT name FROM existing UNION ALL SELECT name FROM inserted
                """, logger: logger
            ).decode(String.self) {
                return name
            }
        }
        for try await name in try await connection.query(
            "SELECT name FROM batch_name WHERE job = \(job) AND key = \(key)", logger: logger
        ).decode(String.self) {
            return name
        }
        var candidate = base
        var counter = 2
        while true {
            var used = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM batch_name WHERE job = \(job) AND name = \(candidate)", logger: logger)
            {
                used = true
            }
            if !used && !isTaken(candidate) { break }
            candidate = "\(base)-\(counter)"
            counter += 1
        }
        _ = try await connection.query("INSERT INTO batch_name (job, name, key) VALUES (\(job), \(candidate), \(key))", logger: logger)
        return candidate
    }

    /// How long a reservation lives without its owner's heartbeat: longer than any one call may take.
    static let reservationLease: Duration = .seconds(900)
}

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
                    INSERT INTO batch_item (job, key, status, error, documents, listing, position, attempts, updated_at)
                    VALUES (\(job), \(listing.key), \(status.rawValue), \(listing.error), '[]', \(listing.listing), \(listing.position), 0,
                      clock_timestamp())
                    ON CONFLICT (job, key) DO UPDATE SET status = excluded.status, error = excluded.error, listing = excluded.listing,
                      position = excluded.position, attempts = 0, updated_at = excluded.updated_at
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
    public func claimQueued(
        job: String?, excluding: Set<String>, owner: String, lease: Duration, limit: Int, maxAttempts: Int
    ) async throws -> [QueuedClaim] {
        var binds = PostgresBindings()
        binds.append(job)
        binds.append(excluding.sorted())
        binds.append(limit)
        binds.append(owner)
        binds.append(lease.seconds)
        let sql = """
            WITH candidates AS (
              SELECT i.job, i.key, i.lease_owner AS old_owner, i.lease_token AS old_token
              FROM batch_item i JOIN batch_job j ON j.name = i.job
              WHERE i.status = 'pending' AND i.listing IS NOT NULL AND NOT j.cancelled AND ($1::text IS NULL OR i.job = $1::text)
                AND NOT (i.job = ANY($2::text[]))
                AND (i.lease_token IS NULL OR i.lease_expires <= \(Self.epoch))
              ORDER BY j.created_at, j.name, i.position, i.key
              LIMIT $3
              FOR UPDATE OF i SKIP LOCKED
            )
            UPDATE batch_item i SET lease_owner = $4, lease_token = gen_random_uuid()::text,
              lease_expires = \(Self.epoch) + $5, attempts = i.attempts + 1
            FROM candidates c WHERE i.job = c.job AND i.key = c.key
            RETURNING i.job, i.key, i.lease_token, i.listing, i.attempts, i.error, c.old_owner, c.old_token,
              EXISTS (SELECT 1 FROM batch_result r WHERE r.job = i.job AND r.key = i.key)
            """
        return try await transaction { connection in
            var claims: [QueuedClaim] = []
            var followUps: [(job: String, key: String, reason: String?, givenUp: Bool)] = []
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(
                (String, String, String, String, Int, String?, String?, String?, Bool).self)
            {
                var reason = row.5
                let expired = row.7.map { !$0.isEmpty } ?? false
                if expired { reason = QueueReasons.expiredLease(owner: row.6 ?? "another process") }
                if row.4 > maxAttempts {
                    followUps.append((row.0, row.1, QueueReasons.givenUp(attempts: row.4 - 1, reason: reason), true))
                    continue
                }
                if expired { followUps.append((row.0, row.1, reason, false)) }
                claims.append(
                    QueuedClaim(claim: ItemClaim(job: row.0, key: row.1, token: row.2), listing: row.3, attempt: row.4, hasResults: row.8))
            }
            for followUp in followUps {
                if followUp.givenUp {
                    try await writeItem(
                        connection, job: followUp.job, key: followUp.key, name: nil, status: .failed, error: followUp.reason, documents: [],
                        outcome: .init(), position: nil)
                } else {
                    _ = try await connection.query(
                        "UPDATE batch_item SET error = \(followUp.reason) WHERE job = \(followUp.job) AND key = \(followUp.key)",
                        logger: logger)
                }
            }
            return claims
        }
    }

    public func openItems(job: String?, excluding: Set<String>) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(job)
        binds.append(excluding.sorted())
        let sql = """
            SELECT COUNT(*) FROM batch_item i JOIN batch_job j ON j.name = i.job
            WHERE i.status = 'pending' AND i.listing IS NOT NULL AND NOT j.cancelled AND ($1::text IS NULL OR i.job = $1::text)
              AND NOT (i.job = ANY($2::text[]))
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

    static func binds(_ values: String...) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }

    public func renewLeases(owner: String, lease: Duration) async throws {
        let seconds = lease.seconds
        let reservation = max(seconds, Self.reservationLease.seconds)
        try await transaction { connection in
            _ = try await connection.query(
                """
                UPDATE batch_item SET lease_expires = extract(epoch from clock_timestamp())::double precision + \(seconds)
                WHERE lease_owner = \(owner) AND lease_token IS NOT NULL
                """, logger: logger)
            _ = try await connection.query(
                "UPDATE budget_reservation SET expires = extract(epoch from clock_timestamp())::double precision + \(reservation) WHERE owner = \(owner)",
                logger: logger)
        }
    }

    public func release(_ claim: ItemClaim, name: String?) async throws {
        _ = try await client.query(
            """
            WITH released AS (
              UPDATE batch_item SET name = COALESCE(\(name), name), lease_owner = NULL, lease_token = NULL, lease_expires = NULL,
                attempts = GREATEST(attempts - 1, 0), updated_at = clock_timestamp()
              WHERE job = \(claim.job) AND key = \(claim.key) AND lease_token = \(claim.token) RETURNING job
            )
            SELECT pg_notify(\(Self.queueChannel), job) FROM released
            """, logger: logger)
    }

    public func results(job: String, key: String) async throws -> [String: String] {
        var results: [String: String] = [:]
        for try await (persona, review) in try await client.query(
            "SELECT persona, review FROM batch_result WHERE job = \(job) AND key = \(key)", logger: logger
        ).decode((String, String).self) {
            results[persona] = results[persona] ?? review
        }
        return results
    }

    /// One statement, so one round trip (the step a batch takes most, once per persona call): the
    /// reservation settled, the item's row locked and its lease checked, the result inserted once and its
    /// cost added to the job's spend — all or nothing, as a statement is. Data-modifying CTEs all run, and
    /// the insert reads only from `held`, so a lost lease inserts nothing.
    public func saveResult(_ result: SavedResult, claim: ItemClaim, settling reservation: BudgetReservation?) async throws -> Bool {
        for try await count in try await client.query(Self.save(result, claim: claim, settling: reservation), logger: logger).decode(
            Int.self)
        {
            return count > 0
        }
        return false
    }

    /// The reservation settled, the item's row locked and its lease checked, the result (if any)
    /// inserted once and its cost added to the job's spend — one statement, all or nothing, as a
    /// statement is. Data-modifying CTEs all run, and the insert reads only from `held`, so a lost lease
    /// inserts nothing. Returns the count of held rows (1 while the lease holds).
    static func save(_ result: SavedResult?, claim: ItemClaim, settling reservation: BudgetReservation?) -> PostgresQuery {
        """
        WITH released AS (
          DELETE FROM budget_reservation WHERE job = \(reservation?.job ?? "") AND id = \(reservation?.id ?? "")
        ), held AS (
          SELECT job, key FROM batch_item WHERE job = \(claim.job) AND key = \(claim.key) AND lease_token = \(claim.token) FOR UPDATE
        ), inserted AS (
          INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at)
          SELECT job, key, \(result?.persona ?? ""), \(result?.review ?? ""), \(result?.costUSD), clock_timestamp() FROM held
          WHERE \(result != nil)
          ON CONFLICT (job, key, persona) DO NOTHING RETURNING cost_usd
        ), spent AS (
          UPDATE batch_job SET spent_usd = spent_usd + (SELECT COALESCE(SUM(cost_usd), 0) FROM inserted)
          WHERE name = \(claim.job) AND EXISTS (SELECT 1 FROM inserted WHERE COALESCE(cost_usd, 0) <> 0)
        )
        SELECT COUNT(*) FROM held
        """
    }

    public func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @Sendable (String) -> Bool,
        texts: [String: String], documents: @Sendable (String) -> [String]
    ) async throws -> String? {
        // Three statements in one transaction: the result saved under the lease (its row locked), the name
        // reserved, the item finished with its documents.
        let extensions = texts.keys.sorted()
        let bodies = extensions.map { texts[$0] ?? "" }
        return try await transaction { connection in
            var held = false
            for try await count in try await connection.query(Self.save(lastResult, claim: claim, settling: reservation), logger: logger)
                .decode(Int.self)
            {
                held = count > 0
            }
            guard held else { return nil }
            let reserved = try await reserveName(connection, job: claim.job, key: claim.key, base: base, isTaken: isTaken)
            _ = try await connection.query(
                """
                WITH item AS (
                  UPDATE batch_item SET name = \(name), status = \(status.rawValue), error = NULL,
                    documents = \(Self.encode(documents(reserved))), verdict = \(outcome.verdict), ship_share = \(outcome.shipShare),
                    score_median = \(outcome.scoreMedian), cost_usd = \(outcome.costUSD), answered = \(outcome.answered),
                    updated_at = clock_timestamp(), lease_owner = NULL, lease_token = NULL, lease_expires = NULL
                  WHERE job = \(claim.job) AND key = \(claim.key)
                ), gone AS (
                  DELETE FROM batch_document WHERE job = \(claim.job) AND key = \(claim.key) AND NOT (extension = ANY(\(extensions)::text[]))
                )
                INSERT INTO batch_document (job, key, extension, text)
                SELECT \(claim.job), \(claim.key), e, t FROM unnest(\(extensions)::text[], \(bodies)::text[]) AS d(e, t)
                ON CONFLICT (job, key, extension) DO UPDATE SET text = excluded.text
                """, logger: logger)
            return reserved
        }
    }

    public func forEachDocument(job: String, _ body: (StoredDocument) throws -> Void) async throws {
        let rows = try await client.query(
            """
            SELECT d.key, n.name, d.extension, d.text FROM batch_document d
            JOIN batch_name n ON n.job = d.job AND n.key = d.key JOIN batch_item i ON i.job = d.job AND i.key = d.key
            WHERE d.job = \(job) ORDER BY i.position, i.key, d.extension
            """, logger: logger)
        for try await (key, name, fileExtension, text) in rows.decode((String, String, String, String).self) {
            try body(StoredDocument(key: key, name: name, fileExtension: fileExtension, text: text))
        }
    }

    public func reserveBudget(job: String, owner: String, amountUSD: Double, limitUSD: Double) async throws -> BudgetReservation? {
        let lease = Self.reservationLease.seconds
        return try await transaction { connection in
            // The job's row is the lock every reservation of the job takes: the sum below cannot change under it.
            var spent = 0.0
            for try await value in try await connection.query(
                "SELECT spent_usd FROM batch_job WHERE name = \(job) FOR UPDATE", logger: logger
            ).decode(Double.self) {
                spent = value
            }
            var reserved = 0.0
            for try await value in try await connection.query(
                """
                SELECT COALESCE(SUM(amount_usd), 0)::double precision FROM budget_reservation
                WHERE job = \(job) AND expires > extract(epoch from clock_timestamp())::double precision
                """, logger: logger
            ).decode(Double.self) {
                reserved = value
            }
            guard spent + reserved + amountUSD <= limitUSD else { return nil }
            let reservation = BudgetReservation(job: job, id: UUID().uuidString, amountUSD: amountUSD)
            _ = try await connection.query(
                """
                INSERT INTO budget_reservation (job, id, owner, amount_usd, expires)
                VALUES (\(job), \(reservation.id), \(owner), \(amountUSD), extract(epoch from clock_timestamp())::double precision + \(lease))
                """, logger: logger)
            return reservation
        }
    }

    public func releaseBudget(_ reservation: BudgetReservation) async throws {
        _ = try await client.query(
            "DELETE FROM budget_reservation WHERE job = \(reservation.job) AND id = \(reservation.id)", logger: logger)
    }

    public func spent(job: String) async throws -> Double {
        for try await value in try await client.query("SELECT spent_usd FROM batch_job WHERE name = \(job)", logger: logger).decode(
            Double.self)
        {
            return value
        }
        return 0
    }

    public func itemCounts(job: String) async throws -> [BatchItem.Status: Int] {
        var counts: [BatchItem.Status: Int] = [:]
        for try await (status, count) in try await client.query(
            "SELECT status, COUNT(*) FROM batch_item WHERE job = \(job) GROUP BY status", logger: logger
        ).decode((String, Int).self) {
            counts[BatchItem.Status(rawValue: status) ?? .pending, default: 0] += count
        }
        return counts
    }

    public func jobs() async throws -> [JobSummary] {
        var jobs: [JobSummary] = []
        for try await (name, created, spent, budget, cancelled) in try await client.query(
            """
            SELECT name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), spent_usd, budget_usd, cancelled FROM batch_job
            ORDER BY created_at DESC, name
            """, logger: logger
        ).decode((String, String, Double, Double?, Bool).self) {
            jobs.append(JobSummary(name: name, createdAt: created, spentUSD: spent, budgetUSD: budget, cancelled: cancelled))
        }
        return jobs
    }

    public func forEachItem(job: String, _ body: (BatchItem) throws -> Void) async throws {
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: "SELECT \(Self.itemColumns) FROM batch_item WHERE job = $1 ORDER BY position, key", binds: Self.binds(job)),
            logger: logger)
        for try await row in rows.decode(ItemRow.self) { try body(Self.item(row)) }
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
