public import Foundation
public import PanelEngine
import PanelKit
import PostgresNIO

/// The team server's tables on PostgreSQL: the same rows as the SQLite store's, so several `panel
/// serve` processes share tokens, sessions, reviews and editors' actions.
extension PostgresStore: TeamStore {
    static let tokenColumns = "id, name, role, budget_usd, spent_usd, created_at, revoked, display_name"
    typealias TokenRow = (String, String, String, Double?, Double, Double, Bool, String?)

    static func token(_ row: TokenRow) -> TeamToken {
        TeamToken(
            id: row.0, name: row.1, role: TeamRole(rawValue: row.2) ?? .viewer, budgetUSD: row.3, spentUSD: row.4,
            createdAt: Date(timeIntervalSince1970: row.5), revoked: row.6, displayName: row.7)
    }

    // MARK: tokens

    public func createToken(_ token: TeamToken, secretHash: String) async throws {
        let role = token.role.rawValue
        let created = token.createdAt.timeIntervalSince1970
        try await transaction { connection in
            for try await _ in try await connection.query(
                "SELECT 1 FROM team_token WHERE name = \(token.name) AND NOT revoked FOR UPDATE", logger: logger)
            {
                throw PostgresStoreError(
                    location: location, problem: "a token named '\(token.name)' exists; revoke it first or choose another --name")
            }
            _ = try await connection.query(
                """
                INSERT INTO team_token (id, name, role, secret_hash, budget_usd, created_at, display_name)
                VALUES (\(token.id), \(token.name), \(role), \(secretHash), \(token.budgetUSD), \(created), \(token.displayName))
                """, logger: logger)
        }
    }

    public func token(secretHash: String) async throws -> TeamToken? {
        let sql = PostgresQuery(
            unsafeSQL: "SELECT \(Self.tokenColumns) FROM team_token WHERE secret_hash = $1", binds: Self.binds(secretHash))
        for try await row in try await client.query(sql, logger: logger).decode(TokenRow.self) { return Self.token(row) }
        return nil
    }

    public func token(named name: String) async throws -> TeamToken? {
        let sql = PostgresQuery(
            unsafeSQL: "SELECT \(Self.tokenColumns) FROM team_token WHERE name = $1 ORDER BY revoked, created_at DESC LIMIT 1",
            binds: Self.binds(name))
        for try await row in try await client.query(sql, logger: logger).decode(TokenRow.self) { return Self.token(row) }
        return nil
    }

    public func tokens() async throws -> [TeamToken] {
        var tokens: [TeamToken] = []
        let sql = PostgresQuery(unsafeSQL: "SELECT \(Self.tokenColumns) FROM team_token ORDER BY created_at DESC, id", binds: .init())
        for try await row in try await client.query(sql, logger: logger).decode(TokenRow.self) { tokens.append(Self.token(row)) }
        return tokens
    }

    public func revokeToken(_ idOrName: String) async throws -> Bool {
        try await transaction { connection in
            var revoked: [String] = []
            for try await id in try await connection.query(
                "UPDATE team_token SET revoked = true WHERE (id = \(idOrName) OR name = \(idOrName)) AND NOT revoked RETURNING id",
                logger: logger
            ).decode(String.self) {
                revoked.append(id)
            }
            if !revoked.isEmpty {
                _ = try await connection.query("DELETE FROM team_session WHERE token_id = ANY(\(revoked))", logger: logger)
            }
            return !revoked.isEmpty
        }
    }

    public func addTokenSpend(id: String, usd: Double) async throws {
        guard usd.isFinite, usd > 0 else { return }
        _ = try await client.query("UPDATE team_token SET spent_usd = spent_usd + \(usd) WHERE id = \(id)", logger: logger)
    }

    /// What a token's budget has left (nil: no budget; 0 for an unknown token), its row locked until the
    /// transaction ends, so checks and reservations of one token take turns across servers.
    func remaining(_ connection: PostgresConnection, token: String) async throws -> Double? {
        for try await (budget, spent) in try await connection.query(
            "SELECT budget_usd, spent_usd FROM team_token WHERE id = \(token) FOR UPDATE", logger: logger
        ).decode((Double?, Double).self) {
            return budget.map { $0 - spent }
        }
        return 0
    }

