import Foundation
import GRDB
public import PanelEngine

/// Reviews asked of the team server as jobs on the queue (``TeamReview/jobPrefix``): admitted and
/// enqueued in one step, ended under their lease in one step, and their events kept in a log any
/// process reads (this process's readers woken at once; another process's within its wait).
extension PanelStore {
    static func registerReviewJobMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v11-review-jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE team_review_event (
                      review_id TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
                      PRIMARY KEY (review_id, seq)) WITHOUT ROWID;
                    CREATE TABLE team_review_event_expiry (review_id TEXT PRIMARY KEY, expires DOUBLE NOT NULL);
                    CREATE INDEX team_review_event_expiry_by_time ON team_review_event_expiry (expires);
                    """)
        }
    }

    public func admitReview(_ review: TeamReview, settings: String, maxUnfinished: Int) async throws -> ReviewAdmission {
        let admission = try writeTransaction { db -> ReviewAdmission in
            let admission = try Self.admit(review, maxUnfinished: maxUnfinished, db)
            guard admission == .admitted else { return admission }
            try db.execute(
                sql: "INSERT INTO batch_job (name, created_at, settings, budget_usd) VALUES (?, \(Self.now), ?, NULL)",
                arguments: [review.job, settings])
            try db.execute(
                sql: """
                    INSERT INTO batch_item (job, key, name, status, documents, listing, position, attempts, updated_at, trace)
                    VALUES (?, ?, ?, 'pending', '[]', ?, 0, 0, \(Self.now), ?)
                    """, arguments: [review.job, TeamReview.itemKey, review.title, review.listings, review.trace])
            return admission
        }
        if admission == .admitted { work.bump() }
        return admission
    }

    public func finishReview(_ claim: ItemClaim, _ completion: ReviewCompletion) async throws -> Bool {
        let held = try writeTransaction { db -> Bool in
            guard try Self.holds(db, claim, saving: completion.lastResult) else { return false }
            try Self.writeItem(
                db, job: claim.job, key: claim.key, name: nil, status: completion.status == .done ? .complete : .failed,
                error: completion.error, documents: [], outcome: .init(costUSD: completion.costUSD), position: nil)
            try Self.endReview(db, completion)
            return true
        }
        if held { reviewEventsAppended.bump(completion.review) }
        return held
    }

    /// How long a finished review's event log is kept for readers still catching up (then its document
    /// is what a late reader replays).
    static let finishedEventsKept = 120.0

    /// The review's row ended (its status, document, verdicts, cost; its token charged what it cost and
    /// its reservation given back), its last events appended, and the logs of reviews that ended a while
    /// ago dropped. `costUSD` nil: what its saved results cost.
    static func endReview(_ db: Database, _ completion: ReviewCompletion) throws {
        let id = completion.review
        guard let row = try Row.fetchOne(db, sql: "SELECT token_id, reserved_usd FROM team_review WHERE id = ?", arguments: [id]) else {
            return
        }
        let cost =
            try completion.costUSD
            ?? Double.fetchOne(db, sql: "SELECT IFNULL(SUM(cost_usd), 0) FROM batch_result WHERE job = ?", arguments: [TeamReview.job(id)])
            ?? 0
        let charge = cost.isFinite ? max(0, cost) : 0
        try db.execute(
            sql: """
                UPDATE team_review SET status = ?, document = COALESCE(?, document), verdicts = ?, cost_usd = ?, error = ?, reserved_usd = 0
                WHERE id = ?
                """,
            arguments: [
                completion.status.rawValue, completion.document, TeamVerdicts.column(completion.verdicts), cost, completion.error, id,
            ])
        try db.execute(
            sql: "UPDATE team_token SET spent_usd = MAX(0, spent_usd + ?) WHERE id = ?",
            arguments: [charge - (row["reserved_usd"] ?? 0), row["token_id"] as String])
        try append(db, review: id, completion.events)
        let now = try Double.fetchOne(db.cachedStatement(sql: "SELECT \(epoch)")) ?? 0
        try db.execute(
            sql: """
                DELETE FROM team_review_event WHERE review_id IN (SELECT review_id FROM team_review_event_expiry WHERE expires < ?);
                DELETE FROM team_review_event_expiry WHERE expires < ?;
                INSERT OR REPLACE INTO team_review_event_expiry (review_id, expires) VALUES (?, ?);
                """, arguments: [now, now, id, now + finishedEventsKept])
    }

    static func append(_ db: Database, review: String, _ events: [ReviewEventRecord]) throws {
        guard !events.isEmpty else { return }
        let last =
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT IFNULL(MAX(seq), 0) FROM team_review_event WHERE review_id = ?"), arguments: [review]) ?? 0
        let insert = try db.cachedStatement(sql: "INSERT INTO team_review_event (review_id, seq, name, data) VALUES (?, ?, ?, ?)")
        for (offset, event) in events.enumerated() {
            try insert.execute(arguments: [review, last + 1 + offset, event.name, event.data])
        }
    }

    public func appendReviewEvents(review: String, _ events: [ReviewEventRecord]) async throws {
        guard !events.isEmpty else { return }
        try writeTransaction { db in try Self.append(db, review: review, events) }
        reviewEventsAppended.bump(review)
    }

    public func reviewEvents(review: String, after seq: Int, limit: Int) async throws -> [ReviewEventRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT seq, name, data FROM team_review_event WHERE review_id = ? AND seq > ? ORDER BY seq LIMIT ?"),
                arguments: [review, seq, limit]
            ).map { ReviewEventRecord(seq: $0["seq"], name: $0["name"], data: $0["data"]) }
        }
    }

    /// This process's appends wake at once; another process's are seen after `timeout`.
    public func waitForReviewEvents(review: String, timeout: Duration) async {
        await reviewEventsAppended.wait(for: review, timeout: timeout)
    }
}
