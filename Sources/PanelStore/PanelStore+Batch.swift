import Foundation
import GRDB
import ModelBackends
public import PanelEngine

/// Batch state: a job, its items (one per listing) and each persona's result, written as each call
/// completes, so a crashed or interrupted batch resumes without losing or repeating paid work.
///
/// Every write is one SQLite transaction (WAL): a process killed at any moment leaves the store as it
/// was after the last committed write, never half of one.
extension PanelStore {
    static func registerBatchMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-batch") { db in
            try db.create(table: "batch_job") { table in
                table.primaryKey("name", .text)
                table.column("created_at", .datetime).notNull()
            }
            try db.create(table: "batch_item") { table in
                table.column("job", .text).notNull().references("batch_job", onDelete: .cascade)
                table.column("key", .text).notNull()
                table.column("name", .text)
                table.column("status", .text).notNull()
                table.column("error", .text)
                table.column("documents", .text).notNull().defaults(to: "[]")
                table.column("updated_at", .datetime).notNull()
                table.primaryKey(["job", "key"])
            }
            try db.create(table: "batch_result") { table in
                table.column("job", .text).notNull()
                table.column("key", .text).notNull()
                table.column("persona", .text).notNull()
                table.column("review", .text).notNull()
                table.column("cost_usd", .double)
                table.column("created_at", .datetime).notNull()
                table.primaryKey(["job", "key", "persona"])
            }
        }
        migrator.registerMigration("v3-batch-outcome") { db in
            try db.alter(table: "batch_item") { table in
                table.add(column: "verdict", .text)
                table.add(column: "ship_share", .double)
                table.add(column: "score_median", .double)
                table.add(column: "cost_usd", .double)
                table.add(column: "answered", .integer)
            }
            // Document names, reserved before the files are written: unique per job, stable per listing.
            try db.create(table: "batch_name") { table in
                table.column("job", .text).notNull()
                table.column("name", .text).notNull()
                table.column("key", .text).notNull()
                table.primaryKey(["job", "name"])
            }
            try db.create(index: "batch_name_by_key", on: "batch_name", columns: ["job", "key"], unique: true)
            let rows = try Row.fetchAll(db, sql: "SELECT job, key, documents FROM batch_item WHERE documents != '[]'")
            for row in rows {
                let documents = Self.documents(row["documents"])
                guard let first = documents.first else { continue }
                let name = URL(fileURLWithPath: first).deletingPathExtension().lastPathComponent
                try db.execute(
                    sql: "INSERT OR IGNORE INTO batch_name (job, name, key) VALUES (?, ?, ?)",
                    arguments: [row["job"] as String, name, row["key"] as String])
            }
        }
        // Results live in their primary key's B-tree alone: one tree to update per saved result instead
        // of the table and its key index. (v15 moved them back: see there.)
        migrator.registerMigration("v4-batch-result-without-rowid") { db in
            try db.execute(
                sql: """
                    CREATE TABLE batch_result_v4 (
                      job TEXT NOT NULL, key TEXT NOT NULL, persona TEXT NOT NULL, review TEXT NOT NULL, cost_usd DOUBLE,
                      created_at DATETIME NOT NULL, PRIMARY KEY (job, key, persona)
                    ) WITHOUT ROWID;
                    INSERT INTO batch_result_v4 SELECT job, key, persona, review, cost_usd, created_at FROM batch_result;
                    DROP TABLE batch_result;
                    ALTER TABLE batch_result_v4 RENAME TO batch_result;
                    """)
        }
        // Where each listing came in the input, so the summary lists them in input order.
        migrator.registerMigration("v5-batch-item-position") { db in
            try db.alter(table: "batch_item") { table in table.add(column: "position", .integer) }
        }
        // Claims under leases (so processes sharing a job share its work), a running tally of spend, and
        // budget reservations for calls in flight.
        migrator.registerMigration("v6-leases-and-budget") { db in
            try db.alter(table: "batch_item") { table in
                table.add(column: "lease_owner", .text)
                table.add(column: "lease_token", .text)
                table.add(column: "lease_expires", .double)
            }
            try db.alter(table: "batch_job") { table in table.add(column: "spent_usd", .double).notNull().defaults(to: 0) }
            try db.execute(
                sql:
                    "UPDATE batch_job SET spent_usd = (SELECT IFNULL(SUM(cost_usd), 0) FROM batch_result WHERE batch_result.job = batch_job.name)"
            )
            try db.execute(
                sql: """
                    CREATE TABLE budget_reservation (
                      job TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL, amount_usd DOUBLE NOT NULL, expires DOUBLE NOT NULL,
                      PRIMARY KEY (job, id)
                    ) WITHOUT ROWID
                    """)
        }
        // The queue: a job keeps its settings and budget, an item its listing and how often it was
        // claimed, and finished documents are kept so any process can export them.
        migrator.registerMigration("v7-queue-and-documents") { db in
            try db.alter(table: "batch_job") { table in
                table.add(column: "settings", .text)
                table.add(column: "budget_usd", .double)
                table.add(column: "cancelled", .boolean).notNull().defaults(to: false)
            }
            try db.alter(table: "batch_item") { table in
                table.add(column: "listing", .text)
                table.add(column: "attempts", .integer).notNull().defaults(to: 0)
            }
            try db.execute(
                sql: """
                    CREATE TABLE batch_document (
                      job TEXT NOT NULL, key TEXT NOT NULL, extension TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (job, key, extension)
                    ) WITHOUT ROWID;
                    CREATE INDEX batch_item_queued ON batch_item (job, position) WHERE status = 'pending';
                    CREATE TABLE rate_window (
                      backend TEXT NOT NULL, minute INTEGER NOT NULL, requests INTEGER NOT NULL, tokens INTEGER NOT NULL,
                      PRIMARY KEY (backend, minute)
                    ) WITHOUT ROWID;
                    """)
        }
    }

    /// Seconds since 1970 as SQLite computes them: every process sharing the file reads one clock.
    static let epoch = "((julianday('now') - 2440587.5) * 86400.0)"

    /// The current time as SQLite writes it, in the same form GRDB gives a `Date`
    /// (`yyyy-MM-dd HH:mm:ss.SSS`, UTC), without a date formatter per write.
    static let now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"

    static func item(_ row: Row) -> BatchItem {
        let documents = Self.documents(row["documents"])
        return BatchItem(
            key: row["key"], name: row["name"], status: BatchItem.Status(rawValue: row["status"]) ?? .pending, error: row["error"],
            documents: documents,
            outcome: BatchItem.Outcome(
                verdict: row["verdict"], shipShare: row["ship_share"], scoreMedian: row["score_median"], costUSD: row["cost_usd"],
                answered: row["answered"]))
    }

    /// The `documents` column (a JSON array of addresses), read by the writer that wrote it.
    static func documents(_ text: String) -> [String] {
        JSONValue.parse(text)?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    static func writeItem(
        _ db: Database, job: String, key: String, name: String?, status: BatchItem.Status, error: String?, documents: [String],
        outcome: BatchItem.Outcome, position: Int?
    ) throws {
        let encoded = JSONValue.array(documents.map(JSONValue.string)).canonicalText()
        try db.cachedStatement(
            sql: """
                INSERT INTO batch_item
                  (job, key, name, status, error, documents, verdict, ship_share, score_median, cost_usd, answered, position, updated_at,
                   lease_owner, lease_token, lease_expires)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \(now), NULL, NULL, NULL)
                ON CONFLICT(job, key) DO UPDATE SET name = excluded.name, status = excluded.status, error = excluded.error,
                  documents = excluded.documents, verdict = excluded.verdict, ship_share = excluded.ship_share,
                  score_median = excluded.score_median, cost_usd = excluded.cost_usd, answered = excluded.answered,
                  position = IFNULL(excluded.position, position), updated_at = excluded.updated_at,
                  lease_owner = NULL, lease_token = NULL, lease_expires = NULL
                """
        ).execute(arguments: [
            job, key, name, status.rawValue, error, encoded, outcome.verdict, outcome.shipShare, outcome.scoreMedian, outcome.costUSD,
            outcome.answered, position,
        ])
    }

    static func reserveName(_ db: Database, job: String, key: String, base: String, isTaken: (String) -> Bool) throws -> String {
        if let name = try String.fetchOne(
            db.cachedStatement(sql: "SELECT name FROM batch_name WHERE job = ? AND key = ?"), arguments: [job, key])
        {
            return name
        }
        let used = try db.cachedStatement(sql: "SELECT COUNT(*) > 0 FROM batch_name WHERE job = ? AND name = ?")
        let candidate = try name(base) { try Bool.fetchOne(used, arguments: [job, $0]) == true || isTaken($0) }
        try db.cachedStatement(sql: "INSERT INTO batch_name (job, name, key) VALUES (?, ?, ?)").execute(arguments: [
            job, candidate, key,
        ])
        return candidate
    }

    /// `base`, or the first of `base-2`, `base-3`… not `used`: the one naming rule.
    static func name(_ base: String, used: (String) throws -> Bool) rethrows -> String {
        var candidate = base
        var counter = 2
        while try used(candidate) {
            candidate = "\(base)-\(counter)"
            counter += 1
        }
        return candidate
    }

    /// True while `claim` holds its item's lease; with a result, the result saved too (and its cost
    /// added to the job's spend) — the lease checked by the insert itself, as PostgreSQL's save does.
    /// Nothing is written when the lease was lost. A result replaces a different one (a persona asked
    /// again after it abstained: its new answer and cost count); the same result saved again (a step
    /// repeated) changes nothing and counts nothing — the rule of every store.
    static func holds(_ db: Database, _ claim: ItemClaim, saving result: SavedResult? = nil) throws -> Bool {
        let leaseHeld = {
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) > 0 FROM batch_item WHERE job = ? AND key = ? AND lease_token = ?"),
                arguments: [claim.job, claim.key, claim.token]) ?? false
        }
        guard let result else { return try leaseHeld() }
        try db.cachedStatement(
            sql: """
                INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at)
                SELECT job, key, ?, ?, ?, \(now) FROM batch_item WHERE job = ? AND key = ? AND lease_token = ?
                ON CONFLICT (job, key, persona) DO UPDATE SET review = excluded.review, cost_usd = excluded.cost_usd,
                  created_at = excluded.created_at
                WHERE review IS NOT excluded.review
                """
        ).execute(arguments: [result.persona, result.review, result.costUSD, claim.job, claim.key, claim.token])
        // Nothing written: the lease lost, or this very result saved already (then the lease decides).
        guard db.changesCount > 0 else { return try leaseHeld() }
        if let cost = result.costUSD, cost != 0 {
            try db.cachedStatement(sql: "UPDATE batch_job SET spent_usd = spent_usd + ? WHERE name = ?").execute(arguments: [
                cost, claim.job,
            ])
        }
        return true
    }

    static func deleteReservation(_ db: Database, _ reservation: BudgetReservation?) throws {
        guard let reservation else { return }
        try db.cachedStatement(sql: "DELETE FROM budget_reservation WHERE job = ? AND id = ?").execute(arguments: [
            reservation.job, reservation.id,
        ])
    }

    /// Persona results saved for a job.
    public func savedResultCount(job: String) throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batch_result WHERE job = ?", arguments: [job]) ?? 0 }
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): "ok" or the problems found.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }
}

