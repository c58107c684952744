public import Foundation
public import PanelKit

/// The team server's part of the store kept in memory: tokens, sessions, reviews, editors' actions,
/// publications, votes, secrets and measured qualities — the same rules as the SQL stores'.
struct TeamState {
    struct StoredToken {
        var token: TeamToken
        var secretHash: String
    }

    struct VoteKey: Hashable {
        var review: String
        var tool: String
        var reader: String
    }

    struct StoredVote {
        var verdict: Verdict
        var network: String
        var at: Double
    }

    var tokens: [String: StoredToken] = [:]
    var sessions: [String: TeamSession] = [:]
    var reviews: [String: TeamReview] = [:]
    var actions: [String: [EditorAction]] = [:]
    /// Batch job → the token charged and what was reserved.
    var charges: [String: (token: String, reservedUSD: Double, settled: Bool)] = [:]
    /// Review id → its publication.
    var publications: [String: Publication] = [:]
    var votes: [VoteKey: StoredVote] = [:]
    var secrets: [String: String] = [:]
    var qualities: [String: MeasuredQuality] = [:]

    /// What a token's budget has left (nil: no budget; 0 for a token that does not exist).
    func remaining(_ token: String) -> Double? {
        guard let stored = tokens[token] else { return 0 }
        guard let budget = stored.token.budgetUSD else { return nil }
        return budget - stored.token.spentUSD
    }

    mutating func addSpend(_ token: String, _ usd: Double, floor: Bool = false) {
        guard var stored = tokens[token] else { return }
        stored.token.spentUSD = floor ? max(0, stored.token.spentUSD + usd) : stored.token.spentUSD + usd
        tokens[token] = stored
    }

    mutating func admit(_ review: TeamReview, maxUnfinished: Int) -> ReviewAdmission {
        let unfinished = reviews.values.count { $0.tokenID == review.tokenID && ($0.status == .queued || $0.status == .running) }
        if unfinished >= maxUnfinished { return .tooManyUnfinished(unfinished) }
        if let left = remaining(review.tokenID), review.reservedUSD > left + 1e-12 { return .overBudget(remainingUSD: max(0, left)) }
        insert(review)
        addSpend(review.tokenID, review.reservedUSD)
        return .admitted
    }

    mutating func insert(_ review: TeamReview) {
        var kept = review
        kept.document = nil
        kept.verdicts = []
        kept.costUSD = nil
        kept.error = nil
        kept.trace = nil
        reviews[review.id] = kept
    }

    func counts(review: String) -> [String: CommunityVotes] {
        var counts: [String: CommunityVotes] = [:]
        for (key, vote) in votes where key.review == review {
            var tool = counts[key.tool] ?? CommunityVotes()
            tool.readers += 1
            if vote.verdict == .ship { tool.ship += 1 } else { tool.skip += 1 }
            counts[key.tool] = tool
        }
        return counts
    }
}

/// The newest first, as the SQL stores list them (by time, then id, both descending).
private func newestFirst(_ a: TeamReview, _ b: TeamReview) -> Bool { (a.createdAt, a.id) > (b.createdAt, b.id) }

struct MemoryStoreError: Error, CustomStringConvertible {
    var description: String
}

extension MemoryStore {
    // MARK: Tokens

    public func createToken(_ token: TeamToken, secretHash: String) async throws {
        try step { state, _ in
            if state.team.tokens.values.contains(where: { $0.token.name == token.name && !$0.token.revoked }) {
                throw MemoryStoreError(
                    description: "\(location): a token named '\(token.name)' exists; revoke it first or choose another --name")
            }
            if state.team.tokens[token.id] != nil || state.team.tokens.values.contains(where: { $0.secretHash == secretHash }) {
                throw MemoryStoreError(description: "\(location): token '\(token.id)' exists")
            }
            var kept = token
            kept.spentUSD = 0
            kept.revoked = false
            state.team.tokens[token.id] = TeamState.StoredToken(token: kept, secretHash: secretHash)
        }
    }

    public func token(secretHash: String) async throws -> TeamToken? {
        try step { state, _ in state.team.tokens.values.first { $0.secretHash == secretHash }?.token }
    }

    public func tokens() async throws -> [TeamToken] {
        try step { state, _ in
            state.team.tokens.values.map(\.token).sorted { ($1.createdAt, $0.id) < ($0.createdAt, $1.id) }
        }
    }

    public func token(named name: String) async throws -> TeamToken? {
        try step { state, _ in
            state.team.tokens.values.map(\.token).filter { $0.name == name }
                .min { ($0.revoked ? 1 : 0, $1.createdAt) < ($1.revoked ? 1 : 0, $0.createdAt) }
        }
    }

