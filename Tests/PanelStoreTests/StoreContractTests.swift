import Foundation
import ModelBackends
import PanelEngine
import PanelPostgres
import PanelStore
import Testing

/// The store protocol's contract, run against SQLite and PostgreSQL alike. PostgreSQL runs when
/// `PANEL_TEST_POSTGRES_URL` names a server (`.ci/run` starts one and sets it, with
/// `PANEL_REQUIRE_POSTGRES=1`); each test gets a database of its own.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// The kinds this machine can test: SQLite always, PostgreSQL when a server is named.
    static let available: [StoreKind] = postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]

    /// A fresh, empty store (and, for PostgreSQL, a database of its own on the test server).
    func open() async throws -> any ReviewStore {
        switch self {
        case .sqlite:
            return try PanelStore(
                path: FileManager.default.temporaryDirectory.appendingPathComponent("panel-contract-\(UUID().uuidString)/panel.sqlite").path
            )
        case .postgres:
            let url = try #require(Self.postgresURL)
            let name = "panel_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            try await PostgresStore.administer(url: url, ["CREATE DATABASE \(PostgresStore.quoted(identifier: String(name)))"])
            return try await PostgresStore.open(url: Self.url(url, database: String(name)))
        }
    }

    /// A second handle on the same store (another process, as far as the store can tell).
    func reopen(_ store: any ReviewStore) async throws -> any ReviewStore {
        switch self {
        case .sqlite: return try PanelStore(path: store.location)
        case .postgres:
            let database = String(store.location.split(separator: "/").last ?? "")
            return try await PostgresStore.open(url: Self.url(try #require(Self.postgresURL), database: database))
        }
    }

    /// Closes the store and removes what it was made of (a scratch database, a temporary file).
    func dispose(_ store: any ReviewStore) async {
        switch self {
        case .sqlite:
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: store.location).deletingLastPathComponent().path)
        case .postgres:
            await (store as? PostgresStore)?.close()
            guard let url = Self.postgresURL, let database = store.location.split(separator: "/").last else { return }
            try? await PostgresStore.administer(
                url: url, ["DROP DATABASE IF EXISTS \(PostgresStore.quoted(identifier: String(database))) WITH (FORCE)"])
        }
    }

    /// Runs `body` with a fresh store, disposed of afterwards whatever happens.
    func with(_ body: (any ReviewStore) async throws -> Void) async throws {
        let store = try await open()
        do {
            try await body(store)
        } catch {
            await dispose(store)
            throw error
        }
        await dispose(store)
    }

    static func url(_ base: String, database: String) -> String {
        var components = URLComponents(string: base)!
        components.path = "/" + database
        return components.string!
    }
}

struct StoreContractTests {
    @Test func postgresIsTestedWhereItIsRequired() {
        if ProcessInfo.processInfo.environment["PANEL_REQUIRE_POSTGRES"] == "1" {
            #expect(StoreKind.postgresURL != nil, "PANEL_REQUIRE_POSTGRES=1 but PANEL_TEST_POSTGRES_URL is not set")
        } else if StoreKind.postgresURL == nil {
            print("note: the PostgreSQL store tests are skipped (set PANEL_TEST_POSTGRES_URL, e.g. from scripts/pg-test-cluster.sh)")
        }
    }

    func claim(
        _ store: any ReviewStore, _ job: String, _ key: String, owner: String = "a", lease: Duration = .seconds(60)
    ) async throws
        -> ClaimResult?
    {
        try await store.claim(job: job, listings: [(key, 0)], owner: owner, lease: lease, settled: { $0.status == .complete }).first
    }

    @Test(arguments: StoreKind.available)
    func theCacheKeepsAnswersAndHonoursAnAge(_ kind: StoreKind) async throws {
        try await kind.with { store in
            let response = ChatResponse(
                text: "answer", model: "m-1", backend: "b", usage: TokenUsage(inputTokens: 10, outputTokens: 4), costUSD: 0.002,
                latency: .milliseconds(812), timeToFirstToken: .milliseconds(90), finishReason: "stop")
            try await store.store(response, for: "k1")
            let hit = try #require(try await store.cachedResponse(for: "k1", maxAge: nil))
            #expect(hit.text == "answer" && hit.model == "m-1" && hit.usage == response.usage && hit.costUSD == 0.002)
            #expect(hit.latency == .milliseconds(812) && hit.timeToFirstToken == .milliseconds(90) && hit.finishReason == "stop")
            #expect(try await store.cachedResponse(for: "k1", maxAge: .seconds(3600))?.text == "answer")
            #expect(try await store.cachedResponse(for: "k1", maxAge: .zero) == nil)
            #expect(try await store.cachedResponse(for: "other", maxAge: nil) == nil)
            try await store.store(ChatResponse(text: "newer", model: nil, backend: "b"), for: "k1")
            #expect(try await store.cachedResponse(for: "k1", maxAge: nil)?.text == "newer")
        }
    }