    public func chargeBatch(job: String, tokenID: String, reserveUSD: Double) async throws -> Bool {
        guard reserveUSD.isFinite, reserveUSD >= 0 else { return false }
        return try await transaction { connection in
            if let left = try await remaining(connection, token: tokenID), reserveUSD > left + 1e-12 { return false }
            _ = try await connection.query(
                "INSERT INTO team_batch_charge (job, token_id, reserved_usd) VALUES (\(job), \(tokenID), \(reserveUSD))", logger: logger)
            _ = try await connection.query(
                "UPDATE team_token SET spent_usd = spent_usd + \(reserveUSD) WHERE id = \(tokenID)", logger: logger)
            return true
        }
    }

    public func settleBatchCharges(tokenID: String?) async throws {
        try await transaction { connection in
            var finished: [(String, String, Double, Double)] = []
            for try await row in try await connection.query(
                """
                SELECT c.job, c.token_id, c.reserved_usd, COALESCE(j.spent_usd, 0) FROM team_batch_charge c
                LEFT JOIN batch_job j ON j.name = c.job
                WHERE NOT c.settled AND (\(tokenID)::text IS NULL OR c.token_id = \(tokenID))
                  AND NOT EXISTS (SELECT 1 FROM batch_item i WHERE i.job = c.job AND i.status = 'pending')
                FOR UPDATE OF c SKIP LOCKED
                """, logger: logger
            ).decode((String, String, Double, Double).self) {
                finished.append(row)
            }
            for (job, token, reserved, spent) in finished {
                _ = try await connection.query("UPDATE team_batch_charge SET settled = true WHERE job = \(job)", logger: logger)
                _ = try await connection.query(
                    "UPDATE team_token SET spent_usd = GREATEST(0, spent_usd + \(spent - reserved)) WHERE id = \(token)", logger: logger)
            }
        }
    }

    // MARK: sessions

    public func createSession(_ session: TeamSession, secretHash: String) async throws {
        let expires = session.expires.timeIntervalSince1970
        let now = Date().timeIntervalSince1970
        try await transaction { connection in
            _ = try await connection.query("DELETE FROM team_session WHERE expires < \(now)", logger: logger)
            _ = try await connection.query(
                """
                INSERT INTO team_session (secret_hash, token_id, csrf, expires)
                VALUES (\(secretHash), \(session.tokenID), \(session.csrf), \(expires))
                """, logger: logger)
        }
    }

