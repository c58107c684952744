import Foundation
import MockProvider
import ModelBackends
import ModelRouter
import PanelEngine
import PanelKit
import Synchronization
import Testing

/// The engine as front ends use it: the same settings and documents for `review` and `batch`,
/// budgets that hold for routed personas, recordings that fail as our own errors, and a router that
/// fails over at once from a backend that cannot be reached.
@Suite(.timeLimit(.minutes(5)))
struct EngineTests {
    func mockConfiguration(_ baseURL: String, price: Price? = nil) -> PanelConfiguration {
        PanelConfiguration(
            backends: [BackendConfiguration(name: "mock", kind: .openai, baseURL: baseURL, model: "m", price: price)],
            defaultBackend: "mock")
    }

    func engine(
        _ configuration: PanelConfiguration, overrides: ReviewOverrides = .init(), recordDirectory: String? = nil
    ) throws
        -> ReviewEngine
    {
        let backends = try EngineBackends(
            BackendSettings(source: .configuration(configuration), recordDirectory: recordDirectory, cacheMode: .off, environment: [:]),
            cache: nil)
        return ReviewEngine(settings: .resolved(overrides, configuration: configuration), backends: backends)
    }

    func listing(_ workspace: Workspace, _ name: String = "Acme Relay") throws -> String {
        try workspace.write(
            "\(Slug.make(name)).yaml",
            """
            name: "\(name)"
            tagline: "Typed webhooks as a service"
            category: "Developer Tools"
            description: "\(name) receives, verifies and retries webhooks, and hands your code typed events."
            """)
    }

    /// A document with everything that may differ between two runs of the same review taken out:
    /// the date, wall time and each call's timings.
    func comparable(_ document: ReviewDocument) -> ReviewDocument {
        var document = document
        document.generatedAt = "-"
        document.totals.wallMS = 0
        for t in document.tools.indices {
            for r in document.tools[t].reviews.indices {
                document.tools[t].reviews[r].latencyMS = nil
                document.tools[t].reviews[r].ttftMS = nil
            }
        }
        return document
    }

    /// A listing reviewed by `batch` gets the document `review` gives it with the same settings —
    /// quorum, templates, temperature, answer length — but for dates and timings; and its wall time is
    /// real, not zero.
    @Test func batchAndReviewGiveTheSameDocument() async throws {
        let workspace = try Workspace()
        let path = try listing(workspace)
        var mock = MockProviderConfiguration()
        mock.latency = .milliseconds(5)
        mock.shape = .mixed
        try await MockProvider.withServer(mock) { handle in
            let engine = try engine(
                mockConfiguration(handle.baseURL, price: Price(inputPerMTok: 0.1, outputPerMTok: 0.4)),
                overrides: ReviewOverrides(temperature: 0.7, maxOutputTokens: 300, quorum: 4))
            let reviewed = await engine.review([try ListingLoader.load(path: path)])

            let store = MemoryStore()
            let sink = DirectorySink(path: workspace.file("out"))
            _ = try sink.prepare()
            let driver = BatchDriver(
                engine: engine, store: store, sink: sink, options: .init(job: "parity", formats: [.json, .markdown], concurrency: 4))
            #expect(try await driver.run(BatchInputs(paths: [path])) == false)
            let batched = try JSONDocumentRenderer.decode(
                Data(contentsOf: URL(fileURLWithPath: sink.address(name: "acme-relay", format: .json))), source: "batch")

            #expect(comparable(batched) == comparable(reviewed))
            #expect(batched.tools[0].panel.verdict == reviewed.tools[0].panel.verdict)
            #expect(batched.totals.wallMS >= 5)  // four calls of at least 5 ms each, at once
            #expect(batched.provenance?.panelVersion == PanelVersion.current)
            #expect(batched.provenance?.prompts.count == 4 && batched.provenance?.templates.count == 2)
            #expect(batched.tools[0].reviews.allSatisfy { $0.family == "openai" || $0.family == nil })
            // Quorum 4 reached both ways: the configuration's settings are the batch's too.
            #expect(batched.tools[0].panel.verdict != .incomplete)
        }
    }

