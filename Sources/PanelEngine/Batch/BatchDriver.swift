import Foundation
public import ModelBackends
public import PanelKit
import Synchronization

/// Reviews the listings of one batch job: puts the rows on the job's queue in the store (with the
/// job's settings, so `panel worker`s elsewhere can help), then works through the queue as one of its
/// workers (``QueueWorker``) — each listing claimed under a lease, only the personas it still lacks
/// asked, each result saved as it completes, the budget reserved in the store — and keeps each
/// listing's documents in the store and writes them to the sink, with the same settings, pipeline and
/// document as ``ReviewEngine/review``. A worker's driver has no sink: its documents stay in the store.
///
/// Each listing's outcome goes to the store, from which the summary is streamed at the end.
public final class BatchDriver: Sendable {
    /// Options of one batch run.
    public struct Options: Sendable {
        public var job: String
        public var formats: [DocumentFormat]
        /// Persona calls in flight across the batch.
        public var concurrency: Int
        public var budgetUSD: Double?
        /// Ask abstained personas of partial listings again.
        public var retryFailed: Bool
        /// How long a claim holds a listing without a heartbeat; renewed every third of it.
        public var lease: Duration
        /// How often an idle worker looks at the queue again without being woken.
        public var pollInterval: Duration
        /// Claims of a listing that may end without it finished before it is failed.
        public var maxItemAttempts: Int
        /// A review's streamed text goes to its log at most this often per persona.
        public var deltaInterval: Duration = .milliseconds(100)

        public init(
            job: String, formats: [DocumentFormat] = [.markdown], concurrency: Int = 8, budgetUSD: Double? = nil,
            retryFailed: Bool = false, lease: Duration = QueueDefaults.lease, pollInterval: Duration = .milliseconds(250),
            maxItemAttempts: Int = QueueDefaults.maxItemAttempts
        ) {
            self.job = job
            self.formats = formats
            self.concurrency = concurrency
            self.budgetUSD = budgetUSD
            self.retryFailed = retryFailed
            self.lease = lease
            self.pollInterval = pollInterval
            self.maxItemAttempts = maxItemAttempts
        }
    }

    /// Where a run stands, for progress views.
    public struct Progress: Sendable {
        public var done = 0
        public var failed = 0
        public var inFlight = 0
        public var calls = 0
        public var spentUSD = 0.0
        public var budgetStopped = false
        /// Documents the sink lacked at the end (finished by other processes, or not written), written from the store.
        public var exported = 0
        /// Answers paid for that could not be saved: the listing's lease was lost while they were asked
        /// (another worker holds it now and asks those personas itself). Reported, never hidden.
        public var paidUnsaved = 0
        /// Listings given back to the queue because a backend could not be reached from this process.
        public var givenBack = 0
    }

    public let engine: ReviewEngine
    public let store: any ReviewStore
    /// Where the documents are written besides the store (nil for a worker).
    public let sink: (any DocumentSink)?
    public let options: Options
    /// This run's identity in leases.
    public let owner: String
    let onEvent: @Sendable (EngineEvent) -> Void
    let semaphore: AsyncSemaphore
    let state: Mutex<Progress>
    /// The listings whose every document this process wrote to the sink (keys): when they are all the job's
    /// finished listings, the export at the end has nothing to look for.
    let writtenHere = Mutex<Set<String>>([])
    let pipeline: ReviewPipeline
    /// Where the queue's time comes from (its worker's leases and backoff, store steps' retries).
    public let clock: any EngineClock

