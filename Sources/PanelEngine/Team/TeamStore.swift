public import Foundation
public import PanelKit

/// What the team server (`panel serve`) keeps in the store: API tokens (hashed), browser sessions
/// (hashed), reviews asked for over HTTP with their documents, and editors' actions on them. Both
/// stores implement it, so several servers sharing a PostgreSQL store share tokens, sessions and
/// history. Every method is one atomic step.
public protocol TeamStore: Sendable {
    // MARK: Tokens

    /// Keeps a new token under the hash of its secret (the secret itself is never stored).
    func createToken(_ token: TeamToken, secretHash: String) async throws
    /// The token whose secret hashes to `secretHash` (revoked ones too: the caller says why it refuses).
    func token(secretHash: String) async throws -> TeamToken?
    /// Every token, newest first.
    func tokens() async throws -> [TeamToken]
    /// The token with this name: the live one (names are unique among live tokens), else the newest revoked
    /// one — who approved a review stays named after their token is revoked.
    func token(named name: String) async throws -> TeamToken?
    /// Revokes the token with this id or name; false when there is none (or it was revoked already).
    func revokeToken(_ idOrName: String) async throws -> Bool
    /// Adds to a token's spend.
    func addTokenSpend(id: String, usd: Double) async throws
    /// Reserves `usd` of a token's budget for a batch it asked for (the batch's own budget, the most it
    /// can spend), in one step: false, and nothing changed, when the token's budget has less left. The
    /// reservation counts as spent until ``settleBatchCharges(tokenID:)`` finds the batch finished.
    func chargeBatch(job: String, tokenID: String, reserveUSD: Double) async throws -> Bool
    /// For each batch charged to a token (to `tokenID`, or to any) that has no listing left to work: its
    /// reservation is replaced by what the batch spent. Idempotent; any process may call it.
    func settleBatchCharges(tokenID: String?) async throws

    // MARK: Sessions (the web page's sign-in)

    func createSession(_ session: TeamSession, secretHash: String) async throws
    /// A live session (not expired, its token not revoked) and its token.
    func session(secretHash: String, now: Date) async throws -> (TeamSession, TeamToken)?
    func deleteSession(secretHash: String) async throws

    // MARK: Reviews

    func createReview(_ review: TeamReview) async throws
    /// Keeps a new review when its token may have it, in one step with the checks: at most `maxUnfinished`
    /// of the token's reviews queued or running, and the review's `reservedUSD` within what the token's
    /// budget has left — then reserved (counted as spent until ``chargeReview(id:costUSD:releasing:)``).
    func admitReview(_ review: TeamReview, maxUnfinished: Int) async throws -> ReviewAdmission
    /// Charges what a review cost to its token. `releasing`: the review is finished, so its reservation
    /// is given back (the cost replaces it); otherwise it goes back to the queue and keeps it.
    func chargeReview(id: String, costUSD: Double, releasing: Bool) async throws
    /// Records a review's progress or outcome; `document` is its v1 JSON once done.
    func updateReview(
        id: String, status: TeamReview.Status, document: String?, verdicts: [String], costUSD: Double?, error: String?
    ) async throws
    func review(id: String) async throws -> TeamReview?
    /// Reviews newest first, without their listings and documents: `query` matches tool names (case
    /// insensitive), `verdict` any tool's panel verdict; `before` continues a page.
    func reviews(query: String?, verdict: String?, limit: Int, before: TeamReview.Cursor?) async throws -> [TeamReview]
    /// Reviews queued or running (a server that stopped mid-review takes them up again).
    func unfinishedReviews() async throws -> [TeamReview]

    /// Appends editors' actions to a review; false when there is no such review.
    func addEditorActions(review id: String, _ actions: [EditorAction]) async throws -> Bool
    /// A review's editor actions in the order they were made.
    func editorActions(review id: String) async throws -> [EditorAction]

    // MARK: Publications

    /// Publishes a review at a slug of its own — `base`, else `base-2`, `base-3`… — in one step; a review
    /// published already keeps its slug (and its publication is returned as it is).
    func publish(review id: String, base: String, at: Date) async throws -> Publication
    /// Unpublishes a review (its votes stay, for if it is published again); false when it was not published.
    func unpublish(review id: String) async throws -> Bool
    func publication(slug: String) async throws -> Publication?
    func publication(review id: String) async throws -> Publication?
    /// Published reviews, most recently published first.
    func publications(limit: Int) async throws -> [Publication]
    /// Opens or closes voting on a published review; false when it is not published.
    func setVoting(review id: String, open: Bool, at: Date) async throws -> Bool

    // MARK: Community votes

