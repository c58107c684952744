import Foundation
public import PanelEngine
import PostgresNIO

/// Reviews asked of the team server as jobs on the queue (``TeamReview/jobPrefix``): admitted and
/// enqueued in one transaction, ended under their lease in one, and their events kept in a log every
/// server reads, woken by `NOTIFY`.
extension PostgresStore {
    /// The channel readers of reviews' events listen on.
    static let reviewEventsChannel = "panel_review_events"

    /// How long a finished review's event log is kept for readers still catching up.
    static let finishedEventsKept = 120.0

    public func admitReview(_ review: TeamReview, settings: String, maxUnfinished: Int) async throws -> ReviewAdmission {
        try await transaction { connection in
            let admission = try await admit(review, maxUnfinished: maxUnfinished, connection)
            guard admission == .admitted else { return admission }
            _ = try await connection.query(
                "INSERT INTO batch_job (name, settings, budget_usd) VALUES (\(review.job), \(settings), NULL)", logger: logger)
            _ = try await connection.query(
                """
                INSERT INTO batch_item (job, key, name, status, documents, listing, position, attempts, updated_at, trace)
                VALUES (\(review.job), \(TeamReview.itemKey), \(review.title), 'pending', '[]', \(review.listings), 0, 0, clock_timestamp(),
                  \(review.trace))
                """, logger: logger)
            _ = try await connection.query("SELECT pg_notify(\(Self.queueChannel), \(review.job))", logger: logger)
            return admission
        }
    }

    public func finishReview(_ claim: ItemClaim, _ completion: ReviewCompletion) async throws -> Bool {
        try await transaction { connection in
            var held = false
            for try await count in try await connection.execute(
                SaveStatement(completion.lastResult, claim: claim, settling: nil), logger: logger)
            {
                held = count > 0
            }
            guard held else { return false }
            try await writeItem(
                connection, job: claim.job, key: claim.key, name: nil, status: completion.status == .done ? .complete : .failed,
                error: completion.error, documents: [], outcome: .init(costUSD: completion.costUSD), position: nil)
            try await endReview(connection, completion)
            return true
        }
    }

    /// The review's row ended (status, document, verdicts, cost; its token charged what it cost, its
    /// reservation given back), its last events appended, and the logs of reviews that ended a while ago
    /// dropped. `costUSD` nil: what its saved results cost.
    func endReview(_ connection: PostgresConnection, _ completion: ReviewCompletion) async throws {
        let id = completion.review
        var found: (String, Double)?
        for try await row in try await connection.query(
            "SELECT token_id, reserved_usd FROM team_review WHERE id = \(id) FOR UPDATE", logger: logger
        ).decode((String, Double).self) {
            found = row
        }
        guard let (token, reserved) = found else { return }
        var cost = completion.costUSD ?? 0
        if completion.costUSD == nil {
            for try await value in try await connection.query(
                "SELECT COALESCE(SUM(cost_usd), 0)::double precision FROM batch_result WHERE job = \(TeamReview.job(id))", logger: logger
            ).decode(Double.self) {
                cost = value
            }
        }
        let charge = cost.isFinite ? max(0, cost) : 0
        let verdicts = TeamVerdicts.column(completion.verdicts)
        _ = try await connection.query(
            """
            UPDATE team_review SET status = \(completion.status.rawValue), document = COALESCE(\(completion.document), document),
              verdicts = \(verdicts), cost_usd = \(cost), error = \(completion.error), reserved_usd = 0
            WHERE id = \(id)
            """, logger: logger)
        _ = try await connection.query(
            "UPDATE team_token SET spent_usd = GREATEST(0, spent_usd + \(charge - reserved)) WHERE id = \(token)", logger: logger)
        try await append(connection, review: id, completion.events)
        _ = try await connection.query(
            """
            WITH expired AS (
              DELETE FROM team_review_event_expiry WHERE expires < \(unescaped: Self.epoch) RETURNING review_id
            )
            DELETE FROM team_review_event WHERE review_id IN (SELECT review_id FROM expired)
            """, logger: logger)
        _ = try await connection.query(
            """
            INSERT INTO team_review_event_expiry (review_id, expires) VALUES (\(id), \(unescaped: Self.epoch) + \(Self.finishedEventsKept))
            ON CONFLICT (review_id) DO UPDATE SET expires = excluded.expires
            """, logger: logger)
    }

    /// Appends under the review's row lock (two writers of one review take turns) and notifies readers.
    func append(_ connection: PostgresConnection, review: String, _ events: [ReviewEventRecord]) async throws {
        guard !events.isEmpty else { return }
        _ = try await connection.query("SELECT 1 FROM team_review WHERE id = \(review) FOR UPDATE", logger: logger)
        var last = 0
        for try await value in try await connection.query(
            "SELECT COALESCE(MAX(seq), 0) FROM team_review_event WHERE review_id = \(review)", logger: logger
        ).decode(Int.self) {
            last = value
        }
        let seqs = events.indices.map { last + 1 + $0 }
        let names = events.map(\.name)
        let data = events.map(\.data)
        _ = try await connection.query(
            """
            INSERT INTO team_review_event (review_id, seq, name, data)
            SELECT \(review), s, n, d FROM unnest(\(seqs)::bigint[], \(names)::text[], \(data)::text[]) AS e(s, n, d)
            """, logger: logger)
        _ = try await connection.query("SELECT pg_notify(\(Self.reviewEventsChannel), \(review))", logger: logger)
    }

    public func appendReviewEvents(review: String, _ events: [ReviewEventRecord]) async throws {
        guard !events.isEmpty else { return }
        try await transaction { connection in try await append(connection, review: review, events) }
    }

    public func reviewEvents(review: String, after seq: Int, limit: Int) async throws -> [ReviewEventRecord] {
        var events: [ReviewEventRecord] = []
        for try await (seq, name, data) in try await client.query(
            "SELECT seq, name, data FROM team_review_event WHERE review_id = \(review) AND seq > \(seq) ORDER BY seq LIMIT \(limit)",
            logger: logger
        ).decode((Int, String, String).self) {
            events.append(ReviewEventRecord(seq: seq, name: name, data: data))
        }
        return events
    }

    /// Woken by `NOTIFY` from any process (a connection of its own `LISTEN`s); `timeout` covers a lost
    /// connection.
    public func waitForReviewEvents(review: String, timeout: Duration) async {
        await reviewListener.wait(for: review, timeout: timeout)
    }
}
