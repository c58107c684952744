import Foundation
import ModelBackends
import PanelKit
import PanelStore
import Synchronization

/// Runs a batch: streams the rows, asks only the personas a listing still lacks, saves each result
/// as it completes, writes documents atomically, keeps within the budget and reports progress.
///
/// Nothing grows with the batch: rows are read as they are scheduled, and each listing's outcome goes
/// to the store, from which the summary is streamed at the end.
final class BatchRunner: Sendable {
    struct Totals {
        var done = 0
        var failed = 0
        var inFlight = 0
        var calls = 0
        var reservedUSD = 0.0
        var spentUSD = 0.0
        var budgetStopped = false
    }

    let job: String
    let store: PanelStore
    let prompts: PromptSet
    let backendFor: @Sendable (String) -> any ModelBackend
    let prices: [String: Price]
    let formats: [OutputFormat]
    /// The output directory's path, without a trailing slash.
    let outPath: String
    let concurrency: Int
    let budgetUSD: Double?
    let retryFailed: Bool
    let temperature: Double?
    let maxTokens: Int?
    let log: Diagnostics
    /// The job was created by this run: nothing of it is stored, so no item is looked up.
    let newJob: Bool
    let semaphore: AsyncSemaphore
    let totals: Mutex<Totals>
    let started = ContinuousClock.now
    /// Listings in the batch, counted up front for the progress bar (nil when not shown).
    let totalListings: Int?

    init(
        job: String, store: PanelStore, prompts: PromptSet, backendFor: @escaping @Sendable (String) -> any ModelBackend,
        configuration: PanelConfiguration?, formats: [OutputFormat], outDirectory: URL, concurrency: Int, budgetUSD: Double?,
        retryFailed: Bool, temperature: Double?, maxTokens: Int?, log: Diagnostics, newJob: Bool = false, totalListings: Int? = nil
    ) {
        self.newJob = newJob
        self.totalListings = totalListings
        self.job = job
        self.store = store
        self.prompts = prompts
        self.backendFor = backendFor
        var prices: [String: Price] = [:]
        for backend in configuration?.backends ?? [] { prices[backend.name] = backend.price }
        self.prices = prices
        self.formats = formats
        var outPath = outDirectory.path
        while outPath.count > 1 && outPath.hasSuffix("/") { outPath.removeLast() }
        self.outPath = outPath
        self.concurrency = concurrency
        self.budgetUSD = budgetUSD
        self.retryFailed = retryFailed
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.log = log
        self.semaphore = AsyncSemaphore(limit: concurrency)
        self.totals = Mutex(Totals(spentUSD: (try? store.spent(job: job)) ?? 0))
    }