    public func revokeToken(_ idOrName: String) async throws -> Bool {
        try step { state, _ in
            let matching = state.team.tokens.values.filter { ($0.token.id == idOrName || $0.token.name == idOrName) }
            let live = matching.filter { !$0.token.revoked }
            guard !live.isEmpty else { return false }
            for stored in live { state.team.tokens[stored.token.id]?.token.revoked = true }
            let ids = Set(matching.map(\.token.id))
            state.team.sessions = state.team.sessions.filter { !ids.contains($0.value.tokenID) }
            return true
        }
    }

    public func addTokenSpend(id: String, usd: Double) async throws {
        guard usd.isFinite, usd > 0 else { return }
        try step { state, _ in state.team.addSpend(id, usd) }
    }

    public func chargeBatch(job: String, tokenID: String, reserveUSD: Double) async throws -> Bool {
        guard reserveUSD.isFinite, reserveUSD >= 0 else { return false }
        return try step { state, _ in
            if let left = state.team.remaining(tokenID), reserveUSD > left + 1e-12 { return false }
            guard state.team.charges[job] == nil else {
                throw MemoryStoreError(description: "\(location): job '\(job)' is charged already")
            }
            state.team.charges[job] = (tokenID, reserveUSD, false)
            state.team.addSpend(tokenID, reserveUSD)
            return true
        }
    }

    public func settleBatchCharges(tokenID: String?) async throws {
        try step { state, _ in
            for (job, charge) in state.team.charges where !charge.settled && (tokenID == nil || charge.token == tokenID) {
                if state.jobs[job]?.items.values.contains(where: { $0.status == .pending }) == true { continue }
                state.team.charges[job]?.settled = true
                state.team.addSpend(charge.token, (state.jobs[job]?.spentUSD ?? 0) - charge.reservedUSD, floor: true)
            }
        }
    }

    // MARK: Sessions

    public func createSession(_ session: TeamSession, secretHash: String) async throws {
        try step { state, now in
            state.team.sessions = state.team.sessions.filter { $0.value.expires.timeIntervalSince1970 >= now }
            guard state.team.sessions[secretHash] == nil else { throw MemoryStoreError(description: "\(location): the session exists") }
            state.team.sessions[secretHash] = session
        }
    }

    public func session(secretHash: String, now: Date) async throws -> (TeamSession, TeamToken)? {
        try step { state, _ in
            guard let session = state.team.sessions[secretHash], session.expires > now,
                let token = state.team.tokens[session.tokenID]?.token, !token.revoked
            else { return nil }
            return (session, token)
        }
    }

    public func deleteSession(secretHash: String) async throws {
        try step { state, _ in _ = state.team.sessions.removeValue(forKey: secretHash) }
    }

    // MARK: Reviews

    public func createReview(_ review: TeamReview) async throws {
        try step { state, _ in
            guard state.team.reviews[review.id] == nil else {
                throw MemoryStoreError(description: "\(location): review '\(review.id)' exists")
            }
            state.team.insert(review)
        }
    }

    public func admitReview(_ review: TeamReview, maxUnfinished: Int) async throws -> ReviewAdmission {
        try step { state, _ in state.team.admit(review, maxUnfinished: maxUnfinished) }
    }

    public func chargeReview(id: String, costUSD: Double, releasing: Bool) async throws {
        let cost = costUSD.isFinite ? max(0, costUSD) : 0
        try step { state, _ in
            guard let review = state.team.reviews[id] else { return }
            let reserved = releasing ? review.reservedUSD : 0
            if releasing { state.team.reviews[id]?.reservedUSD = 0 }
            state.team.addSpend(review.tokenID, cost - reserved, floor: true)
        }
    }

    public func updateReview(
        id: String, status: TeamReview.Status, document: String?, verdicts: [String], costUSD: Double?, error: String?
    ) async throws {
        try step { state, _ in
            guard var review = state.team.reviews[id] else { return }
            review.status = status
            review.document = document ?? review.document
            review.verdicts = verdicts
            review.costUSD = costUSD
            review.error = error
            state.team.reviews[id] = review
        }
    }

    public func review(id: String) async throws -> TeamReview? {
        try step { state, _ in state.team.reviews[id] }
    }

    public func reviews(query: String?, verdict: String?, limit: Int, before: TeamReview.Cursor?) async throws -> [TeamReview] {
        try step { state, _ in
            let needle = query.flatMap { $0.isEmpty ? nil : $0.lowercased() }
            return Array(
                state.team.reviews.values.filter { review in
                    if let needle, !review.title.lowercased().contains(needle) { return false }
                    if let verdict, !review.verdicts.contains(verdict) { return false }
                    if let before, !((review.createdAt, review.id) < (before.createdAt, before.id)) { return false }
                    return true
                }
                .sorted(by: newestFirst)
                .prefix(max(0, limit))
                .map { review in
                    var listed = review
                    listed.listings = ""
                    listed.document = nil
                    listed.reservedUSD = 0
                    return listed
                })
        }
    }