    public func session(secretHash: String, now: Date) async throws -> (TeamSession, TeamToken)? {
        let columns = Self.tokenColumns.split(separator: ",").map { "t." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
        var binds = PostgresBindings()
        binds.append(secretHash)
        binds.append(now.timeIntervalSince1970)
        let sql = PostgresQuery(
            unsafeSQL: """
                SELECT s.csrf, s.expires, \(columns) FROM team_session s JOIN team_token t ON t.id = s.token_id
                WHERE s.secret_hash = $1 AND s.expires > $2 AND NOT t.revoked
                """, binds: binds)
        for try await row in try await client.query(sql, logger: logger).decode(
            (String, Double, String, String, String, Double?, Double, Double, Bool, String?).self)
        {
            let token = Self.token((row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9))
            return (TeamSession(tokenID: token.id, csrf: row.0, expires: Date(timeIntervalSince1970: row.1)), token)
        }
        return nil
    }

    public func deleteSession(secretHash: String) async throws {
        _ = try await client.query("DELETE FROM team_session WHERE secret_hash = \(secretHash)", logger: logger)
    }

    // MARK: reviews

    static let reviewListColumns = "id, created_at, token_id, created_by, status, title, verdicts, cost_usd, error"
    typealias ReviewListRow = (String, Double, String, String, String, String, String, Double?, String?)

    static func review(_ row: ReviewListRow, listings: String = "", document: String? = nil) -> TeamReview {
        TeamReview(
            id: row.0, createdAt: row.1, tokenID: row.2, createdBy: row.3, status: TeamReview.Status(rawValue: row.4) ?? .failed,
            title: row.5, listings: listings, document: document, verdicts: TeamVerdicts.list(row.6), costUSD: row.7, error: row.8)
    }

    public func createReview(_ review: TeamReview) async throws {
        try await transaction { connection in try await insert(review, connection) }
    }

    func insert(_ review: TeamReview, _ connection: PostgresConnection) async throws {
        let status = review.status.rawValue
        let lower = review.title.lowercased()
        _ = try await connection.query(
            """
            INSERT INTO team_review (id, created_at, token_id, created_by, status, title, title_lower, listings, reserved_usd)
            VALUES (\(review.id), \(review.createdAt), \(review.tokenID), \(review.createdBy), \(status), \(review.title), \(lower), \(review.listings),
              \(review.reservedUSD))
            """, logger: logger)
    }

    public func admitReview(_ review: TeamReview, maxUnfinished: Int) async throws -> ReviewAdmission {
        try await transaction { connection in try await admit(review, maxUnfinished: maxUnfinished, connection) }
    }

    func admit(_ review: TeamReview, maxUnfinished: Int, _ connection: PostgresConnection) async throws -> ReviewAdmission {
        do {
            // The token's row is locked first: two servers admitting the same token's reviews take turns.
            let left = try await remaining(connection, token: review.tokenID)
            var unfinished = 0
            for try await count in try await connection.query(
                "SELECT COUNT(*) FROM team_review WHERE token_id = \(review.tokenID) AND status IN ('queued', 'running')", logger: logger
            ).decode(Int.self) {
                unfinished = count
            }
            if unfinished >= maxUnfinished { return .tooManyUnfinished(unfinished) }
            if let left, review.reservedUSD > left + 1e-12 { return .overBudget(remainingUSD: max(0, left)) }
            try await insert(review, connection)
            _ = try await connection.query(
                "UPDATE team_token SET spent_usd = spent_usd + \(review.reservedUSD) WHERE id = \(review.tokenID)", logger: logger)
            return .admitted
        }
    }

    public func chargeReview(id: String, costUSD: Double, releasing: Bool) async throws {
        let cost = costUSD.isFinite ? max(0, costUSD) : 0
        try await transaction { connection in
            var found: (String, Double)?
            for try await row in try await connection.query(
                "SELECT token_id, reserved_usd FROM team_review WHERE id = \(id) FOR UPDATE", logger: logger
            ).decode((String, Double).self) {
                found = row
            }
            guard let (token, held) = found else { return }
            let reserved = releasing ? held : 0
            if releasing { _ = try await connection.query("UPDATE team_review SET reserved_usd = 0 WHERE id = \(id)", logger: logger) }
            _ = try await connection.query(
                "UPDATE team_token SET spent_usd = GREATEST(0, spent_usd + \(cost - reserved)) WHERE id = \(token)", logger: logger)
        }
    }

    public func updateReview(
        id: String, status: TeamReview.Status, document: String?, verdicts: [String], costUSD: Double?, error: String?
    ) async throws {
        let status = status.rawValue
        let verdicts = TeamVerdicts.column(verdicts)
        _ = try await client.query(
            """
            UPDATE team_review SET status = \(status), document = COALESCE(\(document), document), verdicts = \(verdicts),
              cost_usd = \(costUSD), error = \(error)
            WHERE id = \(id)
            """, logger: logger)
    }

    public func review(id: String) async throws -> TeamReview? {
        let sql = PostgresQuery(
            unsafeSQL: "SELECT \(Self.reviewListColumns), listings, document, reserved_usd FROM team_review WHERE id = $1",
            binds: Self.binds(id))
        for try await row in try await client.query(sql, logger: logger).decode(
            (String, Double, String, String, String, String, String, Double?, String?, String, String?, Double).self)
        {
            var review = Self.review((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8), listings: row.9, document: row.10)
            review.reservedUSD = row.11
            return review
        }
        return nil
    }

    public func reviews(query: String?, verdict: String?, limit: Int, before: TeamReview.Cursor?) async throws -> [TeamReview] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let query, !query.isEmpty {
            binds.append(TeamVerdicts.likePattern(query))
            conditions.append("title_lower LIKE $\(binds.count) ESCAPE '\\'")
        }
        if let verdict {
            binds.append("%," + verdict + ",%")
            conditions.append("verdicts LIKE $\(binds.count)")
        }
        if let before {
            binds.append(before.createdAt)
            let time = binds.count
            binds.append(before.id)
            conditions.append("(created_at < $\(time) OR (created_at = $\(time) AND id < $\(binds.count)))")
        }
        binds.append(limit)
        let clause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = PostgresQuery(
            unsafeSQL:
                "SELECT \(Self.reviewListColumns) FROM team_review \(clause) ORDER BY created_at DESC, id DESC LIMIT $\(binds.count)",
            binds: binds)
        var reviews: [TeamReview] = []
        for try await row in try await client.query(sql, logger: logger).decode(ReviewListRow.self) { reviews.append(Self.review(row)) }
        return reviews
    }