    /// A routed persona's budget reserves the dearest backend the router could pick: a batch whose
    /// budget cannot cover that stops before paying for anything, though the cheap backend would fit.
    /// (Before, a routed persona was estimated at $0 and never stopped.)
    @Test func aRoutedBatchIsStoppedByItsBudget() async throws {
        let workspace = try Workspace()
        let path = try listing(workspace)
        try await MockProvider.withServer { handle in
            let cheap = BackendConfiguration(
                name: "cheap", kind: .openai, baseURL: handle.baseURL, model: "m", price: Price(inputPerMTok: 0, outputPerMTok: 0.1))
            let dear = BackendConfiguration(
                name: "dear", kind: .openai, baseURL: handle.baseURL, model: "m", price: Price(inputPerMTok: 0, outputPerMTok: 10))
            let configuration = PanelConfiguration(
                backends: [cheap, dear], defaultBackend: PanelConfiguration.routerName,
                router: RoutingConstraints(objective: .cheapest, explorationShare: 0))
            let engine = try engine(configuration)
            // The dear backend's ceiling: 60% of 700 tokens at $10/Mtok = $0.0042; the cheap one's $0.000042.
            let request = engine.pipeline().request(try ListingLoader.load(path: path), by: engine.settings.prompts.personas[0])
            let ceiling = try #require(engine.backends.costCeiling(request, persona: "builder"))
            #expect(abs(ceiling - 0.0042) < 1e-9)

            for (budget, calls) in [(0.003, 0), (1.0, 4)] {
                let store = MemoryStore()
                let before = handle.stats.snapshot.chatRequests
                let sink = DirectorySink(path: workspace.file("out-\(budget)"))
                _ = try sink.prepare()
                let driver = BatchDriver(
                    engine: engine, store: store, sink: sink,
                    options: .init(job: "j", concurrency: 1, budgetUSD: budget))
                let stopped = try await driver.run(BatchInputs(paths: [path]))
                #expect(stopped == (calls == 0))
                #expect(handle.stats.snapshot.chatRequests - before == calls)
                #expect(try await store.spent(job: "j") <= budget)
                let summary = try await driver.writeSummary(budgetStopped: stopped)
                #expect(summary.complete == (calls == 0 ? 0 : 1) && summary.notStarted == (calls == 0 ? 1 : 0))
            }
        }
    }

