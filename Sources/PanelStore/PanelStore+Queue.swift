import Foundation
import GRDB
public import ModelBackends
public import PanelEngine

/// The queue half of the store protocol on SQLite: enqueuing a job's listings, claiming them, and the
/// jobs' records; and backends' rate windows. Every method is one transaction.
extension PanelStore {
    public func enqueue(
        job: String, settings: String?, budgetUSD: Double?, listings: [QueuedListing], retry: Bool
    ) throws
        -> EnqueueResult
    {
        defer { work.bump() }
        return try writeTransaction { db in
            let newJob = try Bool.fetchOne(db, sql: "SELECT COUNT(*) = 0 FROM batch_job WHERE name = ?", arguments: [job]) ?? true
            try db.execute(
                sql: """
                    INSERT INTO batch_job (name, created_at, settings, budget_usd) VALUES (?, \(Self.now), ?, ?)
                    ON CONFLICT(name) DO UPDATE SET settings = IFNULL(excluded.settings, settings), budget_usd = excluded.budget_usd,
                      cancelled = 0
                    """, arguments: [job, settings, budgetUSD])
            let existing = try db.cachedStatement(sql: "SELECT status, listing IS NULL FROM batch_item WHERE job = ? AND key = ?")
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO batch_item (job, key, status, error, documents, listing, position, attempts, updated_at, trace)
                    VALUES (?, ?, ?, ?, '[]', ?, ?, 0, \(Self.now), ?)
                    ON CONFLICT(job, key) DO UPDATE SET status = excluded.status, error = excluded.error, listing = excluded.listing,
                      position = excluded.position, attempts = 0, updated_at = excluded.updated_at, trace = excluded.trace
                    """)
            var result = EnqueueResult(newJob: newJob, added: 0, requeued: 0)
            for listing in listings {
                let status = listing.error == nil ? BatchItem.Status.pending : .failed
                if !newJob, let row = try Row.fetchOne(existing, arguments: [job, listing.key]) {
                    let stored = BatchItem.Status(rawValue: row[0]) ?? .pending
                    guard Self.requeues(stored, withoutListing: row[1], retry: retry) else { continue }
                    if status == .pending { result.requeued += 1 }
                } else if status == .pending {
                    result.added += 1
                }
                try upsert.execute(arguments: [
                    job, listing.key, status.rawValue, listing.error, listing.listing, listing.position, listing.trace,
                ])
            }
            return result
        }
    }

    /// Whether enqueuing a listing again queues it anew: when it failed, when it is partial and retried,
    /// or when it was stored before items kept their listing.
    static func requeues(_ status: BatchItem.Status, withoutListing: Bool, retry: Bool) -> Bool {
        status == .failed || (retry && status == .partial) || (status == .pending && withoutListing)
    }

    public func job(_ name: String) throws -> JobRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT settings, budget_usd, cancelled FROM batch_job WHERE name = ?", arguments: [name]).map {
                JobRecord(name: name, settings: $0["settings"], budgetUSD: $0["budget_usd"], cancelled: $0["cancelled"])
            }
        }
    }

    public func cancelJob(_ name: String) throws -> Bool {
        try writeTransaction { db in
            try db.execute(sql: "UPDATE batch_job SET cancelled = 1 WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    /// The queued listings a claim may take, as SQL after `WHERE`: arguments `job`, `job`, the kinds
    /// twice, then the excluded jobs as a JSON array.
    static let claimable = claimable(oneJob: false)

    /// What a claim may take. Bound to one job (`panel batch`, `panel worker --job`) the claim reads that
    /// job's queued listings in order from the index `batch_item_queued_order` and stops at its limit; a
    /// claim naming no job orders every queued listing by its job's age first (a sort of them all).
    static func claimable(oneJob: Bool) -> String {
        """
        i.status = 'pending' AND i.listing IS NOT NULL AND j.cancelled = 0 AND \(oneJob ? "i.job = ?" : "(? IS NULL OR i.job = ?)")
          AND (? = 'all' OR (? = 'reviews') = (substr(i.job, 1, \(TeamReview.jobPrefix.count)) = '\(TeamReview.jobPrefix)'))
          AND i.job NOT IN (SELECT value FROM json_each(?))
        """
    }

    static func claimSQL(oneJob: Bool) -> String {
        """
        SELECT i.job, i.key, i.listing, i.attempts, i.lease_token, i.lease_owner, i.error, i.trace,
          EXISTS (SELECT 1 FROM batch_result r WHERE r.job = i.job AND r.key = i.key) AS has_results
        FROM batch_item i JOIN batch_job j ON j.name = i.job
        WHERE \(claimable(oneJob: oneJob)) AND (i.lease_token IS NULL OR i.lease_expires <= ?)
        ORDER BY \(oneJob ? "i.position, i.key" : "j.created_at, j.name, i.position, i.key") LIMIT ?
        """
    }
    static let claimOneJobSQL = claimSQL(oneJob: true)
    static let claimAnyJobSQL = claimSQL(oneJob: false)

    public func claimQueued(
        job: String?, kinds: JobKinds, excluding: Set<String>, owner: String, lease: Duration, limit: Int, maxAttempts: Int
    ) throws
        -> [QueuedClaim]
    {
        let excluded = JSONValue.array(excluding.sorted().map(JSONValue.string)).canonicalText()
        return try writeTransaction { db in
            let now = try Double.fetchOne(db.cachedStatement(sql: "SELECT \(Self.epoch)")) ?? 0
            let rows =
                if let job {
                    try Row.fetchAll(
                        db.cachedStatement(sql: Self.claimOneJobSQL),
                        arguments: [job, kinds.rawValue, kinds.rawValue, excluded, now, limit])
                } else {
                    try Row.fetchAll(
                        db.cachedStatement(sql: Self.claimAnyJobSQL),
                        arguments: [nil, nil, kinds.rawValue, kinds.rawValue, excluded, now, limit])
                }
            let take = try db.cachedStatement(
                sql: """
                    UPDATE batch_item SET lease_owner = ?, lease_token = ?, lease_expires = ?, attempts = ?, error = ?
                    WHERE job = ? AND key = ?
                    """)
            var claims: [QueuedClaim] = []
            for row in rows {
                let (itemJob, key): (String, String) = (row["job"], row["key"])
                let attempt = (row["attempts"] as Int) + 1
                var reason: String? = row["error"]
                if let holder = row["lease_token"] as String?, !holder.isEmpty {
                    reason = QueueReasons.expiredLease(owner: row["lease_owner"] ?? "another process")
                }
                if attempt > maxAttempts {
                    let error = QueueReasons.givenUp(attempts: attempt - 1, reason: reason)
                    try Self.writeItem(
                        db, job: itemJob, key: key, name: nil, status: .failed, error: error, documents: [], outcome: .init(), position: nil
                    )
                    if let review = TeamReview.id(ofJob: itemJob) {
                        try Self.endReview(db, .givenUp(review, error: error))
                        reviewEventsAppended.bump(review)
                    }
                    continue
                }
                let token = UUID().uuidString
                try take.execute(arguments: [owner, token, now + lease.seconds, attempt, reason, itemJob, key])
                claims.append(
                    QueuedClaim(
                        claim: ItemClaim(job: itemJob, key: key, token: token), listing: row["listing"], attempt: attempt,
                        hasResults: row["has_results"], trace: row["trace"]))
            }
            return claims
        }
    }

    public func openItems(job: String?, kinds: JobKinds, excluding: Set<String>) throws -> Int {
        let excluded = JSONValue.array(excluding.sorted().map(JSONValue.string)).canonicalText()
        return try pool.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM batch_item i JOIN batch_job j ON j.name = i.job WHERE \(Self.claimable)",
                arguments: [job, job, kinds.rawValue, kinds.rawValue, excluded]) ?? 0
        }
    }

    /// SQLite has no notifications across processes: a waiting worker is woken by this process's
    /// changes, and looks again after `timeout` for other processes'.
    public func waitForWork(timeout: Duration) async {
        await work.wait(timeout: timeout)
    }
}

extension PanelStore: RateWindows {
    public func take(backend: String, tokens: Int, limit: RateLimit) throws -> Duration? {
        try writeTransaction { db in
            let (minute, remaining) = RateLimit.window(at: try Double.fetchOne(db.cachedStatement(sql: "SELECT \(Self.epoch)")) ?? 0)
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT requests, tokens FROM rate_window WHERE backend = ? AND minute = ?"),
                arguments: [backend, minute])
            let (requests, used): (Int, Int) = row.map { ($0[0], $0[1]) } ?? (0, 0)
            guard limit.admits(requests: requests, used: used, tokens: tokens) else {
                return .milliseconds(Int64((remaining * 1000).rounded(.up)))
            }
            if row == nil {
                try db.cachedStatement(sql: "DELETE FROM rate_window WHERE backend = ? AND minute < ?").execute(arguments: [
                    backend, minute,
                ])
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO rate_window (backend, minute, requests, tokens) VALUES (?, ?, 1, ?)
                    ON CONFLICT(backend, minute) DO UPDATE SET requests = requests + 1, tokens = tokens + excluded.tokens
                    """
            ).execute(arguments: [backend, minute, tokens])
            return nil
        }
    }
}
