public import Foundation
import GRDB
public import PanelEngine
import PanelKit

/// The team server's tables: tokens and sessions (secrets hashed), reviews asked for over HTTP, and
/// editors' actions on them.
extension PanelStore: TeamStore {
    static func registerTeamMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-team") { db in
            try db.execute(
                sql: """
                    CREATE TABLE team_token (
                      id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE,
                      budget_usd DOUBLE, spent_usd DOUBLE NOT NULL DEFAULT 0, created_at DOUBLE NOT NULL,
                      revoked BOOLEAN NOT NULL DEFAULT 0);
                    CREATE TABLE team_session (
                      secret_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL, csrf TEXT NOT NULL, expires DOUBLE NOT NULL);
                    CREATE TABLE team_review (
                      id TEXT PRIMARY KEY, created_at DOUBLE NOT NULL, token_id TEXT NOT NULL, created_by TEXT NOT NULL,
                      status TEXT NOT NULL, title TEXT NOT NULL, title_lower TEXT NOT NULL, listings TEXT NOT NULL, document TEXT,
                      verdicts TEXT NOT NULL DEFAULT '', cost_usd DOUBLE, error TEXT);
                    CREATE INDEX team_review_newest ON team_review (created_at DESC, id DESC);
                    CREATE TABLE team_review_action (
                      review_id TEXT NOT NULL REFERENCES team_review(id) ON DELETE CASCADE, seq INTEGER NOT NULL, action TEXT NOT NULL,
                      PRIMARY KEY (review_id, seq)) WITHOUT ROWID;
                    """)
        }
    }

    /// What reviews and batches hold of their tokens' budgets until they are charged.
    static func registerReservationMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v10-token-reservations") { db in
            try db.execute(
                sql: """
                    ALTER TABLE team_review ADD COLUMN reserved_usd DOUBLE NOT NULL DEFAULT 0;
                    CREATE INDEX team_review_unfinished ON team_review (token_id) WHERE status IN ('queued', 'running');
                    CREATE TABLE team_batch_charge (
                      job TEXT PRIMARY KEY, token_id TEXT NOT NULL, reserved_usd DOUBLE NOT NULL, settled BOOLEAN NOT NULL DEFAULT 0);
                    """)
        }
    }

    /// Each backend's measured agreement with the editors (`panel eval --save`, `quality: measured`).
    static func registerQualityMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-backend-quality") { db in
            try db.execute(
                sql: """
                    CREATE TABLE backend_quality (
                      backend TEXT PRIMARY KEY, kappa DOUBLE, agreement DOUBLE, n INTEGER NOT NULL, updated_at DOUBLE NOT NULL)
                    """)
        }
    }

    // MARK: tokens

    public func createToken(_ token: TeamToken, secretHash: String) async throws {
        try writeTransaction { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM team_token WHERE name = ? AND NOT revoked", arguments: [token.name]) == true {
                throw StoreError(path: path, problem: "a token named '\(token.name)' exists; revoke it first or choose another --name")
            }
            try db.execute(
                sql: """
                    INSERT INTO team_token (id, name, role, secret_hash, budget_usd, spent_usd, created_at, revoked, display_name)
                    VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?)
                    """,
                arguments: [
                    token.id, token.name, token.role.rawValue, secretHash, token.budgetUSD, token.createdAt.timeIntervalSince1970,
                    token.displayName,
                ])
        }
    }

    public func token(secretHash: String) async throws -> TeamToken? {
        try await pool.read { db in
            // Every request looks its token up: the statement is prepared once per connection.
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM team_token WHERE secret_hash = ?"), arguments: [secretHash]).map(
                Self.token)
        }
    }

    public func token(named name: String) async throws -> TeamToken? {
        try await pool.read { db in
            let sql = "SELECT * FROM team_token WHERE name = ? ORDER BY revoked, created_at DESC LIMIT 1"
            return try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [name]).map(Self.token)
        }
    }

    public func tokens() async throws -> [TeamToken] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM team_token ORDER BY created_at DESC, id").map(Self.token) }
    }

    public func revokeToken(_ idOrName: String) async throws -> Bool {
        try writeTransaction { db in
            try db.execute(
                sql: "UPDATE team_token SET revoked = 1 WHERE (id = ? OR name = ?) AND NOT revoked", arguments: [idOrName, idOrName])
            let changed = db.changesCount > 0
            if changed {
                try db.execute(
                    sql: "DELETE FROM team_session WHERE token_id IN (SELECT id FROM team_token WHERE id = ? OR name = ?)",
                    arguments: [idOrName, idOrName])
            }
            return changed
        }
    }

    public func addTokenSpend(id: String, usd: Double) async throws {
        guard usd.isFinite, usd > 0 else { return }
        try writeTransaction { db in
            try db.execute(sql: "UPDATE team_token SET spent_usd = spent_usd + ? WHERE id = ?", arguments: [usd, id])
        }
    }

    /// What a token's budget has left (nil: no budget; 0 for an unknown token), inside a transaction.
    static func remaining(_ db: Database, token: String) throws -> Double? {
        guard let row = try Row.fetchOne(db, sql: "SELECT budget_usd, spent_usd FROM team_token WHERE id = ?", arguments: [token]) else {
            return 0
        }
        guard let budget: Double = row["budget_usd"] else { return nil }
        return budget - (row["spent_usd"] ?? 0)
    }

    public func chargeBatch(job: String, tokenID: String, reserveUSD: Double) async throws -> Bool {
        guard reserveUSD.isFinite, reserveUSD >= 0 else { return false }
        return try writeTransaction { db in
            if let left = try Self.remaining(db, token: tokenID), reserveUSD > left + 1e-12 { return false }
            try db.execute(
                sql: "INSERT INTO team_batch_charge (job, token_id, reserved_usd) VALUES (?, ?, ?)", arguments: [job, tokenID, reserveUSD])
            try db.execute(sql: "UPDATE team_token SET spent_usd = spent_usd + ? WHERE id = ?", arguments: [reserveUSD, tokenID])
            return true
        }
    }

    public func settleBatchCharges(tokenID: String?) async throws {
        try writeTransaction { db in
            let finished = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.job, c.token_id, c.reserved_usd, IFNULL(j.spent_usd, 0) AS spent FROM team_batch_charge c
                    LEFT JOIN batch_job j ON j.name = c.job
                    WHERE NOT c.settled AND (? IS NULL OR c.token_id = ?)
                      AND NOT EXISTS (SELECT 1 FROM batch_item i WHERE i.job = c.job AND i.status = 'pending')
                    """, arguments: [tokenID, tokenID])
            for row in finished {
                let spent: Double = row["spent"] ?? 0
                let reserved: Double = row["reserved_usd"] ?? 0
                let job: String = row["job"]
                let token: String = row["token_id"]
                try db.execute(sql: "UPDATE team_batch_charge SET settled = 1 WHERE job = ?", arguments: [job])
                try db.execute(
                    sql: "UPDATE team_token SET spent_usd = MAX(0, spent_usd + ?) WHERE id = ?", arguments: [spent - reserved, token])
            }
        }
    }

    static func token(_ row: Row) -> TeamToken {
        TeamToken(
            id: row["id"], name: row["name"], role: TeamRole(rawValue: row["role"]) ?? .viewer, budgetUSD: row["budget_usd"],
            spentUSD: row["spent_usd"] ?? 0, createdAt: Date(timeIntervalSince1970: row["created_at"] ?? 0),
            revoked: row["revoked"] ?? false, displayName: row["display_name"])
    }

    // MARK: sessions

    public func createSession(_ session: TeamSession, secretHash: String) async throws {
        try writeTransaction { db in
            try db.execute(sql: "DELETE FROM team_session WHERE expires < ?", arguments: [Date().timeIntervalSince1970])
            try db.execute(
                sql: "INSERT INTO team_session (secret_hash, token_id, csrf, expires) VALUES (?, ?, ?, ?)",
                arguments: [secretHash, session.tokenID, session.csrf, session.expires.timeIntervalSince1970])
        }
    }

    public func session(secretHash: String, now: Date) async throws -> (TeamSession, TeamToken)? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT s.csrf, s.expires, t.* FROM team_session s JOIN team_token t ON t.id = s.token_id
                        WHERE s.secret_hash = ? AND s.expires > ? AND NOT t.revoked
                        """, arguments: [secretHash, now.timeIntervalSince1970])
            else { return nil }
            let token = Self.token(row)
            return (TeamSession(tokenID: token.id, csrf: row["csrf"], expires: Date(timeIntervalSince1970: row["expires"])), token)
        }
    }

    public func deleteSession(secretHash: String) async throws {
        try writeTransaction { db in try db.execute(sql: "DELETE FROM team_session WHERE secret_hash = ?", arguments: [secretHash]) }
    }

    // MARK: reviews

    public func createReview(_ review: TeamReview) async throws {
        try writeTransaction { db in try Self.insert(review, db) }
    }

    static func insert(_ review: TeamReview, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO team_review (id, created_at, token_id, created_by, status, title, title_lower, listings, verdicts, reserved_usd)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?)
                """,
            arguments: [
                review.id, review.createdAt, review.tokenID, review.createdBy, review.status.rawValue, review.title,
                review.title.lowercased(), review.listings, review.reservedUSD,
            ])
    }

    public func admitReview(_ review: TeamReview, maxUnfinished: Int) async throws -> ReviewAdmission {
        try writeTransaction { db in try Self.admit(review, maxUnfinished: maxUnfinished, db) }
    }

    static func admit(_ review: TeamReview, maxUnfinished: Int, _ db: Database) throws -> ReviewAdmission {
        do {
            let unfinished =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM team_review WHERE token_id = ? AND status IN ('queued', 'running')",
                    arguments: [review.tokenID]) ?? 0
            if unfinished >= maxUnfinished { return .tooManyUnfinished(unfinished) }
            if let left = try Self.remaining(db, token: review.tokenID), review.reservedUSD > left + 1e-12 {
                return .overBudget(remainingUSD: max(0, left))
            }
            try Self.insert(review, db)
            try db.execute(
                sql: "UPDATE team_token SET spent_usd = spent_usd + ? WHERE id = ?", arguments: [review.reservedUSD, review.tokenID])
            return .admitted
        }
    }

    public func chargeReview(id: String, costUSD: Double, releasing: Bool) async throws {
        let cost = costUSD.isFinite ? max(0, costUSD) : 0
        try writeTransaction { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT token_id, reserved_usd FROM team_review WHERE id = ?", arguments: [id])
            else { return }
            let reserved: Double = releasing ? row["reserved_usd"] ?? 0 : 0
            let token: String = row["token_id"]
            if releasing { try db.execute(sql: "UPDATE team_review SET reserved_usd = 0 WHERE id = ?", arguments: [id]) }
            try db.execute(
                sql: "UPDATE team_token SET spent_usd = MAX(0, spent_usd + ?) WHERE id = ?", arguments: [cost - reserved, token])
        }
    }

    public func updateReview(
        id: String, status: TeamReview.Status, document: String?, verdicts: [String], costUSD: Double?, error: String?
    ) async throws {
        try writeTransaction { db in
            try db.execute(
                sql: """
                    UPDATE team_review SET status = ?, document = COALESCE(?, document), verdicts = ?, cost_usd = ?, error = ?
                    WHERE id = ?
                    """,
                arguments: [status.rawValue, document, TeamVerdicts.column(verdicts), costUSD, error, id])
        }
    }

    public func review(id: String) async throws -> TeamReview? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM team_review WHERE id = ?"), arguments: [id]).map {
                Self.review($0, full: true)
            }
        }
    }

    public func reviews(query: String?, verdict: String?, limit: Int, before: TeamReview.Cursor?) async throws -> [TeamReview] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let query, !query.isEmpty {
            conditions.append("title_lower LIKE ? ESCAPE '\\'")
            _ = arguments.append(contentsOf: [TeamVerdicts.likePattern(query)])
        }
        if let verdict {
            conditions.append("verdicts LIKE ?")
            _ = arguments.append(contentsOf: ["%," + verdict + ",%"])
        }
        if let before {
            conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
            _ = arguments.append(contentsOf: [before.createdAt, before.createdAt, before.id])
        }
        let clause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        _ = arguments.append(contentsOf: [limit])
        let bound = arguments
        let sql = """
            SELECT id, created_at, token_id, created_by, status, title, verdicts, cost_usd, error FROM team_review \(clause)
            ORDER BY created_at DESC, id DESC LIMIT ?
            """
        return try await pool.read { db in try Row.fetchAll(db, sql: sql, arguments: bound).map { Self.review($0, full: false) } }
    }

    public func unfinishedReviews() async throws -> [TeamReview] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM team_review WHERE status IN ('queued', 'running') ORDER BY created_at, id").map {
                Self.review($0, full: true)
            }
        }
    }

    static func review(_ row: Row, full: Bool) -> TeamReview {
        TeamReview(
            id: row["id"], createdAt: row["created_at"], tokenID: row["token_id"], createdBy: row["created_by"],
            status: TeamReview.Status(rawValue: row["status"]) ?? .failed, title: row["title"], listings: full ? row["listings"] : "",
            document: full ? row["document"] : nil, verdicts: TeamVerdicts.list(row["verdicts"] ?? ""), costUSD: row["cost_usd"],
            error: row["error"], reservedUSD: full ? row["reserved_usd"] ?? 0 : 0)
    }

    // MARK: editor actions

    public func addEditorActions(review id: String, _ actions: [EditorAction]) async throws -> Bool {
        // JSON: Foundation both ways — an editor's action is a Codable value written and read only here.
        let encoded = try actions.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try writeTransaction { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM team_review WHERE id = ?", arguments: [id]) == true else { return false }
            let last = try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM team_review_action WHERE review_id = ?", arguments: [id]) ?? 0
            for (offset, action) in encoded.enumerated() {
                try db.execute(
                    sql: "INSERT INTO team_review_action (review_id, seq, action) VALUES (?, ?, ?)",
                    arguments: [id, last + 1 + offset, action])
            }
            return true
        }
    }

    public func saveMeasuredQualities(_ qualities: [MeasuredQuality]) async throws {
        try writeTransaction { db in
            for quality in qualities {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO backend_quality (backend, kappa, agreement, n, updated_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [quality.backend, quality.kappa, quality.agreement, quality.n, Date().timeIntervalSince1970])
            }
        }
    }

    public func measuredQualities() async throws -> [MeasuredQuality] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM backend_quality ORDER BY backend").map {
                MeasuredQuality(backend: $0["backend"], kappa: $0["kappa"], agreement: $0["agreement"], n: $0["n"])
            }
        }
    }

    public func editorActions(review id: String) async throws -> [EditorAction] {
        try await pool.read { db in
            try String.fetchAll(
                db.cachedStatement(sql: "SELECT action FROM team_review_action WHERE review_id = ? ORDER BY seq"), arguments: [id])
        }.compactMap { try? JSONDecoder().decode(EditorAction.self, from: Data($0.utf8)) }
    }
}
