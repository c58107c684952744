import Foundation
import ModelBackends
public import PanelKit
import Synchronization

/// Runs a batch job: streams the rows, claims each listing in the store under a lease (so a second
/// process on the same job shares the work instead of repeating it), asks only the personas a listing
/// still lacks, saves each result as it completes, keeps within the budget, and writes each listing's
/// documents to the sink — with the same settings, pipeline and document as ``ReviewEngine/review``.
///
/// Nothing grows with the batch: rows are read as they are scheduled, and each listing's outcome goes
/// to the store, from which the summary is streamed at the end.
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
        /// How often to look again at listings another process holds.
        public var pollInterval: Duration

        public init(
            job: String, formats: [DocumentFormat] = [.markdown], concurrency: Int = 8, budgetUSD: Double? = nil,
            retryFailed: Bool = false, lease: Duration = .seconds(30), pollInterval: Duration = .milliseconds(500)
        ) {
            self.job = job
            self.formats = formats
            self.concurrency = concurrency
            self.budgetUSD = budgetUSD
            self.retryFailed = retryFailed
            self.lease = lease
            self.pollInterval = pollInterval
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
        /// Listings another process holds, waited for.
        public var heldElsewhere = 0
    }

    public let engine: ReviewEngine
    public let store: any ReviewStore
    public let sink: any DocumentSink
    public let options: Options
    /// This run's identity in leases.
    public let owner: String
    let onEvent: @Sendable (EngineEvent) -> Void
    let semaphore: AsyncSemaphore
    let state: Mutex<Progress>
    let pipeline: ReviewPipeline

    public init(
        engine: ReviewEngine, store: any ReviewStore, sink: any DocumentSink, options: Options,
        onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) {
        self.engine = engine
        self.store = store
        self.sink = sink
        self.options = options
        self.onEvent = onEvent
        self.owner = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UInt32.random(in: 0...UInt32.max))"
        self.semaphore = AsyncSemaphore(limit: options.concurrency)
        self.state = Mutex(Progress())
        self.pipeline = engine.pipeline(onEvent: onEvent)
    }

    public var progress: Progress { state.withLock { $0 } }

    var job: String { options.job }

    /// Reviews every row; true when the budget stopped the batch. Listings another process holds are
    /// waited for (and taken over if that process's lease expires), so when this returns every
    /// listing of the inputs is finished or given back.
    public func run(_ inputs: BatchInputs) async throws -> Bool {
        let spent = try await store.spent(job: job)
        state.withLock { $0.spentUSD = spent }
        let heartbeat = Task { [store, owner, options] in
            while !Task.isCancelled {
                try? await Task.sleep(for: options.lease / 3)
                if Task.isCancelled { return }
                try? await store.renewLeases(owner: owner, lease: options.lease)
            }
        }
        defer { heartbeat.cancel() }
        var deferred: [(BatchRow, Int)] = []
        await withTaskGroup(of: (BatchRow, Int)?.self) { group in
            var running = 0
            let rows = inputs.makeIterator()
            var position = 0
            // Rows are claimed a few at a time (one commit for several listings); each is then scheduled
            // as a call slot frees up.
            let chunk = max(1, min(16, options.concurrency / 4))
            while true {
                var batch: [(BatchRow, Int)] = []
                while batch.count < chunk, let row = rows.next() {
                    batch.append((row, position))
                    position += 1
                }
                if batch.isEmpty { break }
                for (row, position, claimed) in await claim(batch) {
                    if running >= options.concurrency, let finished = await group.next() {
                        running -= 1
                        if let finished { deferred.append(finished) }
                    }
                    group.addTask { await self.process(row, position: position, claimed: claimed) ? nil : (row, position) }
                    running += 1
                }
            }
            for await finished in group { if let finished { deferred.append(finished) } }
        }
        // Listings another process was working on: wait for them to finish, or take them over.
        while !deferred.isEmpty && !Task.isCancelled {
            state.withLock { $0.heldElsewhere = deferred.count }
            try? await Task.sleep(for: options.pollInterval)
            var still: [(BatchRow, Int)] = []
            for (row, position, claimed) in await claim(deferred) where !(await process(row, position: position, claimed: claimed)) {
                still.append((row, position))
            }
            deferred = still
        }
        state.withLock { $0.heldElsewhere = 0 }
        heartbeat.cancel()
        await heartbeat.value
        return state.withLock { $0.budgetStopped }
    }

    /// Claims the rows that hold listings, in one step; a row that could not be read needs no claim
    /// (nil), nor does any row when the store cannot be reached (the error is reported per row).
    func claim(_ rows: [(BatchRow, Int)]) async -> [(BatchRow, Int, Result<ClaimResult, any Error>?)] {
        let listings = rows.compactMap { row, position -> (key: String, position: Int)? in
            if case .success = row.listing { return (row.key, position) }
            return nil
        }
        let retryFailed = options.retryFailed
        let sink = self.sink
        let claimed: Result<[ClaimResult], any Error>
        if listings.isEmpty {
            claimed = .success([])
        } else {
            do {
                claimed = .success(
                    try await store.claim(
                        job: job, listings: listings, owner: owner, lease: options.lease,
                        settled: { item in
                            (item.status == .complete || (item.status == .partial && !retryFailed)) && !item.documents.isEmpty
                                && item.outcome.verdict != nil && item.documents.allSatisfy(sink.exists)
                        }))
            } catch {
                claimed = .failure(error)
            }
        }
        var next = 0
        return rows.map { row, position in
            guard case .success = row.listing else { return (row, position, nil) }
            defer { next += 1 }
            return (row, position, claimed.map { $0[next] })
        }
    }

    /// One listing: reuse stored persona results, ask the missing ones, write its documents. False when
    /// another process holds it.
    func process(_ row: BatchRow, position: Int, claimed: Result<ClaimResult, any Error>?) async -> Bool {
        let listing: Listing
        switch row.listing {
        case .failure(let error):
            onEvent(.problem(error.description))
            try? await store.failItem(job: job, key: row.key, error: error.description, position: position)
            state.withLock { $0.failed += 1 }
            onEvent(.listingFinished(key: row.key, name: nil, status: .failed))
            return true
        case .success(let value):
            listing = value
        }
        switch claimed {
        case .failure(let error)?:
            onEvent(.problem("\(row.key): cannot claim the listing in \(store.location): \(error)"))
            state.withLock { $0.failed += 1 }
            onEvent(.listingFinished(key: row.key, name: listing.name, status: .failed))
            return true
        case .success(.heldElsewhere)?, nil:
            return false
        case .success(.settled(let item))?:
            state.withLock { $0.done += 1 }
            onEvent(.listingFinished(key: row.key, name: item.name, status: item.status))
            return true
        case .success(.claimed(let claim, let existing))?:
            await work(listing, claim: claim, existing: existing)
            return true
        }
    }

    func work(_ listing: Listing, claim: ItemClaim, existing: BatchItem?) async {
        let start = ContinuousClock.now
        var results = existing == nil ? [:] : await storedResults(claim.key)
        let personas = engine.settings.prompts.personas
        let panel = PanelScope()
        // Each result is saved the moment it arrives; the one that completes the listing is saved in the
        // same step that records the listing finished.
        var last: (SavedResult, BudgetReservation?)?
        var lost = false
        await withTaskGroup(of: (PersonaResult, String?, BudgetReservation?)?.self) { group in
            for persona in personas where results[persona.id] == nil {
                group.addTask {
                    guard let reservation = await self.reserve(listing: listing, persona: persona, panel: panel) else { return nil }
                    defer { self.semaphore.release() }
                    let result = await self.pipeline.review(listing, by: persona, panel: panel)
                    self.settle(cost: result.costUSD)
                    return (result, try? ReviewDocument.Review(result: result).jsonValue().canonicalText(), reservation.reservation)
                }
            }
            for await answer in group {
                guard let (result, review, reservation) = answer else { continue }
                results[result.persona.id] = result
                guard let review else {
                    if let reservation { try? await store.releaseBudget(reservation) }
                    continue
                }
                let saved = SavedResult(persona: result.persona.id, review: review, costUSD: result.costUSD)
                if personas.allSatisfy({ results[$0.id] != nil }) {
                    last = (saved, reservation)
                } else if !lost {
                    do {
                        lost = !(try await store.saveResult(saved, claim: claim, settling: reservation))
                    } catch {
                        // Not saved: a rerun asks this persona again. The listing itself goes on.
                        onEvent(.problem("\(claim.key): cannot save \(saved.persona)'s result in \(store.location): \(error)"))
                        if let reservation { try? await store.releaseBudget(reservation) }
                    }
                }
            }
        }
        guard !lost else {
            // Another process took the listing over after this one's lease expired: its work counts.
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return
        }
        await finish(listing, claim: claim, results: results, existing: existing, last: last, start: start)
    }

    func storedResults(_ key: String) async -> [String: PersonaResult] {
        var results: [String: PersonaResult] = [:]
        for (personaID, json) in (try? await store.results(job: job, key: key)) ?? [:] {
            guard let persona = engine.settings.prompts.personas.first(where: { $0.id == personaID }),
                let review = try? JSONDecoder().decode(ReviewDocument.Review.self, from: Data(json.utf8))
            else { continue }
            if options.retryFailed && review.status == .abstained { continue }
            results[personaID] = PersonaResult(review: review, persona: persona)
        }
        return results
    }

    /// A call slot and, with a budget, the call's reservation.
    struct Slot {
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
            let ceiling = engine.backends.costCeiling(request, persona: persona.id) ?? 0
            let reservation = try? await store.reserveBudget(job: job, owner: owner, amountUSD: ceiling, limitUSD: budget)
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
        _ listing: Listing, claim: ItemClaim, results: [String: PersonaResult], existing: BatchItem?,
        last: (SavedResult, BudgetReservation?)?, start: ContinuousClock.Instant
    ) async {
        let personas = engine.settings.prompts.personas
        guard personas.allSatisfy({ results[$0.id] != nil }) else {
            // Stopped by the budget: known, not started, picked up by the next run or another process. (`last`
            // is set only once every persona has a result, so nothing is left to save here.)
            try? await store.release(claim, name: listing.name)
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return
        }
        let ordered = personas.compactMap { results[$0.id] }
        let panel = PanelSummary(results: ordered, quorum: engine.settings.quorum)
        let run = ReviewRun(
            tools: [.init(listing: listing, results: ordered, panel: panel)], personas: personas,
            wallMS: (ContinuousClock.now - start).milliseconds)
        let document = engine.document(run)
        let status: BatchItem.Status = panel.abstained == 0 ? .complete : .partial
        let outcome = BatchItem.Outcome(
            verdict: panel.verdict.rawValue, shipShare: panel.shipShare, scoreMedian: panel.scoreMedian,
            costUSD: ordered.compactMap(\.costUSD).reduce(0, +), answered: panel.ship + panel.skip)
        // Documents of an earlier run of this listing (partial, now retried) go first: once the item is
        // recorded finished below, a document in the sink must be this run's.
        for address in existing?.documents ?? [] { sink.remove(address) }
        // Name, status and outcome are recorded before any document is written; a rerun after a crash here
        // finds the documents missing and writes them again under the same name, from the stored results.
        let formats = options.formats
        let sink = self.sink
        let reserved = Self.reservedNames
        let name: String?
        do {
            name = try await store.finishItem(
                claim, name: listing.name, status: status, outcome: outcome, base: Slug.make(listing.name), lastResult: last?.0,
                settling: last?.1,
                isTaken: { candidate in
                    reserved.contains(candidate) || formats.contains { sink.exists(sink.address(name: candidate, format: $0)) }
                },
                documents: { name in formats.map { sink.address(name: name, format: $0) } })
        } catch {
            onEvent(.problem("\(claim.key): cannot record the listing in \(store.location): \(error)"))
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .failed))
            if let (saved, reservation) = last { _ = try? await store.saveResult(saved, claim: claim, settling: reservation) }
            return
        }
        guard let name else {
            onEvent(.listingFinished(key: claim.key, name: listing.name, status: .pending))
            return
        }
        var written: [String] = []
        for format in formats {
            let address = sink.address(name: name, format: format)
            do {
                try sink.write(engine.render(document, as: format), to: address)
                written.append(address)
            } catch {
                onEvent(.problem("\(claim.key): \(error)"))
            }
        }
        if written.count < formats.count {
            try? await store.setDocuments(job: job, key: claim.key, documents: written)
        }
        state.withLock { $0.done += 1 }
        onEvent(.listingFinished(key: claim.key, name: listing.name, status: written.count < formats.count ? .failed : status))
    }
}