    public func unfinishedReviews() async throws -> [TeamReview] {
        try step { state, _ in
            state.team.reviews.values.filter { $0.status == .queued || $0.status == .running }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func addEditorActions(review id: String, _ actions: [EditorAction]) async throws -> Bool {
        try step { state, _ in
            guard state.team.reviews[id] != nil else { return false }
            state.team.actions[id, default: []].append(contentsOf: actions)
            return true
        }
    }

    public func editorActions(review id: String) async throws -> [EditorAction] {
        try step { state, _ in state.team.actions[id] ?? [] }
    }

    // MARK: Publications

    public func publish(review id: String, base: String, at: Date) async throws -> Publication {
        try step { state, _ in
            if let publication = state.team.publications[id] { return publication }
            let taken = Set(state.team.publications.values.map(\.slug))
            var slug = base
            var n = 1
            while taken.contains(slug) {
                n += 1
                slug = "\(base)-\(n)"
            }
            let publication = Publication(slug: slug, review: id, publishedAt: at, updatedAt: at)
            state.team.publications[id] = publication
            return publication
        }
    }

    public func unpublish(review id: String) async throws -> Bool {
        try step { state, _ in state.team.publications.removeValue(forKey: id) != nil }
    }

    public func publication(slug: String) async throws -> Publication? {
        try step { state, _ in state.team.publications.values.first { $0.slug == slug } }
    }

    public func publication(review id: String) async throws -> Publication? {
        try step { state, _ in state.team.publications[id] }
    }

    public func publications(limit: Int) async throws -> [Publication] {
        try step { state, _ in
            Array(
                state.team.publications.values.sorted { ($1.publishedAt, $0.slug) < ($0.publishedAt, $1.slug) }.prefix(max(0, limit)))
        }
    }

    public func setVoting(review id: String, open: Bool, at: Date) async throws -> Bool {
        try step { state, _ in
            guard state.team.publications[id] != nil else { return false }
            state.team.publications[id]?.votingOpen = open
            state.team.publications[id]?.updatedAt = at
            return true
        }
    }

    // MARK: Community votes

    public func vote(_ vote: CommunityVote, limitPerNetworkHour: Int) async throws -> VoteOutcome {
        try step { state, _ in
            guard let publication = state.team.publications[vote.review] else { return .notPublished }
            guard publication.votingOpen else { return .closed }
            let at = vote.at.timeIntervalSince1970
            let key = TeamState.VoteKey(review: vote.review, tool: vote.tool, reader: vote.reader)
            let earlier = state.team.votes[key]
            if earlier == nil {
                let recent = state.team.votes.values.count { $0.network == vote.network && $0.at > at - 3_600 }
                if recent >= limitPerNetworkHour { return .networkLimit }
                state.team.votes[key] = TeamState.StoredVote(verdict: vote.verdict, network: vote.network, at: at)
            } else {
                state.team.votes[key]?.verdict = vote.verdict
            }
            return .counted(state.team.counts(review: vote.review)[vote.tool] ?? CommunityVotes(), changed: earlier != nil)
        }
    }

    public func voteCounts(review id: String) async throws -> [String: CommunityVotes] {
        try step { state, _ in state.team.counts(review: id) }
    }

    public func purgeVotes(network: String?, since: Date?, until: Date?) async throws -> Int {
        try step { state, _ in
            let doomed = state.team.votes.filter { _, vote in
                (network == nil || vote.network == network) && (since.map { vote.at >= $0.timeIntervalSince1970 } ?? true)
                    && (until.map { vote.at < $0.timeIntervalSince1970 } ?? true)
            }
            for key in doomed.keys { state.team.votes.removeValue(forKey: key) }
            return doomed.count
        }
    }

    public func secret(_ name: String, make: @Sendable () -> String) async throws -> String {
        try step { state, _ in
            if let value = state.team.secrets[name] { return value }
            let value = make()
            state.team.secrets[name] = value
            return value
        }
    }

    // MARK: Measured quality

    public func saveMeasuredQualities(_ qualities: [MeasuredQuality]) async throws {
        try step { state, _ in
            for quality in qualities { state.team.qualities[quality.backend] = quality }
        }
    }

    public func measuredQualities() async throws -> [MeasuredQuality] {
        try step { state, _ in state.team.qualities.values.sorted { $0.backend < $1.backend } }
    }
}