    @Test(arguments: StoreKind.available)
    func claimsAreLeasedAndFenced(_ kind: StoreKind) async throws {
        try await kind.with { store in
            #expect(try await store.beginJob("j"))
            let again = try await store.beginJob("j")
            #expect(!again)
            let exists = try await store.jobExists("j")
            let missing = try await store.jobExists("nope")
            #expect(exists && !missing)
            guard case .claimed(let first, let existing)? = try await claim(store, "j", "x", owner: "a") else {
                Issue.record("not claimed")
                return
            }
            #expect(existing == nil)
            // Another owner finds it held; the same owner may claim again.
            #expect(try await claim(store, "j", "x", owner: "b").map { if case .heldElsewhere = $0 { true } else { false } } == true)
            #expect(try await store.saveResult(SavedResult(persona: "builder", review: "{}", costUSD: 0.01), claim: first, settling: nil))
            // A lease that expired is taken over; the old holder's writes change nothing from then on.
            guard case .claimed(let mine, _)? = try await claim(store, "j", "x", owner: "a", lease: .zero) else { return }
            guard case .claimed(let theirs, let seen)? = try await claim(store, "j", "x", owner: "b") else {
                Issue.record("an expired lease was not taken over")
                return
            }
            #expect(seen?.status == .pending)
            #expect(try await !store.saveResult(SavedResult(persona: "skeptic", review: "{}", costUSD: 0.5), claim: mine, settling: nil))
            let lost = try await store.finishItem(
                mine, name: "X", status: .complete, outcome: .init(), base: "x", lastResult: nil, settling: nil, isTaken: { _ in false },
                documents: { [$0 + ".md"] })
            #expect(lost == nil)
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["builder"])
            #expect(try await store.spent(job: "j") == 0.01)
            let name = try await store.finishItem(
                theirs, name: "X", status: .complete, outcome: .init(verdict: "ship", answered: 4), base: "x",
                lastResult: SavedResult(persona: "founder", review: "{}", costUSD: 0.02), settling: nil, isTaken: { _ in false },
                documents: { [$0 + ".md"] })
            #expect(name == "x")
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["builder", "founder"])
            #expect(abs(try await store.spent(job: "j") - 0.03) < 1e-9)
            // A finished item is settled: no claim.
            #expect(try await claim(store, "j", "x", owner: "c").map { if case .settled = $0 { true } else { false } } == true)
        }
    }

    @Test(arguments: StoreKind.available)
    func namesItemsAndCountsFollowTheInput(_ kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await store.beginJob("j")
            let keys = ["c", "a", "b"]
            let claims = try await store.claim(
                job: "j", listings: keys.enumerated().map { ($1, $0) }, owner: "o", lease: .seconds(60), settled: { _ in false })
            #expect(claims.count == 3)
            var names: [String?] = []
            for case .claimed(let claim, _) in claims {
                names.append(
                    try await store.finishItem(
                        claim, name: "Tool", status: claim.key == "b" ? .partial : .complete, outcome: .init(), base: "tool",
                        lastResult: nil,
                        settling: nil, isTaken: { $0 == "tool-2" }, documents: { ["\($0).md"] }))
            }
            #expect(names == ["tool", "tool-3", "tool-4"])  // unique per job; tool-2 is taken on disk
            try await store.failItem(job: "j", key: "bad", error: "line 4: not JSON", position: 3)
            try await store.setDocuments(job: "j", key: "c", documents: ["tool.md", "tool.html"])
            var items: [BatchItem] = []
            try await store.forEachItem(job: "j") { items.append($0) }
            #expect(items.map(\.key) == ["c", "a", "b", "bad"])
            #expect(items[0].documents == ["tool.md", "tool.html"] && items[3].error == "line 4: not JSON")
            let jobs = try await store.jobs()
            #expect(jobs.map(\.name) == ["j"] && jobs[0].createdAt.count == 19)
            let counts = try await store.itemCounts(job: "j")
            #expect(counts[.complete] == 2 && counts[.partial] == 1 && counts[.failed] == 1)
        }
    }

    @Test(arguments: StoreKind.available)
    func theBudgetHoldsAcrossReservations(_ kind: StoreKind) async throws {
        try await kind.with { store in
            let other = try await kind.reopen(store)
            _ = try await store.beginJob("j")
            let first = try #require(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.6, limitUSD: 1))
            #expect(try await other.reserveBudget(job: "j", owner: "b", amountUSD: 0.6, limitUSD: 1) == nil)
            try await store.releaseBudget(first)
            let second = try #require(try await other.reserveBudget(job: "j", owner: "b", amountUSD: 0.6, limitUSD: 1))
            guard case .claimed(let claim, _)? = try await claim(other, "j", "x", owner: "b") else { return }
            #expect(try await other.saveResult(SavedResult(persona: "builder", review: "{}", costUSD: 0.5), claim: claim, settling: second))
            #expect(try await store.spent(job: "j") == 0.5)
            #expect(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.6, limitUSD: 1) == nil)
            #expect(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.5, limitUSD: 1) != nil)
            try await store.renewLeases(owner: "a", lease: .seconds(30))
        }
    }

    /// Two processes racing for the same listings: each listing is claimed by exactly one.
    @Test(arguments: StoreKind.available)
    func racingProcessesClaimEachListingOnce(_ kind: StoreKind) async throws {
        try await kind.with { first in
            let second = try await kind.reopen(first)
            _ = try await first.beginJob("race")
            let listings = (0..<40).map { ("listing-\($0)", $0) }
            async let a = first.claim(job: "race", listings: listings, owner: "a", lease: .seconds(60), settled: { _ in false })
            async let b = second.claim(job: "race", listings: listings, owner: "b", lease: .seconds(60), settled: { _ in false })
            let (claimsA, claimsB) = try await (a, b)
            for index in listings.indices {
                let claimedA = if case .claimed = claimsA[index] { true } else { false }
                let claimedB = if case .claimed = claimsB[index] { true } else { false }
                #expect(claimedA != claimedB, "listing \(index): claimed by both or by neither")
            }
        }
    }
}