    /// `calls` and `owner` are shared by the drivers of one worker: its calls in flight across jobs, its
    /// identity in leases.
    public init(
        engine: ReviewEngine, store: any ReviewStore, sink: (any DocumentSink)?, options: Options, calls: AsyncSemaphore? = nil,
        owner: String = BatchDriver.makeOwner(), onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in },
        clock: any EngineClock = EngineExecutor.clock
    ) {
        self.clock = clock
        self.engine = engine
        self.store = store
        self.sink = sink
        self.options = options
        self.onEvent = onEvent
        self.owner = owner
        self.semaphore = calls ?? AsyncSemaphore(limit: options.concurrency)
        self.state = Mutex(Progress())
        self.pipeline = engine.pipeline(onEvent: onEvent)
    }

    public var progress: Progress { state.withLock { $0 } }

    var job: String { options.job }

    /// A process's identity in leases: host, process and a random part (two runs in one process differ).
    public static func makeOwner() -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UInt32.random(in: 0...UInt32.max))"
    }

    /// What the job records for its workers: these settings, formats and configuration.
    public var jobSettings: JobSettings {
        JobSettings(
            settings: engine.settings, formats: options.formats, retryFailed: options.retryFailed,
            configuration: engine.backends.configuration)
    }

    /// Puts every row of the inputs on the job's queue (with the job's settings and budget), a few
    /// thousand rows a step; a malformed row is recorded failed. Enqueuing the same inputs again adds
    /// nothing, but queues failed listings again (and partial ones with `retryFailed`).
    public func enqueue(_ inputs: BatchInputs) async throws -> EnqueueResult {
        try await enqueue(rows: inputs)
    }

    /// Puts rows read elsewhere (a request body) on the job's queue, as ``enqueue(_:)`` does files.
    /// `firstStep`: rows in the first step, each step after twice the one before up to ``enqueueChunk``
    /// (a batch working while it queues: its first claims wait behind short steps, and a long input still
    /// goes in few); `onFirstStep` called once the first is committed.
    public func enqueue<Rows: Sequence>(
        rows inputs: Rows, firstStep: Int = enqueueChunk, onFirstStep: () -> Void = {}
    ) async throws -> EnqueueResult where Rows.Element == BatchRow {
        let settings = jobSettings.json()
        var total = EnqueueResult(newJob: false, added: 0, requeued: 0)
        var chunk: [QueuedListing] = []
        var first = true
        var step = min(firstStep, Self.enqueueChunk)
        var names: [(key: String, base: String)] = []
        let isTaken = isTaken(occupied: sink?.occupied())
        func flush() async throws {
            let result = try await store.enqueue(
                job: job, settings: settings, budgetUSD: options.budgetUSD, listings: chunk, retry: options.retryFailed)
            // Named now, in input order: a listing named like an earlier one is `-2` whichever finishes first.
            try await store.reserveNames(job: job, names, isTaken: isTaken)
            names.removeAll(keepingCapacity: true)
            if first {
                total.newJob = result.newJob
                onFirstStep()
            }
            first = false
            total.added += result.added
            total.requeued += result.requeued
            chunk.removeAll(keepingCapacity: true)
        }
        for (position, row) in inputs.enumerated() {
            switch row.listing {
            case .success(let listing):
                if let warning = ListingLoader.unknownFieldsWarning(listing) { onEvent(.problem(warning)) }
                names.append((row.key, Slug.make(listing.name)))
                chunk.append(
                    QueuedListing(key: row.key, position: position, listing: listing.encoded))
            case .failure(let error):
                onEvent(.problem(error.description))
                state.withLock { $0.failed += 1 }
                chunk.append(QueuedListing(key: row.key, position: position, listing: nil, error: error.description))
            }
            if chunk.count >= step {
                try await flush()
                step = min(step * 2, Self.enqueueChunk)
            }
        }
        if !chunk.isEmpty || first { try await flush() }
        return total
    }

    /// Whether a document name is taken for this run: reserved (`summary`), or a file of that name in
    /// one of its formats is in the sink already.
    var isTaken: @Sendable (String) -> Bool { isTaken(occupied: nil) }

    /// ``isTaken`` answered from `occupied`, the sink's addresses read at once, when given. Queuing
    /// reads them once as it starts: a document this run writes meanwhile (its first listings are worked
    /// on while the rest are queued) has its name reserved in the store already, so the answer is the one
    /// the sink would give name by name.
    func isTaken(occupied: Set<String>?) -> @Sendable (String) -> Bool {
        let (formats, sink, reserved) = (options.formats, sink, Self.reservedNames)
        return { candidate in
            reserved.contains(candidate)
                || formats.contains { format in
                    guard let sink else { return false }
                    let address = sink.address(name: candidate, format: format)
                    return occupied?.contains(address) ?? sink.exists(address)
                }
        }
    }

    /// Rows enqueued in one step: one transaction for any batch of up to this many listings.
    public static let enqueueChunk = 5000

    /// Listings queued before a batch starts working (``startQueuing(_:)``): enough for every listing the
    /// worker holds at first (``QueueWorker/Options/listingsInFlight``) and the next claims.
    var firstStep: Int { max(64, 2 * options.concurrency) }

    /// Enqueues the inputs and works through the job's queue until no listing of it is left open —
    /// this process's, another's that finishes, or one taken over when its holder's lease expires —
    /// then writes to the sink every document the store keeps that the sink lacks (listings other
    /// processes finished). True when the budget stopped the batch.
    public func run(_ inputs: BatchInputs) async throws -> Bool {
        try await drain(queuing: try await startQueuing(inputs))
    }

    /// Queues the inputs' first listings (``firstStep``) and returns once they are committed; the task
    /// returned queues the rest, on Swift's pool beside the work (a long input's first calls wait for its
    /// first step only: 500 listings took 6 ms to queue). Throws what the first step threw.
    public func startQueuing(_ inputs: BatchInputs) async throws -> Task<EnqueueResult, any Error> {
        let (committed, signal) = AsyncStream<Void>.makeStream()
        let firstStep = firstStep
        let queuing = Task.detached { [self] in
            defer { signal.finish() }
            return try await enqueue(rows: inputs, firstStep: firstStep) { signal.yield() }
        }
        var first = committed.makeAsyncIterator()
        if await first.next() == nil { _ = try await queuing.value }
        return queuing
    }

    /// What a draining worker awaits of the queuing: its end, whatever it came to (a failure is reported
    /// by ``drain(queuing:)`` once the worker is done).
    static func awaiting(_ queuing: Task<EnqueueResult, any Error>) -> @Sendable () async -> Void {
        { _ = try? await queuing.value }
    }

    /// Works through the job's queue as one worker until nothing of it is open — with `queuing`, not
    /// before that has queued the rest — then exports what the sink lacks. True when the budget stopped
    /// the batch; throws what queuing the rest threw, once the listings already queued are done.
    public func drain(queuing: Task<EnqueueResult, any Error>? = nil) async throws -> Bool {
        let spent = try await store.spent(job: job)
        state.withLock { $0.spentUSD = spent }
        let worker = QueueWorker(
            store: store, owner: owner, calls: semaphore,
            options: .init(
                job: job, drain: true, concurrency: options.concurrency, lease: options.lease, maxItemAttempts: options.maxItemAttempts,
                pollInterval: options.pollInterval, queued: queuing.map(Self.awaiting)),
            onEvent: onEvent, clock: clock, driver: { [self] _ in self })
        try await worker.run()
        if let queuing {
            do {
                _ = try await queuing.value
            } catch {
                throw EngineError("cannot queue the rest of job \(job) in \(store.location): \(error)")
            }
        }
        if sink != nil { try await exportMissing() }
        return state.withLock { $0.budgetStopped }
    }

    /// Writes every document of the job the store keeps and the sink lacks, in this run's formats.
    public func exportMissing() async throws {
        guard let sink else { return }
        // Every finished listing of the job (complete or partial: those have documents) is one this process
        // wrote in full: the sink lacks none, and the store's documents need not be read and looked for one
        // by one. A listing finished elsewhere, in an earlier run, or whose file could not be written makes
        // the counts differ.
        let counts = try await store.itemCounts(job: job)
        let finished = (counts[.complete] ?? 0) + (counts[.partial] ?? 0)
        if finished == writtenHere.withLock({ $0.count }) { return }
        let record = try await store.job(job) ?? JobRecord(name: job, settings: nil, budgetUSD: options.budgetUSD, cancelled: false)
        let written = try await JobExport(store: store, job: record, templates: engine.settings.templates).writeDocuments(
            formats: options.formats, to: sink, missingOnly: true)
        state.withLock { $0.exported += written }
    }

    /// One claimed item of the queue — a batch's listing, or a review asked of the team server (its
    /// listings together) — worked, or given back when this process is stopping.
    /// `isLive` says whether the item's lease is still known to be held (``LeaseBook``): each persona's
    /// paid call starts only while it is; a persona not asked leaves the item to be given back.
    /// True when the item went back to the queue because a backend could not be reached from here (the
    /// worker then waits before claiming again, leaving the item to hosts that can reach it).
    @discardableResult
    public func work(_ queued: QueuedClaim, isLive: @escaping @Sendable () -> Bool = { true }) async -> Bool {
        if let review = TeamReview.id(ofJob: queued.claim.job) {
            await workReview(review, queued, isLive: isLive)
            return false
        }
        let listing: Listing
        do {
            // Foundation's decoder stays for what the fast reader refuses: it says what is wrong.
            listing = try Listing(encoded: queued.listing) ?? JSONDecoder().decode(Listing.self, from: Data(queued.listing.utf8))
        } catch {
            onEvent(.problem("\(queued.claim.key): the queued listing cannot be read (\(error))"))
            await detached { try await self.store.release(queued.claim, name: nil) }
            return false
        }
        return await work(
            listing, claim: queued.claim, hasResults: queued.hasResults, giveBackUnreachable: queued.attempt < options.maxItemAttempts,
            isLive: isLive)
    }

    /// Runs a store step outside this task's cancellation (giving a claim back must happen even when
    /// the work was cancelled).
    func detached(_ body: @escaping @Sendable () async throws -> Void) async {
        _ = await Task { try? await body() }.value
    }

    /// True when the listing went back to the queue for want of a backend (see ``work(_:isLive:)``).
    @discardableResult
    func work(
        _ listing: Listing, claim: ItemClaim, hasResults: Bool, giveBackUnreachable: Bool = false,
        isLive: @escaping @Sendable () -> Bool = { true }
    ) async -> Bool {
        let start = ContinuousClock.now
        let asked = await fanOut(
            [listing], claim: claim, hasResults: hasResults, pipeline: pipeline, giveBackUnreachable: giveBackUnreachable, isLive: isLive)
        guard !asked.lost else {
            // Another process took the listing over after this one's lease expired: its work counts.
            if asked.last != nil { unsaved(claim) }
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return false
        }
        if let backend = asked.unreachable {
            // Its backend is out of this host's reach: the listing goes back (what was saved stays) for a
            // worker that can reach it; its last attempt keeps the abstentions instead.
            await detached { try await self.store.release(claim, name: listing.name, attempted: true) }
            state.withLock { $0.givenBack += 1 }
            onEvent(.problem("\(claim.key): \(backend) cannot be reached from here; the listing goes back to the queue for another worker"))
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return true
        }
        if Task.isCancelled {
            // Stopping: what was saved stays; the listing goes back to the queue for another worker.
            if let (saved, reservation) = asked.last {
                let kept = await Task { (try? await self.store.saveResult(saved, claim: claim, settling: reservation)) ?? false }.value
                if !kept { unsaved(claim) }
            }
            await detached { try await self.store.release(claim, name: listing.name) }
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return false
        }
        await finish(listing, claim: claim, results: asked.results, last: asked.last, start: start, isLive: isLive)
        return false
    }

    /// Where a persona's result of the item's `index`th listing is saved (the persona's id alone for the
    /// first, so a batch's results keep their keys).
    static func resultKey(_ index: Int, _ persona: String) -> String { index == 0 ? persona : "\(index)/\(persona)" }

    /// What asking the personas of an item came to.
    struct Asked {
        /// By ``resultKey(_:_:)``: the saved results and the new ones.
        var results: [String: PersonaResult]
        /// The result that completed the item, not saved yet (it is saved with the item's end), and its reservation.
        var last: (SavedResult, BudgetReservation?)?
        /// The lease was lost: another process holds the item now.
        var lost: Bool
        /// A persona abstained because this backend could not be reached (with `giveBackUnreachable`):
        /// its result was not kept, and the item is to be given back.
        var unreachable: String?
    }

    /// An answer paid for and dropped (the lease lost, or its save failed): counted and said.
    func unsaved(_ claim: ItemClaim) {
        state.withLock { $0.paidUnsaved += 1 }
        onEvent(.problem("\(claim.key): an answer was paid for but not saved; whoever holds the listing next asks that persona again"))
    }

    /// Queued work through the pipeline's one fan-out: each persona without a saved result waits for a
    /// call slot and its budget reservation and is asked only while the lease holds; each result is
    /// saved under the lease the moment it arrives — except the one that completes the item, which is
    /// saved in the same step that ends it. `onAsk`/`onResult`: a review's stream hears of each persona as
    /// it starts and ends.
    func fanOut(
        _ listings: [Listing], claim: ItemClaim, hasResults: Bool, pipeline: ReviewPipeline, giveBackUnreachable: Bool = false,
        isLive: @escaping @Sendable () -> Bool,
        onAsk: @escaping @Sendable (Persona, Listing) -> Void = { _, _ in },
        onResult: @escaping @Sendable (PersonaResult, Listing) -> Void = { _, _ in }
    ) async -> Asked {
        var results = hasResults ? await storedResults(claim.key) : [:]
        let personas = engine.settings.prompts.personas
        let wanted = listings.indices.flatMap { index in personas.map { Self.resultKey(index, $0.id) } }
        var last: (SavedResult, BudgetReservation?)?
        var lost = false
        var unreachable: String?
        let saved = results
        // A result's save runs beside the others' (the next result need not wait for it): a listing's
        // personas answer within milliseconds of each other, and their saves then reach the store together
        // (``SaveGrouping``). The item's end waits for every save.
        // Raised by a save that found the item's lease lost.
        let lostSaving = OnceFlag()
        await withTaskGroup(of: Void.self) { saves in
            await pipeline.fanOut(
                listings, skip: { index, persona in saved[Self.resultKey(index, persona.id)] != nil },
                admit: { index, persona, panel -> Slot? in
                    let listing = listings[index]
                    guard let slot = await self.reserve(listing: listing, persona: persona, panel: panel) else { return nil }
                    // No paid call for an item this worker may no longer hold (paused past its lease, cut off
                    // from the store): whoever holds it now asks this persona.
                    guard isLive() else {
                        self.semaphore.release()
                        self.state.withLock { $0.inFlight -= 1 }
                        if let held = slot.reservation { await self.detached { try await self.store.releaseBudget(held) } }
                        return nil
                    }
                    onAsk(persona, listing)
                    return slot
                },
                called: { _, result in
                    self.semaphore.release()
                    self.settle(cost: result.costUSD)
                },
                onResult: { index, _, result, slot in
                    onResult(result, listings[index])
                    let reservation = slot.reservation
                    // A call cut short because this process is stopping is no answer: the persona is asked again
                    // by whoever takes the item next.
                    if Task.isCancelled, case .abstained = result.outcome {
                        if let reservation { await detached { try await self.store.releaseBudget(reservation) } }
                        return
                    }
                    // Out of this host's reach: no result kept; the item goes back for another worker to ask.
                    if giveBackUnreachable, result.backendUnreachable {
                        unreachable = unreachable ?? result.backend ?? "the backend"
                        if let reservation { try? await store.releaseBudget(reservation) }
                        return
                    }
                    if lost || lostSaving.isSet {
                        if result.review != nil { self.unsaved(claim) }
                        if let reservation { try? await store.releaseBudget(reservation) }
                        return
                    }
                    let key = Self.resultKey(index, result.persona.id)
                    results[key] = result
                    guard let review = try? ReviewDocument.Review(result: result).canonicalText() else {
                        if let reservation { try? await store.releaseBudget(reservation) }
                        return
                    }
                    let saved = SavedResult(persona: key, review: review, costUSD: result.costUSD)
                    if wanted.allSatisfy({ results[$0] != nil }) {
                        last = (saved, reservation)
                    } else {
                        let answered = result.review != nil
                        saves.addTask {
                            do {
                                let held = try await EngineTraces.step("save result") {
                                    try await self.retrying { try await self.store.saveResult(saved, claim: claim, settling: reservation) }
                                }
                                if !held {
                                    lostSaving.set()
                                    if answered { self.unsaved(claim) }
                                }
                            } catch {
                                // Not saved: a rerun asks this persona again. The item itself goes on.
                                self.onEvent(
                                    .problem("\(claim.key): cannot save \(saved.persona)'s result in \(self.store.location): \(error)"))
                                if answered { self.unsaved(claim) }
                                if let reservation { try? await self.store.releaseBudget(reservation) }
                            }
                        }
                    }
                })
        }
        if lostSaving.isSet { lost = true }
        return Asked(results: results, last: last, lost: lost, unreachable: unreachable)
    }

    /// A store step tried again over a short outage (a restarted server, a dropped connection): up to
    /// four attempts over about four seconds. The steps are fenced and idempotent, so a repeat is safe.
    func retrying<T: Sendable>(_ step: @escaping @Sendable () async throws -> T) async throws -> T {
        let policy = RetryPolicy.storeStep
        for attempt in 1..<policy.maxAttempts {
            do {
                return try await StoreDeadline.run(limit: store.stepDeadline, clock: clock, step)
            } catch {
                if Task.isCancelled { throw error }
                if attempt == 1 { onEvent(.problem("\(store.location): \(error); retrying")) }
                await clock.pause(for: policy.backoff(after: attempt))
            }
        }
        return try await StoreDeadline.run(limit: store.stepDeadline, clock: clock, step)
    }

    func storedResults(_ key: String) async -> [String: PersonaResult] {
        var results: [String: PersonaResult] = [:]
        for (stored, json) in (try? await store.results(job: job, key: key)) ?? [:] {
            var personaID = Substring(stored)
            if let slash = stored.firstIndex(of: "/"), Int(stored[..<slash]) != nil { personaID = stored[stored.index(after: slash)...] }
            guard let persona = engine.settings.prompts.personas.first(where: { $0.id == personaID }),
                // Saved by the project's writer (``JSONValueEncoder``), read back by its reader.
                let review = try? JSONValueDecoder.decode(ReviewDocument.Review.self, from: json)
            else { continue }
            if options.retryFailed && review.status == .abstained { continue }
            results[stored] = PersonaResult(review: review, persona: persona)
        }
        return results
    }

    /// A call slot and, with a budget, the call's reservation.
    struct Slot: Sendable {
        var reservation: BudgetReservation?
    }

    /// Waits for a call slot and reserves the call's cost ceiling in the store (the most expensive
    /// backend that could answer it); nil when the budget says stop.
    func reserve(listing: Listing, persona: Persona, panel: PanelScope) async -> Slot? {
        guard (try? await semaphore.acquire()) != nil else { return nil }
        guard !state.withLock({ $0.budgetStopped }) else {
            semaphore.release()
            return nil
        }
        var slot = Slot()
        if let budget = options.budgetUSD {
            let request = pipeline.request(listing, by: persona, panel: panel)
            // A persona asked K times (`samples`) may cost K calls.
            let ceiling = (engine.backends.costCeiling(request, persona: persona.id) ?? 0) * Double(pipeline.samples)
            let reservation: BudgetReservation?
            do {
                let (store, job, owner) = (store, job, owner)
                reservation = try await retrying {
                    try await store.reserveBudget(job: job, owner: owner, amountUSD: ceiling, limitUSD: budget)
                }
            } catch {
                // The store cannot be reached: no call without its reservation, but the budget is not spent —
                // the listing is given back (or its lease runs out) and asked again once the store answers.
                if !Task.isCancelled { onEvent(.problem("\(job): cannot reserve a call's budget in \(store.location): \(error)")) }
                semaphore.release()
                return nil
            }
            guard let reservation else {
                state.withLock { $0.budgetStopped = true }
                semaphore.release()
                return nil
            }
            slot.reservation = reservation
        }
        state.withLock { $0.inFlight += 1 }
        return slot
    }

    func settle(cost: Double?) {
        let total = state.withLock { progress -> Double? in
            progress.inFlight -= 1
            progress.calls += 1
            guard let cost, cost > 0 else { return nil }
            progress.spentUSD += cost
            return progress.spentUSD
        }
        if let total { onEvent(.spend(totalUSD: total)) }
    }

    func finish(
        _ listing: Listing, claim: ItemClaim, results: [String: PersonaResult], last: (SavedResult, BudgetReservation?)?,
        start: ContinuousClock.Instant, isLive: @escaping @Sendable () -> Bool = { true }
    ) async {
        let personas = engine.settings.prompts.personas
        guard personas.allSatisfy({ results[$0.id] != nil }) else {
            // Stopped by the budget: known, not started, picked up by the next run or another process. (`last`
            // is set only once every persona has a result, so nothing is left to save here.)
            await detached { try await self.store.release(claim, name: listing.name) }
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return
        }
        let ordered = personas.compactMap { results[$0.id] }
        let panel = PanelSummary(results: ordered, quorum: engine.settings.quorum)
        let run = ReviewRun(
            tools: [.init(listing: listing, results: ordered, panel: panel)], personas: personas,
            wallMS: (ContinuousClock.now - start).milliseconds)
        let status: BatchItem.Status = panel.abstained == 0 ? .complete : .partial
        let outcome = BatchItem.Outcome(
            verdict: panel.verdict.rawValue, shipShare: panel.shipShare, scoreMedian: panel.scoreMedian,
            costUSD: ordered.compactMap(\.costUSD).reduce(0, +), answered: panel.ship + panel.skip)
        // The store keeps the JSON document (the document itself: `panel jobs export` and a rerun render
        // any other format from it); the other formats asked for are rendered only for files written now —
        // a worker without `--out` renders JSON alone.
        let json = DocumentFormat.json.fileExtension
        let wanted = Set(sink == nil ? [.json] : options.formats + [.json])
        // A batch writing documents makes them (the document, its claims check, its renderings, and below
        // its files) on Swift's pool, not on the event loop it runs on: a millisecond and more of work a
        // listing that held up every answer read meanwhile (a slot's next call waited for it), with a core
        // idle beside the loop. `bench/batch-vs-peers.sh`'s batch: wall 3.39–3.42 → 3.34–3.39 s, CPU the
        // same. A worker (no documents but the JSON) keeps it on its loop: several workers share the cores
        // already, and the hand-over cost them CPU (`bench/workers.sh`: workers and server +25–35% a listing).
        let documentsExecutor: (any TaskExecutor)? = sink == nil ? nil : globalConcurrentExecutor
        let texts = await withTaskExecutorPreference(documentsExecutor) {
            var document = await EngineTraces.step("document") { engine.document(run) }
            await checkClaims(&document, claim: claim, isLive: isLive)
            var rendered: [String: String] = [:]
            let finished = document
            await EngineTraces.step("render") {
                for format in wanted {
                    rendered[format.fileExtension] = engine.render(finished, as: format)
                }
            }
            return rendered
        }
        // Name, status, outcome and the JSON document are recorded in one step before any file is
        // written; a rerun after a crash here writes the missing files from the store.
        let formats = options.formats
        let sink = self.sink
        let isTaken = self.isTaken
        let name: String?
        do {
            name = try await EngineTraces.step("finish item") {
                try await retrying {
                    try await self.store.finishItem(
                        claim, name: listing.name, status: status, outcome: outcome, base: Slug.make(listing.name), lastResult: last?.0,
                        settling: last?.1,
                        isTaken: isTaken,
                        texts: texts.filter { $0.key == json }, documents: { name in formats.map { "\(name).\($0.fileExtension)" } })
                }
            }
        } catch {
            onEvent(.problem("\(claim.key): cannot record the listing in \(store.location): \(error)"))
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .failed))
            if let (saved, reservation) = last { _ = try? await store.saveResult(saved, claim: claim, settling: reservation) }
            return
        }
        guard let name else {
            // Taken over before it ended: the answer that would have completed it is not saved.
            if last != nil { unsaved(claim) }
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return
        }
        var complete = true
        if let sink {
            let templates = engine.settings.templates
            let written = await withTaskExecutorPreference(documentsExecutor) {
                DocumentWriter.write(name: name, texts: texts, formats: formats, to: sink, templates: templates, source: claim.key)
            }
            for failure in written.failures { onEvent(.problem("\(claim.key): \(failure.reason)")) }
            complete = written.failures.isEmpty
            if complete { writtenHere.withLock { _ = $0.insert(claim.key) } }
        }
        state.withLock { $0.done += 1 }
        onEvent(.listingFinished(key: claim.key, name: listing.name, status: complete ? status : .failed))
    }
}
