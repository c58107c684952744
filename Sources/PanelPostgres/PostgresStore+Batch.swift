import Foundation
import ModelBackends
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

    /// True while `claim` holds its item's lease; locks the item's row for the rest of the transaction.
    func holds(_ connection: PostgresConnection, _ claim: ItemClaim) async throws -> Bool {
        let rows = try await connection.query(
            "SELECT 1 FROM batch_item WHERE job = \(claim.job) AND key = \(claim.key) AND lease_token = \(claim.token) FOR UPDATE",
            logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Saves a persona's result once (a second save of the same persona changes nothing) and adds its
    /// cost to the job's spend.
    func insertResult(_ connection: PostgresConnection, job: String, key: String, result: SavedResult) async throws {
        let rows = try await connection.query(
            """
            INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at)
            VALUES (\(job), \(key), \(result.persona), \(result.review), \(result.costUSD), clock_timestamp())
            ON CONFLICT (job, key, persona) DO NOTHING RETURNING persona
            """, logger: logger)
        var inserted = false
        for try await _ in rows { inserted = true }
        if inserted, let cost = result.costUSD, cost != 0 {
            _ = try await connection.query("UPDATE batch_job SET spent_usd = spent_usd + \(cost) WHERE name = \(job)", logger: logger)
        }
    }

    func deleteReservation(_ connection: PostgresConnection, _ reservation: BudgetReservation?) async throws {
        guard let reservation else { return }
        _ = try await connection.query(
            "DELETE FROM budget_reservation WHERE job = \(reservation.job) AND id = \(reservation.id)", logger: logger)
    }

    func reserveName(
        _ connection: PostgresConnection, job: String, key: String, base: String, isTaken: (String) -> Bool
    ) async throws -> String {
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
    public func beginJob(_ name: String) async throws -> Bool {
        let rows = try await client.query(
            "INSERT INTO batch_job (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING RETURNING name", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func jobExists(_ name: String) async throws -> Bool {
        for try await _ in try await client.query("SELECT 1 FROM batch_job WHERE name = \(name)", logger: logger) { return true }
        return false
    }

    public func claim(
        job: String, listings: [(key: String, position: Int)], owner: String, lease: Duration, settled: @Sendable (BatchItem) -> Bool
    ) async throws -> [ClaimResult] {
        let seconds = lease.seconds
        return try await transaction { connection in
            var results: [ClaimResult] = []
            for listing in listings {
                // The row exists before it is locked, so two processes racing for a new listing serialise on it.
                let inserted = try await connection.query(
                    """
                    INSERT INTO batch_item (job, key, status, documents, position, updated_at)
                    VALUES (\(job), \(listing.key), 'pending', '[]', \(listing.position), clock_timestamp())
                    ON CONFLICT (job, key) DO NOTHING RETURNING key
                    """, logger: logger)
                var isNew = false
                for try await _ in inserted { isNew = true }
                var existing: BatchItem?
                var holder: (owner: String?, token: String?, expires: Double?, now: Double)?
                for try await row in try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT \(Self.itemColumns), lease_owner, lease_token, lease_expires, \(Self.epoch)
                            FROM batch_item WHERE job = $1 AND key = $2 FOR UPDATE
                            """, binds: Self.binds(job, listing.key)), logger: logger
                ).decode(
                    (String, String?, String, String?, String, String?, Double?, Double?, Double?, Int?, String?, String?, Double?, Double)
                        .self)
                {
                    if !isNew { existing = Self.item((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9)) }
                    holder = (row.10, row.11, row.12, row.13)
                }
                if let existing, settled(existing) {
                    results.append(.settled(existing))
                    continue
                }
                if let holder, let token = holder.token, !token.isEmpty, holder.owner != owner, let expires = holder.expires,
                    expires > holder.now
                {
                    results.append(.heldElsewhere)
                    continue
                }
                let token = UUID().uuidString
                _ = try await connection.query(
                    """
                    UPDATE batch_item SET position = \(listing.position), lease_owner = \(owner), lease_token = \(token),
                      lease_expires = extract(epoch from clock_timestamp())::double precision + \(seconds)
                    WHERE job = \(job) AND key = \(listing.key)
                    """, logger: logger)
                results.append(.claimed(ItemClaim(job: job, key: listing.key, token: token), existing: existing))
            }
            return results
        }
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
            UPDATE batch_item SET name = COALESCE(\(name), name), lease_owner = NULL, lease_token = NULL, lease_expires = NULL,
              updated_at = clock_timestamp()
            WHERE job = \(claim.job) AND key = \(claim.key) AND lease_token = \(claim.token)
            """, logger: logger)
    }

    public func failItem(job: String, key: String, error: String, position: Int) async throws {
        try await transaction { connection in
            try await writeItem(
                connection, job: job, key: key, name: nil, status: .failed, error: error, documents: [], outcome: .init(),
                position: position)
        }
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
        let rows = try await client.query(
            """
            WITH released AS (
              DELETE FROM budget_reservation WHERE job = \(reservation?.job ?? "") AND id = \(reservation?.id ?? "")
            ), held AS (
              SELECT job, key FROM batch_item WHERE job = \(claim.job) AND key = \(claim.key) AND lease_token = \(claim.token) FOR UPDATE
            ), inserted AS (
              INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at)
              SELECT job, key, \(result.persona), \(result.review), \(result.costUSD), clock_timestamp() FROM held
              ON CONFLICT (job, key, persona) DO NOTHING RETURNING cost_usd
            ), spent AS (
              UPDATE batch_job SET spent_usd = spent_usd + (SELECT COALESCE(SUM(cost_usd), 0) FROM inserted)
              WHERE name = \(claim.job) AND EXISTS (SELECT 1 FROM inserted WHERE COALESCE(cost_usd, 0) <> 0)
            )
            SELECT COUNT(*) FROM held
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count > 0 }
        return false
    }

    public func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @Sendable (String) -> Bool,
        documents: @Sendable (String) -> [String]
    ) async throws -> String? {
        try await transaction { connection in
            try await deleteReservation(connection, reservation)
            guard try await holds(connection, claim) else { return nil }
            if let lastResult { try await insertResult(connection, job: claim.job, key: claim.key, result: lastResult) }
            let reserved = try await reserveName(connection, job: claim.job, key: claim.key, base: base, isTaken: isTaken)
            try await writeItem(
                connection, job: claim.job, key: claim.key, name: name, status: status, error: nil, documents: documents(reserved),
                outcome: outcome, position: nil)
            return reserved
        }
    }

    public func setDocuments(job: String, key: String, documents: [String]) async throws {
        _ = try await client.query(
            "UPDATE batch_item SET documents = \(Self.encode(documents)), updated_at = clock_timestamp() WHERE job = \(job) AND key = \(key)",
            logger: logger)
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
        for try await (name, created, spent) in try await client.query(
            """
            SELECT name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), spent_usd FROM batch_job
            ORDER BY created_at DESC, name
            """, logger: logger
        ).decode((String, String, Double).self) {
            jobs.append(JobSummary(name: name, createdAt: created, spentUSD: spent))
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