    /// A recording that cannot be written fails the persona after the one call that was made: it is not
    /// a provider error, so it is neither retried nor reported as one.
    @Test func aFailedRecordingWriteMakesExactlyOneCall() async throws {
        let workspace = try Workspace()
        let path = try listing(workspace)
        let recordings = workspace.file("recordings")
        try await MockProvider.withServer { handle in
            var configuration = mockConfiguration(handle.baseURL)
            configuration.backends[0].retry = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1))
            let engine = try engine(configuration, recordDirectory: recordings)
            // The directory passed the check at start-up; now it is gone and a file stands in its place.
            try FileManager.default.removeItem(atPath: recordings)
            try workspace.write("recordings", "not a directory")
            let document = await engine.review([try ListingLoader.load(path: path)])
            #expect(handle.stats.snapshot.chatRequests == 4)  // one per persona
            let reviews = document.tools[0].reviews
            #expect(reviews.allSatisfy { $0.status == .abstained && ($0.error ?? "").contains("cannot write the recording") })
            #expect(reviews.allSatisfy { !($0.error ?? "").contains("backend '") })
        }
    }

    /// A recording directory that cannot be written is refused before any call, naming it.
    @Test func anUnwritableRecordDirectoryIsRefusedUpFront() throws {
        let workspace = try Workspace()
        let file = try workspace.write("taken", "a file, not a directory")
        #expect {
            try engine(mockConfiguration("http://127.0.0.1:9/v1"), recordDirectory: file + "/sub")
        } throws: { error in
            "\(error)".contains("--record") && "\(error)".contains(file)
        }
    }

    /// With the cheapest of two backends refusing connections, a routed two-tool review moves every call
    /// to the other at once: one connect attempt each on the dead backend, no retry waits at all.
    @Test func routedCallsFailOverAtOnceFromAnUnreachableBackend() async throws {
        let workspace = try Workspace()
        let paths = [try listing(workspace, "Acme Relay"), try listing(workspace, "Globex Lens")]
        let deadPort = MockProvider.unusedPort()
        try await MockProvider.withServer { handle in
            let dead = BackendConfiguration(
                name: "dead", kind: .openai, baseURL: "http://127.0.0.1:\(deadPort)/v1", model: "m",
                price: Price(inputPerMTok: 0, outputPerMTok: 0.01))
            let live = BackendConfiguration(
                name: "live", kind: .openai, baseURL: handle.baseURL, model: "m", price: Price(inputPerMTok: 0, outputPerMTok: 1))
            let configuration = PanelConfiguration(
                backends: [dead, live], defaultBackend: PanelConfiguration.routerName,
                router: RoutingConstraints(objective: .cheapest, explorationShare: 0))
            let clock = RecordingSleepClock()
            let stack = BackendStack.build(configuration, keys: [:], options: .init(clock: clock))
            let router = try #require(stack[PanelConfiguration.routerName])
            let pipeline = ReviewPipeline(prompts: .builtIn(), backendFor: { _ in router })
            let start = ContinuousClock.now
            let run = await pipeline.run(try paths.map { try ListingLoader.load(path: $0) })
            let elapsed = ContinuousClock.now - start
            let results = run.tools.flatMap(\.results)
            #expect(results.count == 8 && results.allSatisfy { $0.review != nil && $0.backend == "live" })
            #expect(clock.waits.values.isEmpty, "no retry backoff on an unreachable backend")
            #expect(handle.stats.snapshot.chatRequests == 8)
            for result in results {
                let attempts = try #require(result.routing?.attempts)
                #expect(attempts.filter { $0.backend == "dead" }.count <= 1)
            }
            print("routed two-tool review with the cheapest backend down: \(elapsed)")
        }
    }

    /// JSON → render equals rendering the run directly.
    @Test func renderRoundTrips() async throws {
        let replay = try ReplayBackend(store: RecordingStore(directory: packageRoot.appendingPathComponent("fixtures/recordings")))
        let listings = try ["azure-ai-foundry-realtime-voice.yaml", "mistral-3-small.yaml"].map {
            try ListingLoader.load(path: packageRoot.appendingPathComponent("fixtures/listings/\($0)").path)
        }
        let run = await ReviewPipeline(prompts: .builtIn(), backendFor: { _ in replay }).run(listings)
        let direct = ReviewDocument(run: run, provenance: ReviewSettings().provenance)
        let json = JSONDocumentRenderer.render(direct)
        let reread = try JSONDocumentRenderer.decode(Data(json.utf8), source: "doc.json")
        #expect(reread == direct)
        for format in DocumentFormat.allCases { #expect(format.render(reread) == format.render(direct)) }
    }
    /// A batch works on its first listings while the rest are queued: its worker, finding nothing to claim
    /// and nothing open, waits for the rest to be queued instead of ending (here the rest is queued only
    /// once the first listing is done), and works on them too.
    @Test(.timeLimit(.minutes(1))) func aBatchWorksWhileTheRestIsQueuedAndEndsOnlyAfterIt() async throws {
        let workspace = try Workspace()
        let first = try listing(workspace, "Tool 0")
        let second = try listing(workspace, "Tool 1")
        try await MockProvider.withServer { handle in
            let engine = try engine(mockConfiguration(handle.baseURL))
            let store = MemoryStore()
            let batch = BatchDriver(engine: engine, store: store, sink: nil, options: .init(job: "j"))
            _ = try await batch.enqueue(BatchInputs(paths: [first]))
            let (firstDone, done) = AsyncStream<Void>.makeStream()
            let rest = Task {
                for await _ in firstDone { break }
                return try await batch.enqueue(BatchInputs(paths: [second]))
            }
            async let drained = batch.drain(queuing: rest)
            while try await store.itemCounts(job: "j")[.complete] ?? 0 < 1 { try await Task.sleep(for: .milliseconds(5)) }
            done.yield()
            #expect(try await drained == false)
            #expect(try await store.itemCounts(job: "j")[.complete] == 2)
        }
    }

    /// Queuing the rest failing ends the batch once what was queued is done, with an error that says so.
    @Test(.timeLimit(.minutes(1))) func aFailureQueuingTheRestIsReported() async throws {
        let workspace = try Workspace()
        let first = try listing(workspace, "Tool 0")
        try await MockProvider.withServer { handle in
            let engine = try engine(mockConfiguration(handle.baseURL))
            let store = MemoryStore()
            let batch = BatchDriver(engine: engine, store: store, sink: nil, options: .init(job: "j"))
            _ = try await batch.enqueue(BatchInputs(paths: [first]))
            let rest = Task<EnqueueResult, any Error> { throw EngineError("disk full") }
            await #expect {
                try await batch.drain(queuing: rest)
            } throws: { error in
                "\(error)".contains("cannot queue the rest of job j") && "\(error)".contains("disk full")
            }
            #expect(try await store.itemCounts(job: "j")[.complete] == 1)
        }
    }

    /// Queuing names listings after what the output directory holds, read in one pass (not asked name by
    /// name): a file an earlier run left keeps its name and the new listing takes the next one.
    @Test func queuingReadsTheOutputDirectoryOnceForNames() async throws {
        let workspace = try Workspace()
        let paths = try (0..<3).map { try listing(workspace, "Tool \($0)") }
        let out = workspace.file("out")
        let sink = DirectorySink(path: out)
        _ = try sink.prepare()
        try "kept".write(toFile: out + "/tool-1.md", atomically: true, encoding: .utf8)
        #expect(sink.occupied() == [out + "/tool-1.md"])
        #expect(DirectorySink(path: workspace.file("missing")).occupied() == nil)
        try await MockProvider.withServer { handle in
            let engine = try engine(mockConfiguration(handle.baseURL))
            let counting = ListingSink(sink)
            let batch = BatchDriver(engine: engine, store: MemoryStore(), sink: counting, options: .init(job: "out", formats: [.markdown]))
            _ = try await batch.enqueue(BatchInputs(paths: paths))
            #expect(counting.asked == 0)
            #expect(try await batch.drain() == false)
            let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
            #expect(files == ["tool-0.md", "tool-1-2.md", "tool-1.md", "tool-2.md"])
            #expect(try String(contentsOfFile: out + "/tool-1.md", encoding: .utf8) == "kept")
        }
    }

    /// The export at a batch's end looks in the sink only when some finished listing's documents were
    /// not written by this run. A run that wrote every listing asks the sink about nothing beyond the names
    /// it reserved; listings a worker (no sink) finished are exported, every format of each.
    @Test func theExportLooksForMissingFilesOnlyWhenOthersFinishedListings() async throws {
        let workspace = try Workspace()
        let paths = try (0..<3).map { try listing(workspace, "Tool \($0)") }
        try await MockProvider.withServer { handle in
            let engine = try engine(mockConfiguration(handle.baseURL))
            let formats: [DocumentFormat] = [.markdown, .json]
            let own = CountingSink(DirectorySink(path: workspace.file("own")))
            _ = try own.prepare()
            let alone = BatchDriver(engine: engine, store: MemoryStore(), sink: own, options: .init(job: "own", formats: formats))
            _ = try await alone.enqueue(BatchInputs(paths: paths))
            let askedWhenNaming = own.asked
            #expect(askedWhenNaming == 6)  // each listing's name, in each format
            #expect(try await alone.drain() == false)
            #expect(own.asked == askedWhenNaming)
            #expect(alone.progress.exported == 0)

            let store = MemoryStore()
            let shared = CountingSink(DirectorySink(path: workspace.file("shared")))
            _ = try shared.prepare()
            let batch = BatchDriver(engine: engine, store: store, sink: shared, options: .init(job: "shared", formats: formats))
            _ = try await batch.enqueue(BatchInputs(paths: paths))
            _ = try await BatchDriver(engine: engine, store: store, sink: nil, options: .init(job: "shared")).drain()
            #expect(try await batch.drain() == false)
            #expect(shared.asked > askedWhenNaming)
            let files = try FileManager.default.contentsOfDirectory(atPath: workspace.file("shared")).sorted()
            #expect(files == ["tool-0.json", "tool-0.md", "tool-1.json", "tool-1.md", "tool-2.json", "tool-2.md"])
        }
    }
}

