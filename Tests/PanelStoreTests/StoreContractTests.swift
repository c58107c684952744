import Foundation
import ModelBackends
import PanelEngine
import PanelPostgres
import PanelStore
import Testing

/// The store protocol's contract, run against SQLite, PostgreSQL and the in-memory twin alike. PostgreSQL runs when
/// `PANEL_TEST_POSTGRES_URL` names a server (`.ci/run` starts one and sets it, with
/// `PANEL_REQUIRE_POSTGRES=1`); each test gets a database of its own.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres, memory

    var testDescription: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// The kinds this machine can test: SQLite and memory always, PostgreSQL when a server is named.
    static let available: [StoreKind] = postgresURL == nil ? [.sqlite, .memory] : [.sqlite, .postgres, .memory]

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
        case .memory:
            return MemoryStore()
        }
    }

    /// A second handle on the same store (another process, as far as the store can tell).
    func reopen(_ store: any ReviewStore) async throws -> any ReviewStore {
        switch self {
        case .sqlite: return try PanelStore(path: store.location)
        case .memory: return store
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
        case .memory:
            break
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

    /// A listing's statements run on connections of the store's own beside the pool (its lanes): with
    /// every connection of the database cut by the server, saves and the finish still land — each once —
    /// on lanes connected again (or through the pool meanwhile).
    @Test(.enabled(if: StoreKind.postgresURL != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func listingStatementsOutliveTheirConnections() async throws {
        try await StoreKind.postgres.with { store in
            try await enqueue(store, "j", ["x"])
            let claim = try #require(try await claim(store, "j").first).claim
            let database = String(store.location.split(separator: "/").last ?? "")
            let url = StoreKind.url(try #require(StoreKind.postgresURL), database: database)
            var saved = 0
            for persona in ["builder", "skeptic", "founder"] {
                let others = """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """
                try await PostgresStore.administer(url: url, [others])
                // A statement on a connection the server just cut may fail once (a step is retried by its caller).
                for _ in 0..<50 {
                    let result = SavedResult(persona: persona, review: "{}", costUSD: nil)
                    if let held = try? await store.saveResult(result, claim: claim, settling: nil) {
                        #expect(held)
                        saved += 1
                        break
                    }
                }
            }
            #expect(saved == 3)
            let name = try await store.finishItem(
                claim, name: "x", status: .complete, outcome: .init(), base: "x",
                lastResult: SavedResult(persona: "futurist", review: "{}", costUSD: nil), settling: nil, isTaken: { _ in false },
                texts: ["json": "{}"], documents: { ["\($0).json"] })
            #expect(name == "x")
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["builder", "founder", "futurist", "skeptic"])
        }
    }

    /// Queues listings (each `{"name": key}`) on a job.
    @discardableResult
    func enqueue(_ store: any ReviewStore, _ job: String, _ keys: [String], budget: Double? = nil) async throws -> EnqueueResult {
        try await store.enqueue(
            job: job, settings: "{}", budgetUSD: budget,
            listings: keys.enumerated().map {
                QueuedListing(key: $1, position: $0, listing: "{\"name\": \"\($1)\"}", trace: Self.traceparent)
            }, retry: false)
    }

    /// The trace every listing is enqueued in here (W3C traceparent): its claim carries it back.
    static let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    func claim(
        _ store: any ReviewStore, _ job: String, owner: String = "a", lease: Duration = .seconds(60), limit: Int = 1,
        maxAttempts: Int = 3
    ) async throws -> [QueuedClaim] {
        try await store.claimQueued(job: job, excluding: [], owner: owner, lease: lease, limit: limit, maxAttempts: maxAttempts)
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
            #expect(try await enqueue(store, "j", ["x"]) == EnqueueResult(newJob: true, added: 1, requeued: 0))
            #expect(try await enqueue(store, "j", ["x"]) == EnqueueResult(newJob: false, added: 0, requeued: 0))
            let exists = try await store.jobExists("j")
            let missing = try await store.jobExists("nope")
            #expect(exists && !missing)
            let first = try #require(try await claim(store, "j", owner: "a").first)
            #expect(first.attempt == 1 && !first.hasResults && first.listing == #"{"name": "x"}"#)
            #expect(first.trace == Self.traceparent)
            // Another owner finds nothing to claim while the lease lives.
            #expect(try await claim(store, "j", owner: "b").isEmpty)
            #expect(try await store.openItems(job: "j", excluding: []) == 1)
            #expect(
                try await store.saveResult(SavedResult(persona: "builder", review: "{}", costUSD: 0.01), claim: first.claim, settling: nil))
            // A lease that expired is taken over, with the reason; the old holder's writes change nothing from then on.
            try await store.renewLeases(owner: "a", lease: .zero)
            let theirs = try #require(try await claim(store, "j", owner: "b").first)
            #expect(theirs.attempt == 2 && theirs.hasResults)
            #expect(
                try await !store.saveResult(SavedResult(persona: "skeptic", review: "{}", costUSD: 0.5), claim: first.claim, settling: nil))
            let lost = try await store.finishItem(
                first.claim, name: "X", status: .complete, outcome: .init(), base: "x",
                lastResult: SavedResult(persona: "futurist", review: "{}", costUSD: 0.7), settling: nil,
                isTaken: { _ in false }, texts: ["md": "lost"], documents: { [$0 + ".md"] })
            #expect(lost == nil)
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["builder"])
            #expect(try await store.spent(job: "j") == 0.01)
            let name = try await store.finishItem(
                theirs.claim, name: "X", status: .complete, outcome: .init(verdict: "ship", answered: 4), base: "x",
                lastResult: SavedResult(persona: "founder", review: "{}", costUSD: 0.02), settling: nil, isTaken: { _ in false },
                texts: ["md": "# X", "json": "{}"], documents: { [$0 + ".md"] })
            #expect(name == "x")
            #expect(try await store.results(job: "j", key: "x").keys.sorted() == ["builder", "founder"])
            #expect(abs(try await store.spent(job: "j") - 0.03) < 1e-9)
            // A finished listing is not claimed again, nor queued again by the same input.
            #expect(try await claim(store, "j", owner: "c").isEmpty)
            #expect(try await store.openItems(job: "j", excluding: []) == 0)
            #expect(try await enqueue(store, "j", ["x"]).added == 0)
            var documents: [StoredDocument] = []
            try await store.forEachDocument(job: "j") { documents.append($0) }
            #expect(
                documents == [
                    StoredDocument(key: "x", name: "x", fileExtension: "json", text: "{}"),
                    .init(key: "x", name: "x", fileExtension: "md", text: "# X"),
                ])
            // Only the documents wanted, by name and extension, are read.
            var asked: [String] = []
            documents = []
            try await store.forEachDocument(
                job: "j",
                wanted: {
                    asked.append("\($0).\($1)")
                    return $1 == "md"
                }
            ) { documents.append($0) }
            #expect(asked == ["x.json", "x.md"])
            #expect(documents == [.init(key: "x", name: "x", fileExtension: "md", text: "# X")])
        }
    }

    /// A listing whose claims keep ending unfinished is failed with the last reason; giving one back is
    /// no attempt (unless given back as tried and failed); a cancelled job is not claimed from.
    @Test(arguments: StoreKind.available)
    func attemptsReleasesAndCancelling(_ kind: StoreKind) async throws {
        try await kind.with { store in
            try await enqueue(store, "j", ["y"])
            for attempt in 1...2 {
                #expect(try await claim(store, "j", owner: "w\(attempt)", maxAttempts: 2).first?.attempt == attempt)
                try await store.renewLeases(owner: "w\(attempt)", lease: .zero)
            }
            #expect(try await claim(store, "j", owner: "w3", maxAttempts: 2).isEmpty)
            var items: [BatchItem] = []
            try await store.forEachItem(job: "j") { items.append($0) }
            #expect(items.first?.status == .failed)
            let error = items.first?.error ?? ""
            #expect(error.contains("claimed 2 times") && error.contains("the lease of w2 expired"), "\(error)")
            // Enqueued again, a failed listing is queued anew.
            #expect(try await enqueue(store, "j", ["y"]).requeued == 1)
            let again = try #require(try await claim(store, "j").first)
            #expect(again.attempt == 1)
            try await store.release(again.claim, name: "Y")
            let reclaimed = try #require(try await claim(store, "j").first)
            #expect(reclaimed.attempt == 1)
            // Given back because its backend could not be reached from the worker's host: that claim counts.
            try await store.release(reclaimed.claim, name: nil, attempted: true)
            #expect(try await claim(store, "j").first?.attempt == 2)
            try await store.renewLeases(owner: "a", lease: .zero)
            // Cancelled: nothing is claimed and nothing is open, until the job is enqueued again.
            #expect(try await store.cancelJob("j"))
            #expect(try await !store.cancelJob("nope"))
            #expect(try await store.job("j")?.cancelled == true)
            #expect(try await claim(store, "j").isEmpty)
            #expect(try await store.openItems(job: nil, excluding: []) == 0)
            try await enqueue(store, "j", ["y"])
            #expect(try await store.openItems(job: nil, excluding: []) == 1)
            #expect(try await store.openItems(job: nil, excluding: ["j"]) == 0)
            #expect(try await claim(store, "j").count == 1)
        }
    }

    /// Names reserved at enqueue, in input order: the listing that finishes first does not take the
    /// first name when it came second.
    @Test(arguments: StoreKind.available)
    func namesAreReservedInInputOrderWhateverFinishesFirst(_ kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await store.enqueue(
                job: "j", settings: nil, budgetUSD: nil,
                listings: ["first", "second"].enumerated().map { QueuedListing(key: $1, position: $0, listing: "{}") }, retry: false)
            try await store.reserveNames(job: "j", [("first", "acme-relay"), ("second", "acme-relay")], isTaken: { $0 == "summary" })
            // Reserving again keeps them.
            try await store.reserveNames(job: "j", [("second", "acme-relay"), ("first", "acme-relay")], isTaken: { _ in false })
            let claims = try await claim(store, "j", owner: "o", limit: 10)
            var names: [String: String] = [:]
            for claim in claims.reversed() {
                names[claim.claim.key] = try await store.finishItem(
                    claim.claim, name: "Acme Relay", status: .complete, outcome: .init(), base: "acme-relay", lastResult: nil,
                    settling: nil, isTaken: { _ in false }, texts: [:], documents: { ["\($0).md"] })
            }
            #expect(names == ["first": "acme-relay", "second": "acme-relay-2"])
        }
    }

    /// A new job's first names, chosen in one step, follow the rule names chosen one by one follow: a
    /// name taken on disk is skipped, collisions count on, and a key given twice keeps its first name;
    /// a name reserved later takes the first free in the store (what was taken on disk then is not now).
    @Test(arguments: StoreKind.available)
    func aNewJobsNamesSkipWhatIsTakenAndAKeyKeepsItsFirstName(_ kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await store.enqueue(
                job: "j", settings: nil, budgetUSD: nil,
                listings: ["a", "b", "c", "d", "e", "f"].enumerated().map { QueuedListing(key: $1, position: $0, listing: "{}") },
                retry: false)
            try await store.reserveNames(
                job: "j", [("a", "tool"), ("b", "tool"), ("a", "other"), ("c", "tool")], isTaken: { $0 == "tool-2" })
            try await store.reserveNames(job: "j", [("d", "tool"), ("a", "other")], isTaken: { _ in false })
            // One name among many named before (SQLite names it by look-ups then, not by reading them all).
            try await store.reserveNames(job: "j", [("e", "tool")], isTaken: { _ in false })
            try await store.reserveNames(job: "j", [("f", "tool")], isTaken: { $0 == "tool-6" })
            try await store.reserveNames(job: "j", [("b", "other")], isTaken: { _ in false })
            var names: [String: String] = [:]
            for claim in try await claim(store, "j", owner: "o", limit: 10) {
                names[claim.claim.key] = try await store.finishItem(
                    claim.claim, name: "Tool", status: .complete, outcome: .init(), base: "tool", lastResult: nil,
                    settling: nil, isTaken: { _ in false }, texts: [:], documents: { ["\($0).md"] })
            }
            #expect(names == ["a": "tool", "b": "tool-3", "c": "tool-4", "d": "tool-2", "e": "tool-5", "f": "tool-7"])
        }
    }

    @Test(arguments: StoreKind.available)
    func namesItemsAndCountsFollowTheInput(_ kind: StoreKind) async throws {
        try await kind.with { store in
            let result = try await store.enqueue(
                job: "j", settings: #"{"formats": ["markdown"]}"#, budgetUSD: 2.5,
                listings: ["c", "a", "b"].enumerated().map { QueuedListing(key: $1, position: $0, listing: "{}") }
                    + [QueuedListing(key: "bad", position: 3, listing: nil, error: "line 4: not JSON")], retry: false)
            #expect(result == EnqueueResult(newJob: true, added: 3, requeued: 0))
            #expect(
                try await store.job("j") == JobRecord(name: "j", settings: #"{"formats": ["markdown"]}"#, budgetUSD: 2.5, cancelled: false))
            let claims = try await claim(store, "j", owner: "o", limit: 10)
            #expect(claims.map(\.claim.key) == ["c", "a", "b"])
            var names: [String?] = []
            for claim in claims {
                names.append(
                    try await store.finishItem(
                        claim.claim, name: "Tool", status: claim.claim.key == "b" ? .partial : .complete, outcome: .init(), base: "tool",
                        lastResult: nil, settling: nil, isTaken: { $0 == "tool-2" }, texts: ["md": claim.claim.key],
                        documents: { ["\($0).md", "\($0).html"] }))
            }
            #expect(names == ["tool", "tool-3", "tool-4"])  // unique per job; tool-2 is taken on disk
            var items: [BatchItem] = []
            try await store.forEachItem(job: "j") { items.append($0) }
            #expect(items.map(\.key) == ["c", "a", "b", "bad"])
            #expect(items[0].documents == ["tool.md", "tool.html"] && items[3].error == "line 4: not JSON")
            var documents: [String] = []
            try await store.forEachDocument(job: "j") { documents.append("\($0.name)=\($0.text)") }
            #expect(documents == ["tool=c", "tool-3=a", "tool-4=b"])
            let jobs = try await store.jobs()
            #expect(jobs.map(\.name) == ["j"] && jobs[0].createdAt.count == 19 && jobs[0].budgetUSD == 2.5)
            let counts = try await store.itemCounts(job: "j")
            #expect(counts[.complete] == 2 && counts[.partial] == 1 && counts[.failed] == 1)
            // Retried, the partial listing is queued again; the complete ones are not.
            let retried = try await store.enqueue(
                job: "j", settings: nil, budgetUSD: nil,
                listings: ["c", "a", "b"].enumerated().map { QueuedListing(key: $1, position: $0, listing: "{}") },
                retry: true)
            #expect(retried == EnqueueResult(newJob: false, added: 0, requeued: 1))
        }
    }

    /// Saves made at once (PostgreSQL sends them as one statement): each fenced on its own lease, each
    /// result kept and its cost counted, each reservation settled; another job's saves alike.
    @Test(arguments: StoreKind.available)
    func savesMadeAtOnceAreEachFencedAndCountedOnce(_ kind: StoreKind) async throws {
        try await kind.with { store in
            let keys = ["a", "b", "c", "d", "e", "f"]
            try await enqueue(store, "j", keys, budget: 1)
            try await enqueue(store, "k", ["z"])
            let claims = try await claim(store, "j", limit: 6).map(\.claim)
            #expect(claims.count == 6)
            let other = try #require(try await claim(store, "k").first?.claim)
            let reservations = [
                try #require(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.3, limitUSD: 1)),
                try #require(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.3, limitUSD: 1)),
            ]
            var saves: [(claim: ItemClaim, result: SavedResult, reservation: BudgetReservation?, held: Bool)] = []
            for (index, claim) in claims.enumerated() {
                for persona in ["builder", "skeptic", "founder"] {
                    let reservation = persona == "builder" && index < 2 ? reservations[index] : nil
                    saves.append(
                        (claim, SavedResult(persona: persona, review: "{\"k\": \"\(claim.key)\"}", costUSD: 0.01), reservation, true))
                }
                // A save under a lease that is not this one's: nothing kept, nothing counted.
                let stale = ItemClaim(job: claim.job, key: claim.key, token: claim.token + "-stale")
                saves.append((stale, SavedResult(persona: "futurist", review: "{}", costUSD: 0.5), nil, false))
            }
            saves.append((other, SavedResult(persona: "builder", review: "{}", costUSD: nil), nil, true))
            let held = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for (index, save) in saves.enumerated() {
                    group.addTask { (index, try await store.saveResult(save.result, claim: save.claim, settling: save.reservation)) }
                }
                var held = [Bool](repeating: false, count: saves.count)
                for try await (index, isHeld) in group { held[index] = isHeld }
                return held
            }
            #expect(held == saves.map(\.held))
            for claim in claims {
                let results = try await store.results(job: "j", key: claim.key)
                #expect(results.keys.sorted() == ["builder", "founder", "skeptic"])
                #expect(results["skeptic"] == "{\"k\": \"\(claim.key)\"}")
            }
            #expect(try await store.results(job: "k", key: "z").keys.sorted() == ["builder"])
            #expect(abs(try await store.spent(job: "j") - 0.18) < 1e-9)
            #expect(try await store.spent(job: "k") == 0)
            // Both reservations settled: 0.18 spent leaves room for 0.8 (not with 0.6 still reserved).
            #expect(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.8, limitUSD: 1) != nil)
        }
    }

    /// A save repeated (its step retried after a lost connection) is kept once and counted once; a
    /// persona asked again after it abstained replaces its result, and the new answer's cost counts —
    /// on every store (PostgreSQL kept the first result and dropped the new answer's cost).
    @Test(arguments: StoreKind.available)
    func aRepeatedSaveCountsOnceAndANewAnswerReplacesTheOld(_ kind: StoreKind) async throws {
        try await kind.with { store in
            try await enqueue(store, "j", ["x"])
            let claim = try #require(try await claim(store, "j").first).claim
            let abstained = SavedResult(persona: "builder", review: #"{"status": "abstained"}"#, costUSD: 0.25)
            #expect(try await store.saveResult(abstained, claim: claim, settling: nil))
            #expect(try await store.saveResult(abstained, claim: claim, settling: nil))
            #expect(try await store.spent(job: "j") == 0.25)
            let answered = SavedResult(persona: "builder", review: #"{"status": "answered"}"#, costUSD: 0.5)
            #expect(try await store.saveResult(answered, claim: claim, settling: nil))
            #expect(try await store.results(job: "j", key: "x") == ["builder": answered.review])
            #expect(try await store.spent(job: "j") == 0.75)
            // The same through the finish's last save.
            let name = try await store.finishItem(
                claim, name: "X", status: .complete, outcome: .init(), base: "x", lastResult: answered, settling: nil,
                isTaken: { _ in false }, texts: ["json": "{}"], documents: { [$0 + ".json"] })
            #expect(name == "x")
            #expect(try await store.spent(job: "j") == 0.75)
            // A save under a lease that is gone changes nothing, even with the same result.
            #expect(try await !store.saveResult(answered, claim: claim, settling: nil))
        }
    }

    @Test(arguments: StoreKind.available)
    func theBudgetHoldsAcrossReservations(_ kind: StoreKind) async throws {
        try await kind.with { store in
            let other = try await kind.reopen(store)
            try await enqueue(store, "j", ["x"])
            let first = try #require(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.6, limitUSD: 1))
            #expect(try await other.reserveBudget(job: "j", owner: "b", amountUSD: 0.6, limitUSD: 1) == nil)
            try await store.releaseBudget(first)
            let second = try #require(try await other.reserveBudget(job: "j", owner: "b", amountUSD: 0.6, limitUSD: 1))
            let claim = try #require(try await claim(other, "j", owner: "b").first?.claim)
            #expect(try await other.saveResult(SavedResult(persona: "builder", review: "{}", costUSD: 0.5), claim: claim, settling: second))
            #expect(try await store.spent(job: "j") == 0.5)
            #expect(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.6, limitUSD: 1) == nil)
            #expect(try await store.reserveBudget(job: "j", owner: "a", amountUSD: 0.5, limitUSD: 1) != nil)
            try await store.renewLeases(owner: "a", lease: .seconds(30))
        }
    }

    /// Rate windows in the store hold across processes sharing it.
    @Test(arguments: StoreKind.available)
    func rateWindowsAreShared(_ kind: StoreKind) async throws {
        try await kind.with { store in
            let other = try await kind.reopen(store)
            let limit = RateLimit(requestsPerMinute: 2)
            // Twice at most: a minute may end between two calls once, not twice in a few milliseconds.
            var full: Duration?
            for attempt in 1...2 where full == nil {
                let first = try await store.take(backend: "b\(attempt)", tokens: 10, limit: limit)
                let second = try await other.take(backend: "b\(attempt)", tokens: 10, limit: limit)
                #expect(first == nil && second == nil)
                full = try await store.take(backend: "b\(attempt)", tokens: 10, limit: limit)
            }
            let wait = try #require(full, "a third call in the window was let through")
            #expect(wait > .zero && wait <= .seconds(60))
            #expect(try await other.take(backend: "c", tokens: 10, limit: limit) == nil)
        }
    }

    /// Two processes racing for the same listings: each listing is claimed by exactly one.
    @Test(arguments: StoreKind.available)
    func racingProcessesClaimEachListingOnce(_ kind: StoreKind) async throws {
        try await kind.with { first in
            let second = try await kind.reopen(first)
            let keys = (0..<40).map { "listing-\($0)" }
            try await enqueue(first, "race", keys)
            async let a = claimAll(first, owner: "a")
            async let b = claimAll(second, owner: "b")
            let (claimsA, claimsB) = try await (a, b)
            #expect(Set(claimsA).isDisjoint(with: claimsB), "a listing was claimed twice")
            #expect(Set(claimsA).union(claimsB) == Set(keys))
        }
    }

    /// Claims take a job's listings in their input order, and with no job named, the oldest job's first —
    /// whichever statement a store uses for each. (Jobs made in the same second tie on SQLite's clock and
    /// go by name: the older job's name sorts first here too.)
    @Test(arguments: StoreKind.available)
    func claimsFollowTheInputOrderAndTheOldestJobFirst(_ kind: StoreKind) async throws {
        try await kind.with { store in
            _ = try await enqueue(store, "j1-older", ["o3", "o1", "o2"])
            _ = try await enqueue(store, "j2-newer", ["n2", "n1"])
            #expect(try await claim(store, "j2-newer", limit: 1).map(\.claim.key) == ["n2"])
            #expect(try await claim(store, "j1-older", limit: 2).map(\.claim.key) == ["o3", "o1"])
            for expected in ["o2", "n1"] {
                let any = try await store.claimQueued(job: nil, excluding: [], owner: "b", lease: .seconds(60), limit: 1, maxAttempts: 3)
                #expect(any.map(\.claim.key) == [expected])
            }
        }
    }

    /// Claims a few at a time until nothing is left, as a worker does.
    func claimAll(_ store: any ReviewStore, owner: String) async throws -> [String] {
        var keys: [String] = []
        while true {
            let claims = try await claim(store, "race", owner: owner, limit: 3)
            if claims.isEmpty { return keys }
            keys += claims.map(\.claim.key)
        }
    }
}