    /// Counts a reader's vote on a tool of a published review, in one step with its checks: the review is
    /// published with voting open; a reader's second vote on a tool replaces the first; a new vote from a
    /// network that has cast `limitPerNetworkHour` in the hour before `vote.at` is refused.
    func vote(_ vote: CommunityVote, limitPerNetworkHour: Int) async throws -> VoteOutcome
    /// Each tool's votes on a review (tools nobody voted on are absent).
    func voteCounts(review id: String) async throws -> [String: CommunityVotes]
    /// Removes votes from a network (its hash) and/or cast within a time window; how many were removed.
    func purgeVotes(network: String?, since: Date?, until: Date?) async throws -> Int
    /// A secret kept in the store under `name`, made by `make` the first time (one value for every server
    /// sharing the store): the keys of readers' cookies, vote forms and network hashes.
    func secret(_ name: String, make: @Sendable () -> String) async throws -> String

    // MARK: Measured quality

    /// Keeps each backend's latest agreement with the editors (`panel eval --save`).
    func saveMeasuredQualities(_ qualities: [MeasuredQuality]) async throws
    func measuredQualities() async throws -> [MeasuredQuality]
}

/// Whether a review was kept, and if not why.
public enum ReviewAdmission: Sendable, Hashable {
    case admitted
    /// The token's budget has less than the review's ceiling left.
    case overBudget(remainingUSD: Double)
    /// The token has this many reviews queued or running already.
    case tooManyUnfinished(Int)
}

/// What a token may do. Each role can do everything the ones before it can.
public enum TeamRole: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Reads reviews, documents and history.
    case viewer
    /// Also creates reviews and edits, overrides and approves them.
    case editor
    /// Also runs batches and manages tokens.
    case admin

    public static func < (a: TeamRole, b: TeamRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An API token as the store keeps it: who, what role, what it has spent, never the secret.
public struct TeamToken: Sendable, Hashable, Codable {
    /// A public id (`tok_…`) for lists and revocation; the secret is `panel_<id>_<random>`.
    public var id: String
    public var name: String
    public var role: TeamRole
    public var budgetUSD: Double?
    public var spentUSD: Double
    public var createdAt: Date
    public var revoked: Bool
    /// The name a published page shows for its approving editor (`--display-name`); none: the page names
    /// the publication.
    public var displayName: String?

    public init(
        id: String, name: String, role: TeamRole, budgetUSD: Double?, spentUSD: Double = 0, createdAt: Date, revoked: Bool = false,
        displayName: String? = nil
    ) {
        self.displayName = displayName
        self.id = id
        self.name = name
        self.role = role
        self.budgetUSD = budgetUSD
        self.spentUSD = spentUSD
        self.createdAt = createdAt
        self.revoked = revoked
    }

    /// True when the token's budget is spent (a token without a budget never is).
    public var budgetSpent: Bool { budgetUSD.map { spentUSD >= $0 } ?? false }
}

/// A signed-in browser: the session cookie's secret is hashed in the store; `csrf` is the value every
/// form and script request of the session must carry.
public struct TeamSession: Sendable, Hashable {
    public var tokenID: String
    public var csrf: String
    public var expires: Date

    public init(tokenID: String, csrf: String, expires: Date) {
        self.tokenID = tokenID
        self.csrf = csrf
        self.expires = expires
    }
}

/// A review asked for over HTTP: its listings, its progress, and its document once done.
public struct TeamReview: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case queued, running, done, failed
    }

    /// Where a page of history ends: the next page starts after it.
    public struct Cursor: Sendable, Hashable {
        public var createdAt: Double
        public var id: String

        public init(createdAt: Double, id: String) {
            self.createdAt = createdAt
            self.id = id
        }

        /// `1732960000.123-r_abc…` in a URL.
        public var token: String { "\(createdAt)-\(id)" }

        public init?(token: String) {
            guard let dash = token.firstIndex(of: "-"), let time = Double(token[..<dash]), time.isFinite else { return nil }
            let id = String(token[token.index(after: dash)...])
            guard !id.isEmpty, id.count <= 64 else { return nil }
            self.init(createdAt: time, id: id)
        }
    }

    public var id: String
    /// Seconds since 1970 (a fraction keeps the order of reviews made in one second).
    public var createdAt: Double
    /// The token that asked for it (its id) and its name, for the history.
    public var tokenID: String
    public var createdBy: String
    public var status: Status
    /// "A vs B": the tools' names.
    public var title: String
    /// The listings as JSON (``Listing`` array); empty in history lists.
    public var listings: String
    /// The v1 JSON document once done; nil before, and in history lists.
    public var document: String?
    /// Each tool's panel verdict once done.
    public var verdicts: [String]
    public var costUSD: Double?
    public var error: String?
    /// What the review holds of its token's budget until it is charged (its spend ceiling).
    public var reservedUSD: Double
    /// The trace of the request that asked for it (a W3C `traceparent`), stored with its queued job so
    /// whoever runs it continues that trace. Not kept in the review's history.
    public var trace: String?

    public init(
        id: String, createdAt: Double, tokenID: String, createdBy: String, status: Status, title: String, listings: String,
        document: String? = nil, verdicts: [String] = [], costUSD: Double? = nil, error: String? = nil, reservedUSD: Double = 0
    ) {
        self.reservedUSD = reservedUSD
        self.id = id
        self.createdAt = createdAt
        self.tokenID = tokenID
        self.createdBy = createdBy
        self.status = status
        self.title = title
        self.listings = listings
        self.document = document
        self.verdicts = verdicts
        self.costUSD = costUSD
        self.error = error
    }

    public var cursor: Cursor { Cursor(createdAt: createdAt, id: id) }
}

