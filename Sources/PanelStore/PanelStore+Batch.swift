import Foundation
import GRDB
import ModelBackends

/// Batch state: a job, its items (one per listing) and each persona's result, written as each call
/// completes, so a crashed or interrupted batch resumes without losing or repeating paid work.
///
/// Every write is one SQLite transaction (WAL): a process killed at any moment leaves the store as it
/// was after the last committed write, never half of one.
extension PanelStore {
    public struct BatchItem: Sendable, Hashable {
        public enum Status: String, Sendable {
            /// Known, not finished: never started, stopped by the budget, or killed before its documents.
            case pending, complete, partial, failed
        }

        /// The panel's outcome for one listing, kept with the item so the batch summary is read back
        /// from the store instead of being held in memory.
        public struct Outcome: Sendable, Hashable {
            public var verdict: String?
            public var shipShare: Double?
            public var scoreMedian: Double?
            public var costUSD: Double?
            public var answered: Int?

            public init(
                verdict: String? = nil, shipShare: Double? = nil, scoreMedian: Double? = nil, costUSD: Double? = nil, answered: Int? = nil
            ) {
                self.verdict = verdict
                self.shipShare = shipShare
                self.scoreMedian = scoreMedian
                self.costUSD = costUSD
                self.answered = answered
            }
        }