/// The batch half of the engine's store protocol. Every method is one SQLite transaction (WAL): a
/// process killed at any moment leaves the store as it was after the last committed one. The methods
/// do their work synchronously (SQLite answers in microseconds; a hop to another executor per call
/// would cost more than the call) — but for a result's save and a listing's finish, which come with
/// every call and are committed with those of other tasks that come meanwhile (``GroupedWrites``), each
/// in a savepoint of its own, and return once committed.
extension PanelStore: ReviewStore {
    public var location: String { path }

    @discardableResult
    public func renewLeases(owner: String, lease: Duration) throws -> Set<ItemClaim> {
        try writeTransaction { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE batch_item SET lease_expires = \(Self.epoch) + ? WHERE lease_owner = ? AND lease_token IS NOT NULL
                        RETURNING job, key, lease_token
                        """), arguments: [lease.seconds, owner])
            try db.cachedStatement(sql: "UPDATE budget_reservation SET expires = \(Self.epoch) + ? WHERE owner = ?").execute(arguments: [
                max(lease.seconds, Self.reservationLease.seconds), owner,
            ])
            return Set(rows.map { ItemClaim(job: $0["job"], key: $0["key"], token: $0["lease_token"]) })
        }
    }

    public func release(_ claim: ItemClaim, name: String?, attempted: Bool) throws {
        defer { work.bump() }
        try writeTransaction { db in
            try db.cachedStatement(
                sql: """
                    UPDATE batch_item SET name = IFNULL(?, name), lease_owner = NULL, lease_token = NULL, lease_expires = NULL,
                      attempts = MAX(attempts - ?, 0), updated_at = \(Self.now)
                    WHERE job = ? AND key = ? AND lease_token = ?
                    """
            ).execute(arguments: [name, attempted ? 0 : 1, claim.job, claim.key, claim.token])
        }
    }

    public func results(job: String, key: String) throws -> [String: String] {
        try pool.read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT persona, review FROM batch_result WHERE job = ? AND key = ?"), arguments: [job, key])
            return Dictionary(rows.map { ($0["persona"] as String, $0["review"] as String) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public func saveResult(_ result: SavedResult, claim: ItemClaim, settling reservation: BudgetReservation?) async throws -> Bool {
        try await grouped.write(waitingForCompany: true) { db in
            try Self.deleteReservation(db, reservation)
            return try Self.holds(db, claim, saving: result)
        }
    }

    public func savesMayWait(_ mayWait: Bool) { grouped.window.setOpen(mayWait) }

    /// A passive checkpoint on the writer's connection: readers go on meanwhile, and the close at the
    /// process's end, which checkpoints too, finds the log folded (it took 2–3 ms after a 500-listing
    /// batch's summary). A failure changes nothing: the close checkpoints what is left.
    public func settle() async {
        _ = try? await pool.writeWithoutTransaction { db in try db.checkpoint(.passive) }
    }

    public func reserveNames(job: String, _ names: [(key: String, base: String)], isTaken: @Sendable (String) -> Bool) throws {
        guard !names.isEmpty else { return }
        try writeTransaction { db in
            // The job's names so far, read once (none for a new job; a batch queued in steps reads the
            // steps before): each listing is then named in memory, by ``reserveName``'s rule, without two
            // look-ups in the store a listing (they were most of queuing one). Past a few times this step's
            // size, reading them all would cost more than those look-ups (a million listings queued 5,000
            // a step would read them quadratically): each listing is then named as ``reserveName`` names it.
            let limit = 4 * names.count
            let counted = try db.cachedStatement(sql: "SELECT COUNT(*) FROM (SELECT 1 FROM batch_name WHERE job = ? LIMIT ?)")
            let existing = try Int.fetchOne(counted, arguments: [job, limit + 1]) ?? 0
            guard existing <= limit else {
                for (key, base) in names { _ = try Self.reserveName(db, job: job, key: key, base: base, isTaken: isTaken) }
                return
            }
            var used = Set<String>()
            var named = Set<String>()
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT name, key FROM batch_name WHERE job = ?"), arguments: [job])
            while let row = try rows.next() {
                used.insert(row[0])
                named.insert(row[1])
            }
            let insert = try db.cachedStatement(sql: "INSERT INTO batch_name (job, name, key) VALUES (?, ?, ?)")
            for (key, base) in names where named.insert(key).inserted {  // a listing named before keeps its name
                let name = Self.name(base) { used.contains($0) || isTaken($0) }
                used.insert(name)
                try insert.execute(arguments: [job, name, key])
            }
        }
    }

    public func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @escaping @Sendable (String) -> Bool,
        texts: [String: String], documents: @escaping @Sendable (String) -> [String]
    ) async throws -> String? {
        try await grouped.write { db in
            try Self.deleteReservation(db, reservation)
            guard try Self.holds(db, claim, saving: lastResult) else { return nil }
            let reserved = try Self.reserveName(db, job: claim.job, key: claim.key, base: base, isTaken: isTaken)
            try Self.writeItem(
                db, job: claim.job, key: claim.key, name: name, status: status, error: nil, documents: documents(reserved),
                outcome: outcome, position: nil)
            try db.cachedStatement(sql: "DELETE FROM batch_document WHERE job = ? AND key = ?").execute(arguments: [claim.job, claim.key])
            let insert = try db.cachedStatement(sql: "INSERT INTO batch_document (job, key, extension, text) VALUES (?, ?, ?, ?)")
            for (fileExtension, text) in texts { try insert.execute(arguments: [claim.job, claim.key, fileExtension, text]) }
            return reserved
        }
    }

    public func forEachDocument(
        job: String, wanted: (_ name: String, _ fileExtension: String) -> Bool, _ body: (StoredDocument) throws -> Void
    ) throws {
        try pool.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT d.key, n.name, d.extension, d.text FROM batch_document d
                    JOIN batch_name n ON n.job = d.job AND n.key = d.key JOIN batch_item i ON i.job = d.job AND i.key = d.key
                    WHERE d.job = ? ORDER BY i.position, i.key, d.extension
                    """, arguments: [job])
            while let row = try rows.next() {
                // SQLite reads a text column (and its overflow pages) only when it is asked for.
                let (name, fileExtension): (String, String) = (row[1], row[2])
                guard wanted(name, fileExtension) else { continue }
                try body(StoredDocument(key: row[0], name: name, fileExtension: fileExtension, text: row[3]))
            }
        }
    }

    /// How long a reservation lives without its owner's heartbeat: longer than any one call may take.
    static let reservationLease: Duration = .seconds(900)

    public func reserveBudget(job: String, owner: String, amountUSD: Double, limitUSD: Double) throws -> BudgetReservation? {
        try writeTransaction { db in
            let spent =
                try Double.fetchOne(db.cachedStatement(sql: "SELECT spent_usd FROM batch_job WHERE name = ?"), arguments: [job]) ?? 0
            let reserved =
                try Double.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT IFNULL(SUM(amount_usd), 0) FROM budget_reservation WHERE job = ? AND expires > \(Self.epoch)"),
                    arguments: [job]) ?? 0
            guard spent + reserved + amountUSD <= limitUSD else { return nil }
            let reservation = BudgetReservation(job: job, id: UUID().uuidString, amountUSD: amountUSD)
            try db.cachedStatement(
                sql: "INSERT INTO budget_reservation (job, id, owner, amount_usd, expires) VALUES (?, ?, ?, ?, \(Self.epoch) + ?)"
            ).execute(arguments: [job, reservation.id, owner, amountUSD, Self.reservationLease.seconds])
            return reservation
        }
    }

    public func releaseBudget(_ reservation: BudgetReservation) throws {
        try writeTransaction { db in try Self.deleteReservation(db, reservation) }
    }

    public func spent(job: String) throws -> Double {
        try pool.read { db in
            try Double.fetchOne(db, sql: "SELECT spent_usd FROM batch_job WHERE name = ?", arguments: [job]) ?? 0
        }
    }

    public func itemCounts(job: String) throws -> [BatchItem.Status: Int] {
        try pool.read { db in
            var counts: [BatchItem.Status: Int] = [:]
            let rows = try Row.fetchCursor(
                db, sql: "SELECT status, COUNT(*) AS n FROM batch_item WHERE job = ? GROUP BY status", arguments: [job])
            while let row = try rows.next() {
                counts[BatchItem.Status(rawValue: row["status"]) ?? .pending, default: 0] += row["n"] as Int
            }
            return counts
        }
    }

    public func jobs() throws -> [JobSummary] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT name, substr(created_at, 1, 19) AS created, spent_usd, budget_usd, cancelled FROM batch_job
                    WHERE substr(name, 1, \(TeamReview.jobPrefix.count)) <> '\(TeamReview.jobPrefix)'
                    ORDER BY created_at DESC, name
                    """
            )
            .map {
                JobSummary(
                    name: $0["name"], createdAt: $0["created"] ?? "", spentUSD: $0["spent_usd"] ?? 0, budgetUSD: $0["budget_usd"],
                    cancelled: $0["cancelled"] ?? false)
            }
        }
    }

    public func forEachItem(job: String, _ body: (BatchItem) throws -> Void) throws {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM batch_item WHERE job = ? ORDER BY position, key", arguments: [job])
            while let row = try rows.next() { try body(Self.item(row)) }
        }
    }
}
