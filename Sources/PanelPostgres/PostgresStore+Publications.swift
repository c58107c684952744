public import Foundation
public import PanelEngine
public import PanelKit
import PostgresNIO

/// Published reviews and readers' community votes on PostgreSQL (the same rows as the SQLite store's).
extension PostgresStore {
    // MARK: publications

    static let publicationColumns = "slug, review_id, published_at, updated_at, voting_open"
    typealias PublicationRow = (String, String, Double, Double, Bool)

    static func publication(_ row: PublicationRow) -> Publication {
        Publication(
            slug: row.0, review: row.1, publishedAt: Date(timeIntervalSince1970: row.2), updatedAt: Date(timeIntervalSince1970: row.3),
            votingOpen: row.4)
    }

    public func publish(review id: String, base: String, at: Date) async throws -> Publication {
        let time = at.timeIntervalSince1970
        return try await transaction { connection in
            // Publications are taken one at a time, so two reviews of the same tool get base and base-2.
            _ = try await connection.query("LOCK TABLE team_publication IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            for try await row in try await connection.query(
                "SELECT slug, review_id, published_at, updated_at, voting_open FROM team_publication WHERE review_id = \(id)",
                logger: logger
            ).decode(PublicationRow.self) {
                return Self.publication(row)
            }
            var slug = base
            var n = 1
            while true {
                var taken = false
                for try await _ in try await connection.query("SELECT 1 FROM team_publication WHERE slug = \(slug)", logger: logger) {
                    taken = true
                }
                if !taken { break }
                n += 1
                slug = "\(base)-\(n)"
            }
            _ = try await connection.query(
                """
                INSERT INTO team_publication (slug, review_id, published_at, updated_at, voting_open)
                VALUES (\(slug), \(id), \(time), \(time), true)
                """, logger: logger)
            return Publication(slug: slug, review: id, publishedAt: at, updatedAt: at)
        }
    }

    public func unpublish(review id: String) async throws -> Bool {
        var removed = false
        for try await _ in try await client.query("DELETE FROM team_publication WHERE review_id = \(id) RETURNING slug", logger: logger) {
            removed = true
        }
        return removed
    }

    public func publication(slug: String) async throws -> Publication? {
        let sql = PostgresQuery(
            unsafeSQL: "SELECT \(Self.publicationColumns) FROM team_publication WHERE slug = $1", binds: Self.binds(slug))
        for try await row in try await client.query(sql, logger: logger).decode(PublicationRow.self) { return Self.publication(row) }
        return nil
    }

    public func publication(review id: String) async throws -> Publication? {
        let sql = PostgresQuery(
            unsafeSQL: "SELECT \(Self.publicationColumns) FROM team_publication WHERE review_id = $1", binds: Self.binds(id))
        for try await row in try await client.query(sql, logger: logger).decode(PublicationRow.self) { return Self.publication(row) }
        return nil
    }

    public func publications(limit: Int) async throws -> [Publication] {
        var binds = PostgresBindings()
        binds.append(max(0, limit))
        let sql = PostgresQuery(
            unsafeSQL: "SELECT \(Self.publicationColumns) FROM team_publication ORDER BY published_at DESC, slug LIMIT $1", binds: binds)
        var publications: [Publication] = []
        for try await row in try await client.query(sql, logger: logger).decode(PublicationRow.self) {
            publications.append(Self.publication(row))
        }
        return publications
    }

    public func setVoting(review id: String, open: Bool, at: Date) async throws -> Bool {
        let time = at.timeIntervalSince1970
        var changed = false
        for try await _ in try await client.query(
            "UPDATE team_publication SET voting_open = \(open), updated_at = \(time) WHERE review_id = \(id) RETURNING slug", logger: logger
        ) {
            changed = true
        }
        return changed
    }

    // MARK: community votes

    public func vote(_ vote: CommunityVote, limitPerNetworkHour: Int) async throws -> VoteOutcome {
        let at = vote.at.timeIntervalSince1970
        let verdict = vote.verdict.rawValue
        return try await transaction { connection in
            var open: Bool?
            // The publication's row, locked: votes on one page are counted one at a time.
            for try await value in try await connection.query(
                "SELECT voting_open FROM team_publication WHERE review_id = \(vote.review) FOR UPDATE", logger: logger
            ).decode(Bool.self) {
                open = value
            }
            guard let open else { return .notPublished }
            guard open else { return .closed }
            // The network's votes are counted under a lock on its hash, so servers sharing the store hold one limit.
            _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(vote.network)))", logger: logger)
            var earlier: String?
            for try await value in try await connection.query(
                "SELECT verdict FROM team_vote WHERE review_id = \(vote.review) AND tool = \(vote.tool) AND reader = \(vote.reader)",
                logger: logger
            ).decode(String.self) {
                earlier = value
            }
            if earlier == nil {
                let since = at - 3_600
                var recent = 0
                for try await count in try await connection.query(
                    "SELECT COUNT(*) FROM team_vote WHERE network = \(vote.network) AND voted_at > \(since)", logger: logger
                ).decode(Int.self) {
                    recent = count
                }
                if recent >= limitPerNetworkHour { return .networkLimit }
            }
            _ = try await connection.query(
                """
                INSERT INTO team_vote (review_id, tool, reader, verdict, network, voted_at)
                VALUES (\(vote.review), \(vote.tool), \(vote.reader), \(verdict), \(vote.network), \(at))
                ON CONFLICT (review_id, tool, reader) DO UPDATE SET verdict = excluded.verdict
                """, logger: logger)
            let counts = try await Self.counts(connection, review: vote.review, logger: logger)
            return .counted(counts[vote.tool] ?? CommunityVotes(), changed: earlier != nil)
        }
    }

    static func counts(_ connection: PostgresConnection, review: String, logger: Logger) async throws -> [String: CommunityVotes] {
        var counts: [String: CommunityVotes] = [:]
        for try await (tool, verdict, n) in try await connection.query(
            "SELECT tool, verdict, COUNT(*)::bigint FROM team_vote WHERE review_id = \(review) GROUP BY tool, verdict", logger: logger
        ).decode((String, String, Int).self) {
            var votes = counts[tool] ?? CommunityVotes()
            votes.readers += n
            if verdict == "ship" { votes.ship += n } else { votes.skip += n }
            counts[tool] = votes
        }
        return counts
    }

    public func voteCounts(review id: String) async throws -> [String: CommunityVotes] {
        try await client.withConnection { connection in try await Self.counts(connection, review: id, logger: self.logger) }
    }

    public func purgeVotes(network: String?, since: Date?, until: Date?) async throws -> Int {
        let (from, to) = (since?.timeIntervalSince1970, until?.timeIntervalSince1970)
        var removed = 0
        for try await _ in try await client.query(
            """
            DELETE FROM team_vote WHERE (\(network)::text IS NULL OR network = \(network))
              AND (\(from)::double precision IS NULL OR voted_at >= \(from)) AND (\(to)::double precision IS NULL OR voted_at < \(to))
            RETURNING reader
            """, logger: logger)
        {
            removed += 1
        }
        return removed
    }

    public func secret(_ name: String, make: @Sendable () -> String) async throws -> String {
        let value = make()
        _ = try await client.query(
            "INSERT INTO team_secret (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO NOTHING", logger: logger)
        for try await stored in try await client.query("SELECT value FROM team_secret WHERE name = \(name)", logger: logger).decode(
            String.self)
        {
            return stored
        }
        return value
    }
}