        public var key: String
        public var name: String?
        public var status: Status
        public var error: String?
        /// The document paths; set before the files are written, so a rerun after a crash writes the
        /// same names instead of leaving a stray copy under another one.
        public var documents: [String]
        public var outcome: Outcome
    }

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
                let documents = (try? JSONDecoder().decode([String].self, from: Data((row["documents"] as String).utf8))) ?? []
                guard let first = documents.first else { continue }
                let name = URL(fileURLWithPath: first).deletingPathExtension().lastPathComponent
                try db.execute(
                    sql: "INSERT OR IGNORE INTO batch_name (job, name, key) VALUES (?, ?, ?)",
                    arguments: [row["job"] as String, name, row["key"] as String])
            }
        }
        // Results live in their primary key's B-tree alone: one tree to update per saved result instead
        // of the table and its key index.
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
    }

    /// Starts a job, or continues the one of that name; true when the job is new (so nothing of it is
    /// stored yet and its items need not be looked up).
    @discardableResult
    public func beginJob(_ name: String) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO batch_job (name, created_at) VALUES (?, \(Self.now))", arguments: [name])
            return db.changesCount > 0
        }
    }

    /// The current time as SQLite writes it, in the same form GRDB gives a `Date`
    /// (`yyyy-MM-dd HH:mm:ss.SSS`, UTC), without a date formatter per write.
    static let now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"

    public func jobExists(_ name: String) throws -> Bool {
        try pool.read { db in try Bool.fetchOne(db, sql: "SELECT COUNT(*) > 0 FROM batch_job WHERE name = ?", arguments: [name]) ?? false }
    }

    public func item(job: String, key: String) throws -> BatchItem? {
        try pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM batch_item WHERE job = ? AND key = ?"), arguments: [job, key])
                .map(Self.item)
        }
    }

    public func items(job: String) throws -> [BatchItem] {
        var items: [BatchItem] = []
        try forEachItem(job: job) { items.append($0) }
        return items
    }

    /// Every item of a job in input order (then key order), one at a time (a batch of any size is read in constant memory).
    public func forEachItem(job: String, _ body: (BatchItem) throws -> Void) throws {
        try pool.read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM batch_item WHERE job = ? ORDER BY position, key", arguments: [job])
            while let row = try rows.next() { try body(Self.item(row)) }
        }
    }

    /// Items per status.
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

    static func item(_ row: Row) -> BatchItem {
        let documents = (try? JSONDecoder().decode([String].self, from: Data((row["documents"] as String).utf8))) ?? []
        return BatchItem(
            key: row["key"], name: row["name"], status: BatchItem.Status(rawValue: row["status"]) ?? .pending, error: row["error"],
            documents: documents,
            outcome: BatchItem.Outcome(
                verdict: row["verdict"], shipShare: row["ship_share"], scoreMedian: row["score_median"], costUSD: row["cost_usd"],
                answered: row["answered"]))
    }

    public func setItem(
        job: String, key: String, name: String?, status: BatchItem.Status, error: String? = nil, documents: [String] = [],
        outcome: BatchItem.Outcome = .init(), position: Int? = nil
    ) throws {
        try writeTransaction { db in
            try Self.writeItem(
                db, job: job, key: key, name: name, status: status, error: error, documents: documents, outcome: outcome,
                position: position)
        }
    }

    static func writeItem(
        _ db: Database, job: String, key: String, name: String?, status: BatchItem.Status, error: String?, documents: [String],
        outcome: BatchItem.Outcome, position: Int?
    ) throws {
        let encoded = JSONValue.array(documents.map(JSONValue.string)).canonicalText()
        try db.cachedStatement(
            sql: """
                INSERT INTO batch_item
                  (job, key, name, status, error, documents, verdict, ship_share, score_median, cost_usd, answered, position, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \(now))
                ON CONFLICT(job, key) DO UPDATE SET name = excluded.name, status = excluded.status, error = excluded.error,
                  documents = excluded.documents, verdict = excluded.verdict, ship_share = excluded.ship_share,
                  score_median = excluded.score_median, cost_usd = excluded.cost_usd, answered = excluded.answered,
                  position = IFNULL(excluded.position, position), updated_at = excluded.updated_at
                """
        ).execute(arguments: [
            job, key, name, status.rawValue, error, encoded, outcome.verdict, outcome.shipShare, outcome.scoreMedian, outcome.costUSD,
            outcome.answered, position,
        ])
    }

    /// The document name (file name without extension) of an item: the one it already has, or `base`,
    /// `base-2`, `base-3`… — the first not used by another item of the job and for which `isTaken` (files
    /// already in the output directory) says no. Reserved in the same transaction, so it is stable
    /// across reruns and never given to two listings.
    public func documentName(job: String, key: String, base: String, isTaken: (String) -> Bool) throws -> String {
        try writeTransaction { db in try Self.reserveName(db, job: job, key: key, base: base, isTaken: isTaken) }
    }

    /// Reserves the listing's document name and records it finished — status, outcome and the
    /// documents it is about to have — in one transaction, before any file is written. A listing counts
    /// as done on a rerun only when those files exist too, so a crash before they are renamed into
    /// place means they are written again, from the stored results. Returns the name.
    ///
    /// `lastResult`, the persona result that completed the listing, is saved in the same transaction:
    /// one commit instead of two, at the moment its own commit would have happened.
    public func finishItem(
        job: String, key: String, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult? = nil, position: Int? = nil, isTaken: (String) -> Bool,
        documents: (String) -> [String]
    ) throws -> String {
        try writeTransaction { db in
            if let lastResult {
                try Self.insertResult(
                    db, job: job, key: key, persona: lastResult.persona, review: lastResult.review, costUSD: lastResult.costUSD)
            }
            let reserved = try Self.reserveName(db, job: job, key: key, base: base, isTaken: isTaken)
            try Self.writeItem(
                db, job: job, key: key, name: name, status: status, error: nil, documents: documents(reserved), outcome: outcome,
                position: position)
            return reserved
        }
    }

    static func reserveName(_ db: Database, job: String, key: String, base: String, isTaken: (String) -> Bool) throws -> String {
        if let name = try String.fetchOne(
            db.cachedStatement(sql: "SELECT name FROM batch_name WHERE job = ? AND key = ?"), arguments: [job, key])
        {
            return name
        }
        let used = try db.cachedStatement(sql: "SELECT COUNT(*) > 0 FROM batch_name WHERE job = ? AND name = ?")
        var candidate = base
        var counter = 2
        while try Bool.fetchOne(used, arguments: [job, candidate]) == true || isTaken(candidate) {
            candidate = "\(base)-\(counter)"
            counter += 1
        }
        try db.cachedStatement(sql: "INSERT INTO batch_name (job, name, key) VALUES (?, ?, ?)").execute(arguments: [
            job, candidate, key,
        ])
        return candidate
    }

    /// One persona's result as saved: the review (JSON) and its cost.
    public typealias SavedResult = (persona: String, review: String, costUSD: Double?)

    /// Persona id → the stored review (JSON) of one item.
    public func results(job: String, key: String) throws -> [String: String] {
        try pool.read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT persona, review FROM batch_result WHERE job = ? AND key = ?"), arguments: [job, key])
            return Dictionary(rows.map { ($0["persona"] as String, $0["review"] as String) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// Stores one persona's result the moment it completes; a rerun never pays for it again.
    public func saveResult(job: String, key: String, persona: String, review: String, costUSD: Double?) throws {
        try writeTransaction { db in try Self.insertResult(db, job: job, key: key, persona: persona, review: review, costUSD: costUSD) }
    }

    static func insertResult(_ db: Database, job: String, key: String, persona: String, review: String, costUSD: Double?) throws {
        try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO batch_result (job, key, persona, review, cost_usd, created_at) VALUES (?, ?, ?, ?, ?, \(now))"
        ).execute(arguments: [job, key, persona, review, costUSD])
    }

    /// Money spent by a job so far (known costs).
    public func spent(job: String) throws -> Double {
        try pool.read { db in
            try Double.fetchOne(db, sql: "SELECT IFNULL(SUM(cost_usd), 0) FROM batch_result WHERE job = ?", arguments: [job]) ?? 0
        }
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
