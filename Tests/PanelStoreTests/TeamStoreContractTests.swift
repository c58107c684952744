import Foundation
import PanelEngine
import PanelKit
import PanelPostgres
import Testing

/// The team server's part of the store contract — tokens, sessions, reviews, history, editor actions —
/// on SQLite and PostgreSQL alike.
struct TeamStoreContractTests {
    func token(_ id: String, _ name: String, _ role: TeamRole, budget: Double? = nil, at time: Double = 1_000) -> TeamToken {
        TeamToken(id: id, name: name, role: role, budgetUSD: budget, createdAt: Date(timeIntervalSince1970: time))
    }

    @Test(arguments: StoreKind.available)
    func tokensAreFoundByTheirHashSpendAndAreRevoked(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.createToken(token("tok_a", "ann", .editor, budget: 1.5, at: 1_000), secretHash: "hash-a")
            try await store.createToken(token("tok_b", "bob", .admin, at: 2_000), secretHash: "hash-b")
            await #expect(throws: (any Error).self) { try await store.createToken(token("tok_c", "ann", .viewer), secretHash: "hash-c") }
            let ann = try #require(try await store.token(secretHash: "hash-a"))
            #expect(ann.name == "ann" && ann.role == .editor && ann.budgetUSD == 1.5 && ann.spentUSD == 0 && !ann.revoked)
            #expect(try await store.token(secretHash: "nope") == nil)
            #expect(try await store.tokens().map(\.id) == ["tok_b", "tok_a"])
            try await store.addTokenSpend(id: "tok_a", usd: 0.75)
            try await store.addTokenSpend(id: "tok_a", usd: 0.75)
            #expect(try await store.token(secretHash: "hash-a")?.budgetSpent == true)

            try await store.createSession(
                TeamSession(tokenID: "tok_a", csrf: "c1", expires: Date(timeIntervalSince1970: 5_000)), secretHash: "session-1")
            let (session, owner) = try #require(try await store.session(secretHash: "session-1", now: Date(timeIntervalSince1970: 4_000)))
            #expect(session.csrf == "c1" && owner.id == "tok_a")
            #expect(try await store.session(secretHash: "session-1", now: Date(timeIntervalSince1970: 6_000)) == nil)

            #expect(try await store.revokeToken("ann"))
            #expect(try await !store.revokeToken("ann"))
            #expect(try await store.token(secretHash: "hash-a")?.revoked == true)
            #expect(try await store.session(secretHash: "session-1", now: Date(timeIntervalSince1970: 4_000)) == nil)
            // A revoked name may be given again.
            try await store.createToken(token("tok_d", "ann", .viewer), secretHash: "hash-d")
            #expect(try await store.revokeToken("tok_b"))
        }
    }

    @Test(arguments: StoreKind.available)
    func historyIsNewestFirstSearchableAndPaged(kind: StoreKind) async throws {
        try await kind.with { store in
            let names = ["Ollama", "LM Studio", "Ollama vs vLLM", "100%_Tool", "Zed"]
            for (index, name) in names.enumerated() {
                try await store.createReview(
                    TeamReview(
                        id: "r\(index)", createdAt: 100 + Double(index), tokenID: "tok_a", createdBy: "ann", status: .queued, title: name,
                        listings: "[]"))
            }
            try await store.updateReview(id: "r0", status: .running, document: nil, verdicts: [], costUSD: nil, error: nil)
            #expect(try await store.unfinishedReviews().map(\.id) == ["r0", "r1", "r2", "r3", "r4"])
            try await store.updateReview(id: "r0", status: .done, document: "{\"doc\":1}", verdicts: ["ship"], costUSD: 0.01, error: nil)
            try await store.updateReview(id: "r2", status: .done, document: "{}", verdicts: ["skip", "ship"], costUSD: nil, error: nil)
            try await store.updateReview(id: "r4", status: .failed, document: nil, verdicts: [], costUSD: nil, error: "no backend")
            #expect(try await store.unfinishedReviews().map(\.id) == ["r1", "r3"])

            let all = try await store.reviews(query: nil, verdict: nil, limit: 10, before: nil)
            #expect(all.map(\.id) == ["r4", "r3", "r2", "r1", "r0"])
            #expect(all.allSatisfy { $0.document == nil && $0.listings.isEmpty })
            #expect(try await store.reviews(query: "OLLAMA", verdict: nil, limit: 10, before: nil).map(\.id) == ["r2", "r0"])
            #expect(try await store.reviews(query: "%_", verdict: nil, limit: 10, before: nil).map(\.id) == ["r3"])
            #expect(try await store.reviews(query: nil, verdict: "ship", limit: 10, before: nil).map(\.id) == ["r2", "r0"])
            #expect(try await store.reviews(query: nil, verdict: "skip", limit: 10, before: nil).map(\.id) == ["r2"])
            let first = try await store.reviews(query: nil, verdict: nil, limit: 2, before: nil)
            let last = try #require(first.last)
            let cursor = try #require(TeamReview.Cursor(token: last.cursor.token))
            #expect(try await store.reviews(query: nil, verdict: nil, limit: 2, before: cursor).map(\.id) == ["r2", "r1"])

            let full = try #require(try await store.review(id: "r0"))
            #expect(full.document == "{\"doc\":1}" && full.listings == "[]" && full.status == .done && full.costUSD == 0.01)
            #expect(try await store.review(id: "r4")?.error == "no backend")
            #expect(try await store.review(id: "missing") == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func measuredQualitiesAreKeptAndReplaced(kind: StoreKind) async throws {
        try await kind.with { store in
            #expect(try await store.measuredQualities().isEmpty)
            try await store.saveMeasuredQualities([
                MeasuredQuality(backend: "b", kappa: 0.5, agreement: 0.8, n: 12),
                MeasuredQuality(backend: "a", kappa: nil, agreement: 1, n: 3),
            ])
            try await store.saveMeasuredQualities([MeasuredQuality(backend: "b", kappa: 0.9, agreement: 0.95, n: 20)])
            #expect(
                try await store.measuredQualities() == [
                    MeasuredQuality(backend: "a", kappa: nil, agreement: 1, n: 3),
                    MeasuredQuality(backend: "b", kappa: 0.9, agreement: 0.95, n: 20),
                ])
        }
    }

    @Test(arguments: StoreKind.available)
    func editorActionsKeepTheirOrderAcrossHandles(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.createReview(
                TeamReview(id: "r1", createdAt: 1, tokenID: "t", createdBy: "ann", status: .done, title: "A", listings: "[]"))
            #expect(try await !store.addEditorActions(review: "missing", [EditorAction(kind: .approve, by: "ann", at: "t0")]))
            let other = try await kind.reopen(store)
            #expect(
                try await store.addEditorActions(
                    review: "r1", [EditorAction(kind: .edit, tool: "A", persona: "builder", text: "one", by: "ann", at: "t1")]))
            #expect(
                try await other.addEditorActions(
                    review: "r1",
                    [
                        EditorAction(kind: .override, tool: "A", verdict: .skip, note: "why", by: "bob", at: "t2"),
                        EditorAction(kind: .approve, by: "bob", at: "t3"),
                    ]))
            let actions = try await store.editorActions(review: "r1")
            #expect(actions.map(\.at) == ["t1", "t2", "t3"])
            let editor = try #require(EditorAction.editor(actions))
            #expect(editor.edits.first?.text == "one" && editor.overrides.first?.verdict == .skip && editor.approved?.by == "bob")
            await (other as? PostgresStore)?.close()
        }
    }

    /// A review asked of the team server is a job of the queue: admitted and enqueued in one step,
    /// claimed only by workers of reviews, ended under its lease with its token charged and its last
    /// events appended; its events are a numbered log any reader follows; given up on, it fails.
    /// A PostgreSQL session left idle inside a transaction (its process paused between statements) is
    /// ended by the server, so the rows it locked are not skipped by every claim for as long as it sleeps.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func aPausedSessionCannotHoldItsLocksForEver() async throws {
        try await StoreKind.postgres.with { store in
            let postgres = try #require(store as? PostgresStore)
            #expect(try await postgres.sessionSetting("idle_in_transaction_session_timeout") == "15s")
        }
    }

    @Test(arguments: StoreKind.available)
    func reviewsAreJobsOnTheQueueWithALogOfEvents(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.createToken(token("tok_a", "ann", .editor, budget: 1.0), secretHash: "hash-a")
            let review = TeamReview(
                id: "r1", createdAt: 1, tokenID: "tok_a", createdBy: "ann", status: .queued, title: "A", listings: #"[{"name":"A"}]"#,
                reservedUSD: 0.4)
            #expect(try await store.admitReview(review, settings: "{}", maxUnfinished: 5) == .admitted)
            #expect(try await store.job(review.job)?.settings == "{}")
            // Not a batch: `panel jobs` does not list it, a batch worker does not claim it.
            #expect(try await store.jobs().isEmpty)
            #expect(try await store.openItems(job: nil, kinds: .batches, excluding: []) == 0)
            #expect(try await store.openItems(job: nil, kinds: .reviews, excluding: []) == 1)
            #expect(
                try await store.claimQueued(
                    job: nil, kinds: .batches, excluding: [], owner: "w", lease: .seconds(30), limit: 5, maxAttempts: 3
                ).isEmpty)
            let claim = try #require(
                try await store.claimQueued(
                    job: nil, kinds: .reviews, excluding: [], owner: "w", lease: .seconds(30), limit: 5, maxAttempts: 3
                ).first)
            #expect(claim.claim.job == "review:r1" && claim.claim.key == TeamReview.itemKey && claim.listing == review.listings)
            // The log: numbered from 1, read after a place.
            try await store.appendReviewEvents(
                review: "r1",
                [ReviewEventRecord(name: "persona.started", data: "{}"), ReviewEventRecord(name: "persona.delta", data: "{}")])
            try await store.appendReviewEvents(review: "r1", [ReviewEventRecord(name: "persona.finished", data: "{}")])
            #expect(try await store.reviewEvents(review: "r1", after: 0, limit: 10).map(\.seq) == [1, 2, 3])
            #expect(try await store.reviewEvents(review: "r1", after: 2, limit: 10).map(\.name) == ["persona.finished"])
            // Ended only under the lease; the token is charged what it cost and its reservation given back.
            let completion = ReviewCompletion(
                review: "r1", status: .done, document: "{}", verdicts: ["ship"], costUSD: 0.1, error: nil,
                lastResult: SavedResult(persona: "builder", review: "{}", costUSD: 0.1), events: [.done("r1", status: .done, error: nil)])
            var stale = claim.claim
            stale.token = "not-the-lease"
            #expect(try await !store.finishReview(stale, completion))
            #expect(try await store.finishReview(claim.claim, completion))
            let done = try #require(try await store.review(id: "r1"))
            #expect(done.status == .done && done.verdicts == ["ship"] && done.reservedUSD == 0)
            #expect(abs(try #require(try await store.token(secretHash: "hash-a")).spentUSD - 0.1) < 1e-9)
            #expect(try await store.reviewEvents(review: "r1", after: 3, limit: 10).map(\.name) == ["done"])
            #expect(try await store.openItems(job: nil, kinds: .reviews, excluding: []) == 0)

            // Claimed too often without finishing: the review fails with the reason, its reservation given back.
            let second = TeamReview(
                id: "r2", createdAt: 2, tokenID: "tok_a", createdBy: "ann", status: .queued, title: "B", listings: "[]", reservedUSD: 0.2)
            #expect(try await store.admitReview(second, settings: "{}", maxUnfinished: 5) == .admitted)
            for attempt in 0..<2 {
                let claims = try await store.claimQueued(
                    job: nil, kinds: .reviews, excluding: [], owner: "w", lease: .seconds(30), limit: 5, maxAttempts: 1)
                #expect(claims.count == (attempt == 0 ? 1 : 0))
                try await store.renewLeases(owner: "w", lease: .zero)  // its holder went silent
            }
            let failed = try #require(try await store.review(id: "r2"))
            #expect(failed.status == .failed && failed.error?.contains("1") == true && failed.reservedUSD == 0)
            #expect(abs(try #require(try await store.token(secretHash: "hash-a")).spentUSD - 0.1) < 1e-9)
            #expect(try await store.reviewEvents(review: "r2", after: 0, limit: 10).map(\.name) == ["done"])
        }
    }

    @Test(arguments: StoreKind.available)
    func reviewsAndBatchesReserveTheirTokensBudgetInOneStep(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.createToken(token("tok_a", "ann", .editor, budget: 1.0), secretHash: "hash-a")
            try await store.createToken(token("tok_b", "bob", .editor), secretHash: "hash-b")
            func review(_ id: String, _ token: String, reserve: Double) -> TeamReview {
                TeamReview(
                    id: id, createdAt: 1, tokenID: token, createdBy: token, status: .queued, title: id, listings: "[]", reservedUSD: reserve
                )
            }
            func spent(_ hash: String) async throws -> Double { try #require(try await store.token(secretHash: hash)).spentUSD }
            #expect(try await store.admitReview(review("r1", "tok_a", reserve: 0.4), maxUnfinished: 2) == .admitted)
            #expect(try await store.admitReview(review("r2", "tok_a", reserve: 0.4), maxUnfinished: 2) == .admitted)
            #expect(try await store.review(id: "r1")?.reservedUSD == 0.4)
            #expect(abs(try await spent("hash-a") - 0.8) < 1e-9)
            // Over the count of unfinished reviews, then (with room in the count) over the budget: nothing kept.
            #expect(try await store.admitReview(review("r3", "tok_a", reserve: 0.1), maxUnfinished: 2) == .tooManyUnfinished(2))
            guard case .overBudget(let left) = try await store.admitReview(review("r3", "tok_a", reserve: 0.4), maxUnfinished: 5) else {
                Issue.record("a review over the budget was admitted")
                return
            }
            #expect(abs(left - 0.2) < 1e-9)
            #expect(try await store.review(id: "r3") == nil)
            // A token without a budget has only the count.
            #expect(try await store.admitReview(review("r4", "tok_b", reserve: 99), maxUnfinished: 1) == .admitted)
            // Requeued: the cost so far is charged and the reservation kept; finished: the reservation is released.
            try await store.chargeReview(id: "r1", costUSD: 0.05, releasing: false)
            #expect(abs(try await spent("hash-a") - 0.85) < 1e-9)
            try await store.updateReview(id: "r1", status: .done, document: "{}", verdicts: [], costUSD: 0.1, error: nil)
            try await store.chargeReview(id: "r1", costUSD: 0.05, releasing: true)
            #expect(abs(try await spent("hash-a") - 0.5) < 1e-9)
            #expect(try await store.review(id: "r1")?.reservedUSD == 0)
            // A batch reserves its whole budget; once nothing is left to work, what it spent replaces it.
            #expect(try await !store.chargeBatch(job: "big", tokenID: "tok_a", reserveUSD: 0.6))
            _ = try await store.enqueue(
                job: "b1", settings: "{}", budgetUSD: 0.3, listings: [QueuedListing(key: "k", position: 0, listing: nil, error: "bad")],
                retry: false)
            _ = try await store.enqueue(
                job: "b2", settings: "{}", budgetUSD: 0.1, listings: [QueuedListing(key: "k", position: 0, listing: "{}")], retry: false)
            #expect(try await store.chargeBatch(job: "b1", tokenID: "tok_a", reserveUSD: 0.3))
            #expect(try await store.chargeBatch(job: "b2", tokenID: "tok_a", reserveUSD: 0.1))
            #expect(abs(try await spent("hash-a") - 0.9) < 1e-9)
            try await store.settleBatchCharges(tokenID: "tok_a")
            try await store.settleBatchCharges(tokenID: nil)  // idempotent
            // b1 is finished (its one listing failed) and spent nothing; b2 still has a listing to work.
            #expect(abs(try await spent("hash-a") - 0.6) < 1e-9)
        }
    }

    /// Publications: one slug per review (kept when published again), the next free slug for another review
    /// of the same name — across handles —, voting opened and closed, unpublishing; a token's display name.
    @Test(arguments: StoreKind.available)
    func reviewsArePublishedAtSlugsOfTheirOwn(kind: StoreKind) async throws {
        try await kind.with { store in
            for id in ["r1", "r2", "r3"] {
                try await store.createReview(
                    TeamReview(id: id, createdAt: 1, tokenID: "t", createdBy: "ann", status: .done, title: "Acme", listings: "[]"))
            }
            let at = Date(timeIntervalSince1970: 1_000)
            let first = try await store.publish(review: "r1", base: "acme", at: at)
            #expect(first.slug == "acme" && first.review == "r1" && first.votingOpen && first.publishedAt == at)
            #expect(try await store.publish(review: "r1", base: "acme", at: Date(timeIntervalSince1970: 2_000)) == first)
            let other = try await kind.reopen(store)
            let second = try await other.publish(review: "r2", base: "acme", at: Date(timeIntervalSince1970: 3_000))
            #expect(second.slug == "acme-2")
            #expect(try await store.publication(slug: "acme-2")?.review == "r2")
            #expect(try await store.publication(review: "r1")?.slug == "acme")
            #expect(try await store.publication(slug: "nope") == nil)
            #expect(try await store.publication(review: "r3") == nil)
            #expect(try await store.publications(limit: 10).map(\.slug) == ["acme-2", "acme"])
            #expect(try await store.publications(limit: 1).map(\.slug) == ["acme-2"])
            #expect(try await store.setVoting(review: "r1", open: false, at: Date(timeIntervalSince1970: 4_000)))
            let closed = try #require(try await other.publication(slug: "acme"))
            #expect(!closed.votingOpen && closed.updatedAt == Date(timeIntervalSince1970: 4_000) && closed.publishedAt == at)
            #expect(try await !store.setVoting(review: "r3", open: false, at: at))
            #expect(try await store.unpublish(review: "r1"))
            #expect(try await !store.unpublish(review: "r1"))
            #expect(try await store.publication(slug: "acme") == nil)
            // The freed slug goes to the next review published under it.
            #expect(try await store.publish(review: "r3", base: "acme", at: at).slug == "acme")

            var named = token("tok_d", "dee", .editor)
            named.displayName = "Dee Editor"
            try await store.createToken(named, secretHash: "hash-d")
            #expect(try await other.token(secretHash: "hash-d")?.displayName == "Dee Editor")
            #expect(try await other.token(named: "dee")?.id == "tok_d")
            #expect(try await store.token(named: "nobody") == nil)
            #expect(try await store.revokeToken("dee"))
            #expect(try await store.token(named: "dee")?.displayName == "Dee Editor")
            try await store.createToken(token("tok_e", "eve", .editor), secretHash: "hash-e")
            #expect(try await store.token(secretHash: "hash-e")?.displayName == nil)
        }
    }

    /// Community votes: one per reader per tool (a change replaces it), the per-network hourly limit on new
    /// votes, closed voting and unpublished pages refused, counts across handles, purges; the store's secrets.
    @Test(arguments: StoreKind.available)
    func votesAreCountedOncePerReaderWithinTheNetworksLimit(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.createReview(
                TeamReview(id: "r1", createdAt: 1, tokenID: "t", createdBy: "ann", status: .done, title: "A", listings: "[]"))
            func vote(
                _ reader: String, _ verdict: Verdict, network: String = "n1", tool: String = "A", at: Double = 10_000
            ) -> CommunityVote {
                CommunityVote(
                    review: "r1", tool: tool, reader: reader, network: network, verdict: verdict, at: Date(timeIntervalSince1970: at))
            }
            #expect(try await store.vote(vote("x", .ship), limitPerNetworkHour: 3) == .notPublished)
            _ = try await store.publish(review: "r1", base: "a", at: Date(timeIntervalSince1970: 1))
            #expect(
                try await store.vote(vote("x", .ship), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 1, ship: 1), changed: false))
            #expect(
                try await store.vote(vote("x", .skip), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 1, skip: 1), changed: true))
            let other = try await kind.reopen(store)
            #expect(
                try await other.vote(vote("y", .ship), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 2, ship: 1, skip: 1), changed: false))
            #expect(
                try await store.vote(vote("z", .ship), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 3, ship: 2, skip: 1), changed: false))
            // The network's fourth new vote this hour is refused; a change of an existing one is not; an hour later it counts.
            #expect(try await other.vote(vote("w", .ship), limitPerNetworkHour: 3) == .networkLimit)
            #expect(
                try await store.vote(vote("y", .skip), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 3, ship: 1, skip: 2), changed: true))
            #expect(
                try await store.vote(vote("w", .ship, network: "n2"), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 4, ship: 2, skip: 2), changed: false))
            #expect(
                try await store.vote(vote("v", .ship, at: 13_700), limitPerNetworkHour: 3)
                    == .counted(CommunityVotes(readers: 5, ship: 3, skip: 2), changed: false))
            #expect(
                try await store.vote(vote("x", .ship, tool: "B"), limitPerNetworkHour: 100)
                    == .counted(CommunityVotes(readers: 1, ship: 1), changed: false))
            let counts = try await other.voteCounts(review: "r1")
            #expect(counts["A"] == CommunityVotes(readers: 5, ship: 3, skip: 2) && counts["B"] == CommunityVotes(readers: 1, ship: 1))
            #expect(try await store.setVoting(review: "r1", open: false, at: Date(timeIntervalSince1970: 2)))
            #expect(try await store.vote(vote("u", .ship), limitPerNetworkHour: 3) == .closed)
            // Purges: by network, by time window.
            #expect(try await store.purgeVotes(network: "n2", since: nil, until: nil) == 1)
            #expect(try await store.purgeVotes(network: nil, since: Date(timeIntervalSince1970: 13_000), until: nil) == 1)
            #expect(try await other.voteCounts(review: "r1")["A"] == CommunityVotes(readers: 3, ship: 1, skip: 2))
            #expect(try await store.purgeVotes(network: nil, since: nil, until: Date(timeIntervalSince1970: 20_000)) == 4)
            #expect(try await store.voteCounts(review: "r1").isEmpty)

            let key = try await store.secret("k") { "first" }
            #expect(key == "first")
            #expect(try await other.secret("k") { "second" } == "first")
        }
    }
}
