public import Foundation
import GRDB
public import PanelEngine
public import PanelKit

/// Published reviews and readers' community votes (with the keys that sign readers' cookies and forms).
extension PanelStore {
    /// Published reviews, and the public name a token's approvals are shown under.
    static func registerPublicationMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v12-publications") { db in
            try db.execute(
                sql: """
                    ALTER TABLE team_token ADD COLUMN display_name TEXT;
                    CREATE TABLE team_publication (
                      slug TEXT PRIMARY KEY, review_id TEXT NOT NULL UNIQUE REFERENCES team_review(id) ON DELETE CASCADE,
                      published_at DOUBLE NOT NULL, updated_at DOUBLE NOT NULL, voting_open BOOLEAN NOT NULL DEFAULT 1);
                    CREATE INDEX team_publication_newest ON team_publication (published_at DESC, slug);
                    CREATE TABLE team_vote (
                      review_id TEXT NOT NULL, tool TEXT NOT NULL, reader TEXT NOT NULL, verdict TEXT NOT NULL,
                      network TEXT NOT NULL, voted_at DOUBLE NOT NULL, PRIMARY KEY (review_id, tool, reader)) WITHOUT ROWID;
                    CREATE INDEX team_vote_network ON team_vote (network, voted_at);
                    CREATE TABLE team_secret (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                    """)
        }
    }

    // MARK: publications

    static func publication(_ row: Row) -> Publication {
        Publication(
            slug: row["slug"], review: row["review_id"], publishedAt: Date(timeIntervalSince1970: row["published_at"]),
            updatedAt: Date(timeIntervalSince1970: row["updated_at"]), votingOpen: row["voting_open"])
    }

    public func publish(review id: String, base: String, at: Date) async throws -> Publication {
        try writeTransaction { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM team_publication WHERE review_id = ?", arguments: [id]) {
                return Self.publication(row)
            }
            var slug = base
            var n = 1
            while try Bool.fetchOne(db, sql: "SELECT 1 FROM team_publication WHERE slug = ?", arguments: [slug]) == true {
                n += 1
                slug = "\(base)-\(n)"
            }
            try db.execute(
                sql: "INSERT INTO team_publication (slug, review_id, published_at, updated_at, voting_open) VALUES (?, ?, ?, ?, 1)",
                arguments: [slug, id, at.timeIntervalSince1970, at.timeIntervalSince1970])
            return Publication(slug: slug, review: id, publishedAt: at, updatedAt: at)
        }
    }

    public func unpublish(review id: String) async throws -> Bool {
        try writeTransaction { db in
            try db.execute(sql: "DELETE FROM team_publication WHERE review_id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func publication(slug: String) async throws -> Publication? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM team_publication WHERE slug = ?"), arguments: [slug]).map(
                Self.publication)
        }
    }

    public func publication(review id: String) async throws -> Publication? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM team_publication WHERE review_id = ?", arguments: [id]).map(Self.publication)
        }
    }

    public func publications(limit: Int) async throws -> [Publication] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM team_publication ORDER BY published_at DESC, slug LIMIT ?", arguments: [max(0, limit)]
            ).map(Self.publication)
        }
    }

    public func setVoting(review id: String, open: Bool, at: Date) async throws -> Bool {
        try writeTransaction { db in
            try db.execute(
                sql: "UPDATE team_publication SET voting_open = ?, updated_at = ? WHERE review_id = ?",
                arguments: [open, at.timeIntervalSince1970, id])
            return db.changesCount > 0
        }
    }

    // MARK: community votes

    public func vote(_ vote: CommunityVote, limitPerNetworkHour: Int) async throws -> VoteOutcome {
        try writeTransaction { db in
            guard
                let open = try Bool.fetchOne(
                    db, sql: "SELECT voting_open FROM team_publication WHERE review_id = ?", arguments: [vote.review])
            else { return .notPublished }
            guard open else { return .closed }
            let at = vote.at.timeIntervalSince1970
            let earlier = try String.fetchOne(
                db, sql: "SELECT verdict FROM team_vote WHERE review_id = ? AND tool = ? AND reader = ?",
                arguments: [vote.review, vote.tool, vote.reader])
            if earlier == nil {
                let recent =
                    try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM team_vote WHERE network = ? AND voted_at > ?", arguments: [vote.network, at - 3_600])
                    ?? 0
                if recent >= limitPerNetworkHour { return .networkLimit }
            }
            try db.execute(
                sql: """
                    INSERT INTO team_vote (review_id, tool, reader, verdict, network, voted_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (review_id, tool, reader) DO UPDATE SET verdict = excluded.verdict
                    """,
                arguments: [vote.review, vote.tool, vote.reader, vote.verdict.rawValue, vote.network, at])
            return .counted(try Self.counts(db, review: vote.review)[vote.tool] ?? CommunityVotes(), changed: earlier != nil)
        }
    }

    static func counts(_ db: Database, review: String) throws -> [String: CommunityVotes] {
        var counts: [String: CommunityVotes] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT tool, verdict, COUNT(*) AS n FROM team_vote WHERE review_id = ? GROUP BY tool, verdict", arguments: [review])
        {
            let n: Int = row["n"]
            var tool = counts[row["tool"]] ?? CommunityVotes()
            tool.readers += n
            if (row["verdict"] as String) == "ship" { tool.ship += n } else { tool.skip += n }
            counts[row["tool"]] = tool
        }
        return counts
    }

    public func voteCounts(review id: String) async throws -> [String: CommunityVotes] {
        try await pool.read { db in try Self.counts(db, review: id) }
    }

    public func purgeVotes(network: String?, since: Date?, until: Date?) async throws -> Int {
        try writeTransaction { db in
            try db.execute(
                sql: """
                    DELETE FROM team_vote WHERE (?1 IS NULL OR network = ?1) AND (?2 IS NULL OR voted_at >= ?2) AND (?3 IS NULL OR voted_at < ?3)
                    """,
                arguments: [network, since?.timeIntervalSince1970, until?.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func secret(_ name: String, make: @Sendable () -> String) async throws -> String {
        if let value = try await pool.read({ db in
            try String.fetchOne(db, sql: "SELECT value FROM team_secret WHERE name = ?", arguments: [name])
        }) {
            return value
        }
        return try writeTransaction { db in
            try db.execute(sql: "INSERT OR IGNORE INTO team_secret (name, value) VALUES (?, ?)", arguments: [name, make()])
            return try String.fetchOne(db, sql: "SELECT value FROM team_secret WHERE name = ?", arguments: [name]) ?? ""
        }
    }
}