/// A clock whose sleeps are noted and return at once.
struct RecordingSleepClock: Clock {
    typealias Duration = Swift.Duration
    typealias Instant = ContinuousClock.Instant

    final class Waits: Sendable {
        let list = Mutex<[Duration]>([])
        var values: [Duration] { list.withLock { $0 } }
    }

    let waits = Waits()
    var now: Instant { ContinuousClock.now }
    var minimumResolution: Duration { .zero }
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        waits.list.withLock { $0.append(deadline - ContinuousClock.now) }
    }

}

/// What a persona's calls cost is counted even when it abstains.
@Suite(.timeLimit(.minutes(5)))
struct AbstentionAccountingTests {
    struct Failing: ModelBackend {
        let name = "failing"
        let calls = CallCounter()
        let error: BackendError
        func complete(_ request: ChatRequest) async throws -> ChatResponse {
            _ = calls.next("all")
            throw error
        }
    }

    /// A persona that abstains after three failed calls shows three calls, and so do the totals (they
    /// showed 0).
    @Test func failedCallsCountAsAttempts() async throws {
        let failing = Failing(error: BackendError(kind: .server, backend: "failing", status: 500, detail: "boom"))
        let backend = RetryingBackend(failing, policy: RetryPolicy(maxAttempts: 3), clock: RecordingSleepClock())
        let pipeline = ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend })
        let run = await pipeline.run([Listing(name: "Acme", description: "Webhooks.")])
        let results = run.tools[0].results
        #expect(results.allSatisfy { $0.review == nil && $0.attempts == 3 })
        #expect(ReviewDocument(run: run).totals.calls == 12)
    }

    /// An answer too large to read is not asked for again: it would be as large the next time.
    @Test func anOversizedAnswerIsNotRetried() async throws {
        var error = BackendError(kind: .invalidResponse, backend: "failing", detail: "the answer is larger than 16 MiB")
        error.permanent = true
        let failing = Failing(error: error)
        let backend = RetryingBackend(failing, policy: RetryPolicy(maxAttempts: 4), clock: RecordingSleepClock())
        let pipeline = ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend })
        let result = await pipeline.review(Listing(name: "Acme", description: "Webhooks."), by: PromptSet.builtIn().personas[0])
        #expect(result.attempts == 1)
        #expect(failing.calls.next("all") == 2)  // one call was made before this
    }
}

