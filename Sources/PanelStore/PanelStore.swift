import Foundation
import GRDB
public import ModelBackends
public import PanelEngine

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// panel's SQLite store (`.panel/panel.sqlite` by default): the response cache, and later runs and
/// batch state. WAL mode and a busy timeout make it safe for several `panel` processes at once;
/// SQL stays in this module.
public final class PanelStore: Sendable {
    let pool: DatabasePool
    /// The batch's per-call writes (saves and finishes), committed together when they come at once.
    let grouped: GroupedWrites

    public let path: String
    /// Wakes this process's idle workers when a listing is enqueued or given back (other processes'
    /// changes are seen when their wait times out).
    let work = ChangeSignal()
    /// Wakes this process's readers of reviews' events.
    let reviewEventsAppended = ChangeSignal()

    public static let defaultPath = ".panel/panel.sqlite"

    public init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw StoreError(path: path, problem: "cannot be created: \(directory) is a file, not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                path: path, problem: "cannot be created: its directory \(directory) cannot be made (\(error.localizedDescription))")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // A team server reads on many requests at once (tokens, reviews, documents); WAL lets readers run
        // beside the writer, and GRDB's default of 5 reader connections queued the rest.
        configuration.maximumReaderCount = 12
        configuration.label = "panel-store"
        // WAL with synchronous=NORMAL: a committed write survives a crash or kill -9 of panel (only a
        // power loss can lose the last transactions), without an fsync per persona result.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // A new store's pages are 8 KiB (SQLite's default is 4): a listing's JSON document (~6 KB) fits one
            // page instead of a leaf and two overflow pages, and a batch's commits write 15% fewer WAL frames
            // and 20% fewer `pwrite`s — 3% less CPU a call at concurrency 64 (docs/benchmarks.md; 16 KiB cost
            // more than it saved). It applies only to a file with no tables yet: a store made with 4 KiB pages
            // keeps them (in WAL mode SQLite ignores the pragma).
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA page_size = 8192") }
            // The writer's savepoints (``GroupedWrites`` puts each caller's work in one) keep the pages they
            // change in a statement journal, which SQLite spills to a temporary file past 64 KiB: a 4 KiB
            // write and a read back per page, a third of a batch's file writes beside the WAL's. Kept in
            // memory instead (a transaction's pages: a few MiB at most). Readers keep the default: an
            // export's sort may be large and belongs on disk.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        }
        // Several processes may open a new store at once (two batches on one job, a worker and a server):
        // opening (the switch to WAL) and migrating happen under an exclusive lock on a file beside it, so
        // one process migrates and the others find the store ready.
        let lock = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lock >= 0 { _ = flock(lock, LOCK_EX) }
        defer {
            if lock >= 0 {
                _ = flock(lock, LOCK_UN)
                close(lock)
            }
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        grouped = GroupedWrites(pool: pool)
        self.path = path
        let migrator = Self.migrator
        if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
            throw StoreError(path: path, problem: "was written by a newer version of panel; use that version, or another --store")
        }
        try Self.createSquashedSchema(pool)
        try migrator.migrate(pool)
        let missing = try pool.read { db in try Self.tables.filter { try !db.tableExists($0) } }
        if !missing.isEmpty {
            throw StoreError(
                path: path,
                problem:
                    "is damaged: table(s) \(missing.joined(separator: ", ")) are missing; move it aside (panel makes a new one) or use another --store"
            )
        }
    }

    /// The tables a store has once migrated.
    static let tables = [
        "response_cache", "batch_job", "batch_item", "batch_result", "batch_name", "budget_reservation", "batch_document", "rate_window",
        "team_token", "team_session", "team_review", "team_review_action", "backend_quality", "team_batch_charge",
        "team_review_event", "team_review_event_expiry",
    ]