    /// Runs every row; true when the budget stopped the batch.
    func run(_ inputs: BatchInputs) async -> Bool {
        let progress = Task { await self.reportProgress() }
        defer { progress.cancel() }
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for (position, row) in inputs.enumerated() {
                if running >= concurrency {
                    await group.next()
                    running -= 1
                }
                group.addTask { await self.process(row, position: position) }
                running += 1
            }
        }
        progress.cancel()
        await progress.value
        return totals.withLock { $0.budgetStopped }
    }

    /// One listing: reuse stored persona results, ask the missing ones, write its documents.
    func process(_ row: BatchRow, position: Int) async {
        let listing: Listing
        switch row.listing {
        case .failure(let error):
            try? store.setItem(job: job, key: row.key, name: nil, status: .failed, error: error.description, position: position)
            log.error(error.description)
            totals.withLock { $0.failed += 1 }
            return
        case .success(let value):
            listing = value
        }
        let existing = newJob ? nil : try? store.item(job: job, key: row.key)
        if let existing, existing.status == .complete || (existing.status == .partial && !retryFailed), !existing.documents.isEmpty,
            existing.outcome.verdict != nil, existing.documents.allSatisfy({ FileManager.default.fileExists(atPath: $0) })
        {
            totals.withLock { $0.done += 1 }
            return
        }
        var results = newJob ? [:] : storedResults(row.key, retryAbstained: retryFailed)
        let pipeline = ReviewPipeline(
            prompts: prompts, backendFor: { self.backendFor($0.id) }, temperature: temperature, maxOutputTokens: maxTokens)
        // Each result is saved the moment it arrives; the one that completes the listing is saved in the
        // same transaction that records the listing finished.
        var lastResult: PanelStore.SavedResult?
        await withTaskGroup(of: (PersonaResult, String?)?.self) { group in
            for persona in prompts.personas where results[persona.id] == nil {
                group.addTask {
                    guard let estimate = await self.reserve(listing: listing, persona: persona) else { return nil }
                    defer { self.semaphore.release() }
                    let result = await pipeline.review(listing, by: persona)
                    self.settle(estimate: estimate, cost: result.costUSD)
                    return (result, try? ReviewDocument.Review(result: result).jsonValue().canonicalText())
                }
            }
            for await answer in group {
                guard let (result, review) = answer else { continue }
                results[result.persona.id] = result
                guard let review else { continue }
                if prompts.personas.allSatisfy({ results[$0.id] != nil }) {
                    lastResult = (result.persona.id, review, result.costUSD)
                } else {
                    save(key: row.key, persona: result.persona.id, review: review, costUSD: result.costUSD)
                }
            }
        }
        finish(listing, key: row.key, position: position, results: results, existing: existing, lastResult: lastResult)
    }

    func save(key: String, persona: String, review: String, costUSD: Double?) {
        do {
            try store.saveResult(job: job, key: key, persona: persona, review: review, costUSD: costUSD)
        } catch {
            log.error("\(key): cannot save \(persona)'s result in \(store.path): \(error)")
        }
    }

    func storedResults(_ key: String, retryAbstained: Bool) -> [String: PersonaResult] {
        var results: [String: PersonaResult] = [:]
        for (personaID, json) in (try? store.results(job: job, key: key)) ?? [:] {
            guard let persona = prompts.personas.first(where: { $0.id == personaID }),
                let review = try? JSONDecoder().decode(ReviewDocument.Review.self, from: Data(json.utf8))
            else { continue }
            if retryAbstained && review.status == .abstained { continue }
            results[personaID] = PersonaResult(review: review, persona: persona)
        }
        return results
    }

    /// Waits for a call slot and reserves the call's estimated cost; nil when the budget says stop.
    func reserve(listing: Listing, persona: Persona) async -> Double? {
        guard (try? await semaphore.acquire()) != nil else { return nil }
        let estimate = budgetUSD == nil ? 0 : estimatedCost(listing: listing, persona: persona)
        let allowed = totals.withLock { totals -> Bool in
            if totals.budgetStopped { return false }
            if let budgetUSD, totals.spentUSD + totals.reservedUSD + estimate > budgetUSD {
                totals.budgetStopped = true
                return false
            }
            totals.reservedUSD += estimate
            totals.inFlight += 1
            return true
        }
        if !allowed { semaphore.release() }
        return allowed ? estimate : nil
    }

    func settle(estimate: Double, cost: Double?) {
        totals.withLock {
            $0.reservedUSD -= estimate
            $0.spentUSD += cost ?? 0
            $0.inFlight -= 1
            $0.calls += 1
        }
    }

    func estimatedCost(listing: Listing, persona: Persona) -> Double {
        let backend = backendFor(persona.id).name
        guard let price = prices[backend] else { return 0 }
        let request = prompts.request(for: persona, listing: listing, temperature: temperature, maxOutputTokens: maxTokens)
        let input = Double(request.messages.reduce(0) { $0 + $1.content.utf8.count }) / 4
        let output = Double(maxTokens ?? 700) * 0.6
        return (input * price.inputPerMTok + output * price.outputPerMTok) / 1_000_000
    }

    func finish(
        _ listing: Listing, key: String, position: Int, results: [String: PersonaResult], existing: PanelStore.BatchItem?,
        lastResult: PanelStore.SavedResult? = nil
    ) {
        let personas = prompts.personas
        guard personas.allSatisfy({ results[$0.id] != nil }) else {
            // Stopped by the budget: known, not started, picked up by the next run.
            if existing == nil { try? store.setItem(job: job, key: key, name: listing.name, status: .pending, position: position) }
            return
        }
        let ordered = personas.compactMap { results[$0.id] }
        let panel = PanelSummary(results: ordered)
        let document = ReviewDocument(
            run: ReviewRun(tools: [.init(listing: listing, results: ordered, panel: panel)], personas: personas, wallMS: 0))
        let status: PanelStore.BatchItem.Status = panel.abstained == 0 ? .complete : .partial
        let outcome = PanelStore.BatchItem.Outcome(
            verdict: panel.verdict.rawValue, shipShare: panel.shipShare, scoreMedian: panel.scoreMedian,
            costUSD: ordered.compactMap(\.costUSD).reduce(0, +), answered: panel.ship + panel.skip)
        do {
            // Documents of an earlier run of this listing (partial, now retried) go first: once the item is
            // recorded finished below, a file on disk must be this run's.
            for path in existing?.documents ?? [] { try? FileManager.default.removeItem(atPath: path) }
            // Name, status and outcome are recorded before any file is written; a rerun after a crash here
            // finds the files missing and writes them again under the same name, from the stored results.
            let formats = formats
            let name = try store.finishItem(
                job: job, key: key, name: listing.name, status: status, outcome: outcome, base: Slug.make(listing.name),
                lastResult: lastResult, position: position,
                isTaken: { candidate in formats.contains { access(self.path(candidate, $0), F_OK) == 0 } },
                documents: { name in formats.map { self.path(name, $0) } })
            var written: [String] = []
            for format in formats {
                let path = path(name, format)
                do {
                    try AtomicFile.write(format.documentFormat.render(document), to: path)
                    written.append(path)
                } catch {
                    log.error("\(key): \(error)")
                }
            }
            if written.count < formats.count {
                try store.setItem(
                    job: job, key: key, name: listing.name, status: status, documents: written, outcome: outcome, position: position)
            }
        } catch {
            log.error("\(key): cannot record the listing in \(store.path): \(error)")
            if let lastResult { save(key: key, persona: lastResult.persona, review: lastResult.review, costUSD: lastResult.costUSD) }
        }
        totals.withLock { $0.done += 1 }
    }

    func path(_ name: String, _ format: OutputFormat) -> String {
        "\(outPath)/\(name).\(format.fileExtension)"
    }

    func reportProgress() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            if Task.isCancelled { return }
            let t = totals.withLock { $0 }
            let seconds = max((ContinuousClock.now - started).seconds, 0.001)
            log.info(
                String(
                    format: "batch %@: %d listings done, %d failed, %d calls in flight, %.1f calls/s, $%.4f spent", job, t.done, t.failed,
                    t.inFlight,
                    Double(t.calls) / seconds, t.spentUSD))
        }
    }

    /// Writes `summary.json` (temp file, then rename) and the stderr table, streamed from the store.
    /// Returns true when every listing of the job is complete.
    func writeSummary(budgetStopped: Bool) throws -> Bool {
        let counts = try store.itemCounts(job: job)
        let complete = counts[.complete] ?? 0
        let partial = counts[.partial] ?? 0
        let failed = counts[.failed] ?? 0
        let notStarted = counts[.pending] ?? 0
        let spent = totals.withLock { $0.spentUSD }
        var lines = ["", "STATUS       VERDICT     SHIP   MEDIAN  COST       LISTING"]
        try AtomicFile.write(to: "\(outPath)/summary.json") { file in
            var buffer = "{\n"
            buffer += "  \"job\": \(JSONValue.string(job).canonicalText()),\n"
            buffer += "  \"complete\": \(complete), \"partial\": \(partial), \"failed\": \(failed), \"not_started\": \(notStarted),\n"
            buffer += "  \"spent_usd\": \(JSONValue.double((spent * 1e8).rounded() / 1e8).canonicalText()), "
            buffer += "\"budget_usd\": \(budgetUSD.map { JSONValue.double($0).canonicalText() } ?? "null"), "
            buffer += "\"budget_stopped\": \(budgetStopped),\n  \"listings\": ["
            var first = true
            try store.forEachItem(job: job) { item in
                let row = BatchRowSummary(item)
                buffer += (first ? "\n    " : ",\n    ") + (try JSONValueEncoder.encode(row).canonicalText())
                first = false
                if buffer.utf8.count > 1 << 16 {
                    try file.append(buffer)
                    buffer = ""
                }
                lines.append(row.tableLine)
                if lines.count >= 256 {
                    log.write(lines.joined(separator: "\n"))
                    lines = []
                }
            }
            try file.append(buffer + "\n  ]\n}\n")
        }
        lines.append(
            String(
                format: "%d complete, %d partial, %d failed, %d not started; $%.4f spent%@", complete, partial, failed, notStarted, spent,
                budgetStopped ? " — budget reached: rerun the job with a larger --budget-usd to continue" : ""))
        log.write(lines.joined(separator: "\n"))
        return !budgetStopped && partial == 0 && failed == 0 && notStarted == 0
    }
}