/// A directory sink that lists its files at once, and counts how often it is asked about one address.
final class ListingSink: DocumentSink {
    let counting: CountingSink
    var asked: Int { counting.asked }
    init(_ base: DirectorySink) { counting = CountingSink(base) }
    var location: String { counting.location }
    func prepare() throws -> Int { try counting.prepare() }
    func address(name: String, format: DocumentFormat) -> String { counting.address(name: name, format: format) }
    func address(file: String) -> String { counting.address(file: file) }
    func exists(_ address: String) -> Bool { counting.exists(address) }
    func occupied() -> Set<String>? { counting.base.occupied() }
    func write(_ text: String, to address: String) throws { try counting.write(text, to: address) }
    func write(to address: String, _ body: (AtomicFile.Writer) async throws -> Void) async throws {
        try await counting.write(to: address, body)
    }
    func remove(_ address: String) { counting.remove(address) }
}

/// A directory sink that counts how often it is asked whether an address holds a file.
final class CountingSink: DocumentSink {
    let base: DirectorySink
    let count = Mutex(0)
    var asked: Int { count.withLock { $0 } }
    init(_ base: DirectorySink) { self.base = base }
    var location: String { base.location }
    func prepare() throws -> Int { try base.prepare() }
    func address(name: String, format: DocumentFormat) -> String { base.address(name: name, format: format) }
    func address(file: String) -> String { base.address(file: file) }
    func exists(_ address: String) -> Bool {
        count.withLock { $0 += 1 }
        return base.exists(address)
    }
    func write(_ text: String, to address: String) throws { try base.write(text, to: address) }
    func write(to address: String, _ body: (AtomicFile.Writer) async throws -> Void) async throws {
        try await base.write(to: address, body)
    }
    func remove(_ address: String) { base.remove(address) }
}