    /// One write transaction (`BEGIN IMMEDIATE` … `COMMIT`, rolled back on error) with both statements
    /// prepared once: GRDB's `write` parses and prepares them from SQL text on every call, which was a
    /// measurable share of a batch's cost per saved result.
    func writeTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
            do {
                let value = try body(db)
                try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
                return value
            } catch {
                if db.isInsideTransaction { try? db.rollback() }
                throw error
            }
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-response-cache") { db in
            try db.create(table: "response_cache") { table in
                table.primaryKey("key", .text)
                table.column("backend", .text).notNull()
                table.column("model", .text)
                table.column("text", .text).notNull()
                table.column("input_tokens", .integer)
                table.column("output_tokens", .integer)
                table.column("cost_usd", .double)
                table.column("latency_ms", .integer).notNull()
                table.column("ttft_ms", .integer)
                table.column("finish_reason", .text)
                table.column("created_at", .datetime).notNull()
            }
        }
        registerBatchMigration(&migrator)
        registerTeamMigration(&migrator)
        registerQualityMigration(&migrator)
        registerReservationMigration(&migrator)
        registerReviewJobMigration(&migrator)
        registerPublicationMigration(&migrator)
        // The trace a queued item was enqueued in (W3C traceparent), continued by whoever works it.
        migrator.registerMigration("v13-queued-trace") { db in try db.execute(sql: "ALTER TABLE batch_item ADD COLUMN trace TEXT") }
        // A claim bound to one job reads its queued listings in claim order from this index, without
        // sorting the job's queue at every claim (PostgreSQL's schema 10 has the same index).
        migrator.registerMigration("v14-claim-order") { db in
            try db.execute(
                sql: """
                    CREATE INDEX batch_item_queued_order ON batch_item (job, position, key) WHERE status = 'pending';
                    DROP INDEX batch_item_queued;
                    """)
        }
        // Results and documents back in rowid tables, their key a UNIQUE constraint (undoing v4 for
        // results). In a WITHOUT ROWID table a row lives in its key's B-tree, long persona answers and
        // documents with it, and keys arriving out of order split full leaves and rewrite interior
        // pages; in a rowid table new rows append to the rightmost leaf and only the small key index
        // splits. Measured, 500 listings × 4 personas at concurrency 64: WAL frames 4,554–4,714 → 3,941–4,130.
        migrator.registerMigration("v15-rowid-results-and-documents") { db in
            try db.execute(
                sql: """
                    CREATE TABLE batch_result_v15 (
                      job TEXT NOT NULL, key TEXT NOT NULL, persona TEXT NOT NULL, review TEXT NOT NULL, cost_usd DOUBLE,
                      created_at DATETIME NOT NULL, UNIQUE (job, key, persona)
                    );
                    INSERT INTO batch_result_v15 (job, key, persona, review, cost_usd, created_at)
                      SELECT job, key, persona, review, cost_usd, created_at FROM batch_result ORDER BY job, key, persona;
                    DROP TABLE batch_result;
                    ALTER TABLE batch_result_v15 RENAME TO batch_result;
                    CREATE TABLE batch_document_v15 (
                      job TEXT NOT NULL, key TEXT NOT NULL, extension TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (job, key, extension)
                    );
                    INSERT INTO batch_document_v15 (job, key, extension, text)
                      SELECT job, key, extension, text FROM batch_document ORDER BY job, key, extension;
                    DROP TABLE batch_document;
                    ALTER TABLE batch_document_v15 RENAME TO batch_document;
                    """)
        }
        return migrator
    }

    /// Number of cached answers.
    public func cachedResponseCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM response_cache") ?? 0 }
    }

    /// Every cached answer's text, for tests that prove no secret reached the store.
    public func allCachedText() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT backend || ' ' || IFNULL(model, '') || ' ' || text FROM response_cache")
        }
    }
}

/// A store that cannot be used: which file and why.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "\(path): \(problem)" }
}

extension PanelStore: ResponseCache {
    public func cachedResponse(for key: String, maxAge: Duration?) async throws -> ChatResponse? {
        try await pool.read { db in
            let row: Row?
            if let maxAge {
                row = try Row.fetchOne(
                    db,
                    sql: "SELECT * FROM response_cache WHERE key = ? AND created_at >= strftime('%Y-%m-%d %H:%M:%f', 'now', ?)",
                    arguments: [key, "-\(max(0, maxAge.seconds)) seconds"])
            } else {
                row = try Row.fetchOne(db, sql: "SELECT * FROM response_cache WHERE key = ?", arguments: [key])
            }
            guard let row else { return nil }
            return ChatResponse(
                text: row["text"], model: row["model"], backend: row["backend"],
                usage: TokenUsage(inputTokens: row["input_tokens"], outputTokens: row["output_tokens"]),
                costUSD: row["cost_usd"], latency: .milliseconds(row["latency_ms"] as Int),
                timeToFirstToken: (row["ttft_ms"] as Int?).map { .milliseconds($0) }, attempts: 1, finishReason: row["finish_reason"])
        }
    }

    public func store(_ response: ChatResponse, for key: String) async throws {
        try await pool.write { db in
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO response_cache
                      (key, backend, model, text, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, finish_reason, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \(Self.now))
                    """
            ).execute(
                arguments: [
                    key, response.backend, response.model, response.text, response.usage.inputTokens, response.usage.outputTokens,
                    response.costUSD, response.latency.milliseconds, response.timeToFirstToken?.milliseconds, response.finishReason,
                ])
        }
    }
}

extension PanelStore {
    /// The rows of one of the tables both stores keep, `pageSize` at a time in key order (for
    /// `panel store copy`); times as SQLite writes them, `yyyy-MM-dd HH:mm:ss.SSS` UTC.
    public func rows(of table: StoreTable, after page: Int, pageSize: Int = 500) throws -> [[StoreValue]] {
        try pool.read { db in
            let sql = """
                SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)
                ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(pageSize) OFFSET \(page * pageSize)
                """
            return try Row.fetchAll(db, sql: sql).map { row in
                table.columns.indices.map { index -> StoreValue in
                    switch row[index] as DatabaseValue? {
                    case nil: return .null
                    case let value?:
                        switch value.storage {
                        case .null: return .null
                        case .int64(let number): return .integer(Int(number))
                        case .double(let number): return .real(number)
                        case .string(let text): return .text(text)
                        case .blob(let data): return .text(String(decoding: data, as: UTF8.self))
                        }
                    }
                }
            }
        }
    }
}