/// One editor's action on a review: rewrite a persona's paragraph, override a tool's verdict with a
/// note, or approve the document. Kept in order; the document's `editor` block is built from them.
public struct EditorAction: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case edit, override, approve
    }

    public var kind: Kind
    public var tool: String?
    public var persona: String?
    public var text: String?
    public var verdict: Verdict?
    public var note: String?
    public var by: String
    public var at: String

    public init(
        kind: Kind, tool: String? = nil, persona: String? = nil, text: String? = nil, verdict: Verdict? = nil, note: String? = nil,
        by: String, at: String
    ) {
        self.kind = kind
        self.tool = tool
        self.persona = persona
        self.text = text
        self.verdict = verdict
        self.note = note
        self.by = by
        self.at = at
    }

    /// The `editor` block these actions make.
    public static func editor(_ actions: [EditorAction]) -> ReviewDocument.Editor? {
        guard !actions.isEmpty else { return nil }
        var editor = ReviewDocument.Editor()
        for action in actions {
            switch action.kind {
            case .edit:
                editor.edits.append(
                    .init(tool: action.tool ?? "", persona: action.persona ?? "", text: action.text ?? "", by: action.by, at: action.at))
            case .override:
                editor.overrides.append(
                    .init(tool: action.tool ?? "", verdict: action.verdict ?? .skip, note: action.note ?? "", by: action.by, at: action.at))
            case .approve:
                editor.approved = .init(by: action.by, at: action.at)
            }
        }
        return editor
    }
}

/// How both stores keep a review's verdicts in one text column (`,ship,skip,`, so `LIKE '%,ship,%'`
/// finds any tool's), and a search pattern for tool names.
public enum TeamVerdicts {
    public static func column(_ verdicts: [String]) -> String {
        verdicts.isEmpty ? "" : "," + verdicts.joined(separator: ",") + ","
    }

    public static func list(_ column: String) -> [String] {
        column.split(separator: ",").map(String.init)
    }

    /// `%text%` for `LIKE … ESCAPE '\'`, lowercased, with `%`, `_` and `\` matched literally.
    public static func likePattern(_ query: String) -> String {
        var pattern = "%"
        for character in query.lowercased() {
            if character == "%" || character == "_" || character == "\\" { pattern.append("\\") }
            pattern.append(character)
        }
        return pattern + "%"
    }
}

/// A review published at a public URL (`/p/{slug}`).
public struct Publication: Sendable, Hashable {
    public var slug: String
    public var review: String
    public var publishedAt: Date
    /// When it was published, or its voting opened or closed (for `Last-Modified` and the feed).
    public var updatedAt: Date
    public var votingOpen: Bool

    public init(slug: String, review: String, publishedAt: Date, updatedAt: Date, votingOpen: Bool = true) {
        self.slug = slug
        self.review = review
        self.publishedAt = publishedAt
        self.updatedAt = updatedAt
        self.votingOpen = votingOpen
    }
}

/// A reader's vote on a tool of a published review. `reader` is the random id of the reader's signed
/// cookie; `network` a keyed hash of their network (IPv4 /24, IPv6 /64), never the address.
public struct CommunityVote: Sendable, Hashable {
    public var review: String
    public var tool: String
    public var reader: String
    public var network: String
    public var verdict: Verdict
    public var at: Date

    public init(review: String, tool: String, reader: String, network: String, verdict: Verdict, at: Date) {
        self.review = review
        self.tool = tool
        self.reader = reader
        self.network = network
        self.verdict = verdict
        self.at = at
    }
}

/// What became of a vote.
public enum VoteOutcome: Sendable, Hashable {
    /// Counted (a new vote, or a reader's changed one): the tool's votes now.
    case counted(CommunityVotes, changed: Bool)
    /// The review is not published (or no longer).
    case notPublished
    /// Voting on the page is closed.
    case closed
    /// The reader's network cast its hour's votes already.
    case networkLimit
}