/// One listing's line in the summary.
struct BatchRowSummary: Sendable, Encodable {
    var key: String
    var name: String?
    var status: String
    var verdict: String?
    var shipShare: Double?
    var scoreMedian: Double?
    var costUSD: Double?
    var documents: [String]
    var error: String?
    var answered: Int?

    enum CodingKeys: String, CodingKey {
        case key, name, status, verdict, documents, error, answered
        case shipShare = "ship_share"
        case scoreMedian = "score_median"
        case costUSD = "cost_usd"
    }

    init(_ item: PanelStore.BatchItem) {
        key = item.key
        name = item.name
        status = item.status == .pending ? "not_started" : item.status.rawValue
        verdict = item.outcome.verdict
        shipShare = item.outcome.shipShare
        scoreMedian = item.outcome.scoreMedian
        costUSD = item.outcome.costUSD
        documents = item.documents
        error = item.error
        answered = item.outcome.answered
    }

    var tableLine: String {
        let status = CFormat.padded(status, to: 12)
        let verdict = CFormat.padded(verdict ?? "-", to: 11)
        let share = shipShare.map { CFormat.double("%3.0f", $0 * 100) + "%" } ?? "   -"
        let median = scoreMedian.map { CFormat.double("%6.1f", $0) } ?? "     -"
        let cost = CFormat.padded(costUSD.map { "$" + CFormat.double("%.5f", $0) } ?? "-", to: 10)
        return "\(status) \(verdict) \(share)  \(median)  \(cost) \(name ?? key)"
    }
}

extension OutputFormat {
    var fileExtension: String {
        switch self {
        case .markdown: return "md"
        case .html: return "html"
        case .json: return "json"
        }
    }
}