    public func unfinishedReviews() async throws -> [TeamReview] {
        let sql = PostgresQuery(
            unsafeSQL: """
                SELECT \(Self.reviewListColumns), listings, reserved_usd FROM team_review WHERE status IN ('queued', 'running')
                ORDER BY created_at, id
                """, binds: .init())
        var reviews: [TeamReview] = []
        for try await row in try await client.query(sql, logger: logger).decode(
            (String, Double, String, String, String, String, String, Double?, String?, String, Double).self)
        {
            var review = Self.review((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8), listings: row.9)
            review.reservedUSD = row.10
            reviews.append(review)
        }
        return reviews
    }

    // MARK: editor actions

    public func addEditorActions(review id: String, _ actions: [EditorAction]) async throws -> Bool {
        // JSON: Foundation both ways — an editor's action is a Codable value written and read only here.
        let encoded = try actions.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await transaction { connection in
            // The review's row, locked, orders two editors' actions: each takes the next positions.
            var exists = false
            for try await _ in try await connection.query("SELECT 1 FROM team_review WHERE id = \(id) FOR UPDATE", logger: logger) {
                exists = true
            }
            guard exists else { return false }
            var last = 0
            for try await value in try await connection.query(
                "SELECT COALESCE(MAX(seq), 0) FROM team_review_action WHERE review_id = \(id)", logger: logger
            ).decode(Int.self) {
                last = value
            }
            for (offset, action) in encoded.enumerated() {
                let seq = last + 1 + offset
                _ = try await connection.query(
                    "INSERT INTO team_review_action (review_id, seq, action) VALUES (\(id), \(seq), \(action))", logger: logger)
            }
            return true
        }
    }

    public func saveMeasuredQualities(_ qualities: [MeasuredQuality]) async throws {
        let now = Date().timeIntervalSince1970
        try await transaction { connection in
            for quality in qualities {
                _ = try await connection.query(
                    """
                    INSERT INTO backend_quality (backend, kappa, agreement, n, updated_at)
                    VALUES (\(quality.backend), \(quality.kappa), \(quality.agreement), \(quality.n), \(now))
                    ON CONFLICT (backend) DO UPDATE SET kappa = EXCLUDED.kappa, agreement = EXCLUDED.agreement, n = EXCLUDED.n,
                      updated_at = EXCLUDED.updated_at
                    """, logger: logger)
            }
        }
    }

    public func measuredQualities() async throws -> [MeasuredQuality] {
        var qualities: [MeasuredQuality] = []
        let sql = PostgresQuery(unsafeSQL: "SELECT backend, kappa, agreement, n FROM backend_quality ORDER BY backend", binds: .init())
        for try await (backend, kappa, agreement, n) in try await client.query(sql, logger: logger).decode(
            (String, Double?, Double?, Int).self)
        {
            qualities.append(MeasuredQuality(backend: backend, kappa: kappa, agreement: agreement, n: n))
        }
        return qualities
    }

    public func editorActions(review id: String) async throws -> [EditorAction] {
        var actions: [EditorAction] = []
        for try await text in try await client.query(
            "SELECT action FROM team_review_action WHERE review_id = \(id) ORDER BY seq", logger: logger
        ).decode(String.self) {
            if let action = try? JSONDecoder().decode(EditorAction.self, from: Data(text.utf8)) { actions.append(action) }
        }
        return actions
    }
}
