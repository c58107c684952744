import Foundation
import GRDB

/// Batch state: a job, its items (one per listing) and each persona's result, written as each call
/// completes, so a crashed or interrupted batch resumes without losing or repeating paid work.
extension PanelStore {
    public struct BatchItem: Sendable, Hashable {
        public enum Status: String, Sendable {
            case pending, complete, partial, failed
        }

        public var key: String
        public var name: String?
        public var status: Status
        public var error: String?
        public var documents: [String]
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
    }

    public func beginJob(_ name: String) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO batch_job (name, created_at) VALUES (?, ?)", arguments: [name, Date()])
        }
    }

    public func jobExists(_ name: String) throws -> Bool {
        try pool.read { db in try Bool.fetchOne(db, sql: "SELECT COUNT(*) > 0 FROM batch_job WHERE name = ?", arguments: [name]) ?? false }
    }

    public func item(job: String, key: String) throws -> BatchItem? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM batch_item WHERE job = ? AND key = ?", arguments: [job, key]).map(Self.item)
        }
    }

    public func items(job: String) throws -> [BatchItem] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM batch_item WHERE job = ? ORDER BY key", arguments: [job]).map(Self.item)
        }
    }

    static func item(_ row: Row) -> BatchItem {
        let documents = (try? JSONDecoder().decode([String].self, from: Data((row["documents"] as String).utf8))) ?? []
        return BatchItem(
            key: row["key"], name: row["name"], status: BatchItem.Status(rawValue: row["status"]) ?? .pending, error: row["error"],
            documents: documents)
    }

    public func setItem(
        job: String, key: String, name: String?, status: BatchItem.Status, error: String? = nil, documents: [String] = []
    )
        throws
    {
        let encoded = String(decoding: try JSONEncoder().encode(documents), as: UTF8.self)
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO batch_item (job, key, name, status, error, documents, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(job, key) DO UPDATE SET name = excluded.name, status = excluded.status, error = excluded.error,
                      documents = excluded.documents, updated_at = excluded.updated_at
                    """,
                arguments: [job, key, name, status.rawValue, error, encoded, Date()])
        }
    }

    /// Persona id → the stored review (JSON) of one item.
    public func results(job: String, key: String) throws -> [String: String] {
        try pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT persona, review FROM batch_result WHERE job = ? AND key = ?", arguments: [job, key])
            return Dictionary(rows.map { ($0["persona"] as String, $0["review"] as String) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// Stores one persona's result the moment it completes; a rerun never pays for it again.
    public func saveResult(job: String, key: String, persona: String, review: String, costUSD: Double?) throws {
        try pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO batch_result (job, key, persona, review, cost_usd, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [job, key, persona, review, costUSD, Date()])
        }
    }

    /// Money spent by a job so far (known costs).
    public func spent(job: String) throws -> Double {
        try pool.read { db in
            try Double.fetchOne(db, sql: "SELECT IFNULL(SUM(cost_usd), 0) FROM batch_result WHERE job = ?", arguments: [job]) ?? 0
        }
    }
}

extension PanelStore {
    /// Persona results saved for a job.
    public func savedResultCount(job: String) throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batch_result WHERE job = ?", arguments: [job]) ?? 0 }
    }
}
