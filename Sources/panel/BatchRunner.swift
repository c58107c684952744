import Foundation
import ModelBackends
import PanelKit
import PanelStore
import Synchronization

/// Runs a batch: streams the rows, asks only the personas a listing still lacks, saves each result
/// as it completes, writes documents atomically, keeps within the budget and reports progress.
/// One listing's line in the summary.
struct BatchRowSummary: Sendable, Codable {
    var key: String
    var name: String?
    var status = "not_started"
    var verdict: String?
    var shipShare: Double?
    var scoreMedian: Double?
    var costUSD: Double?
    var documents: [String] = []
    var error: String?
    var answered: Int?

    enum CodingKeys: String, CodingKey {
        case key, name, status, verdict, documents, error, answered
        case shipShare = "ship_share"
        case scoreMedian = "score_median"
        case costUSD = "cost_usd"
    }
}

final class BatchRunner: Sendable {
    struct Report: Sendable {
        var rows: [BatchRowSummary] = []
        var complete = 0
        var partial = 0
        var failed = 0
        var notStarted = 0
        var budgetStopped = false
        var allComplete: Bool { partial == 0 && failed == 0 && notStarted == 0 && !budgetStopped }
    }

    struct Totals {
        var done = 0
        var failed = 0
        var inFlight = 0
        var calls = 0
        var reservedUSD = 0.0
        var spentUSD = 0.0
        var budgetStopped = false
        var slugs: SlugAllocator
    }

    let job: String
    let store: PanelStore
    let prompts: PromptSet
    let backendFor: @Sendable (String) -> any ModelBackend
    let prices: [String: Price]
    let formats: [OutputFormat]
    let outDirectory: URL
    let concurrency: Int
    let budgetUSD: Double?
    let retryFailed: Bool
    let temperature: Double?
    let maxTokens: Int?
    let log: Diagnostics
    let semaphore: AsyncSemaphore
    let totals: Mutex<Totals>
    let started = ContinuousClock.now
    /// Listings in the batch, counted up front for the progress bar (nil when not shown).
    let totalListings: Int?

    init(
        job: String, store: PanelStore, prompts: PromptSet, backendFor: @escaping @Sendable (String) -> any ModelBackend,
        configuration: PanelConfiguration?, formats: [OutputFormat], outDirectory: URL, concurrency: Int, budgetUSD: Double?,
        retryFailed: Bool, temperature: Double?, maxTokens: Int?, log: Diagnostics, totalListings: Int? = nil
    ) {
        self.totalListings = totalListings
        self.job = job
        self.store = store
        self.prompts = prompts
        self.backendFor = backendFor
        var prices: [String: Price] = [:]
        for backend in configuration?.backends ?? [] { prices[backend.name] = backend.price }
        self.prices = prices
        self.formats = formats
        self.outDirectory = outDirectory
        self.concurrency = concurrency
        self.budgetUSD = budgetUSD
        self.retryFailed = retryFailed
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.log = log
        self.semaphore = AsyncSemaphore(limit: concurrency)
        let used = Set(
            ((try? store.items(job: job)) ?? []).flatMap(\.documents).map {
                URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent
            })
        self.totals = Mutex(Totals(spentUSD: (try? store.spent(job: job)) ?? 0, slugs: SlugAllocator(used: used)))
    }

    func run(_ inputs: BatchInputs) async -> Report {
        var report = Report()
        let progress = Task { await self.reportProgress() }
        defer { progress.cancel() }
        await withTaskGroup(of: BatchRowSummary.self) { group in
            var running = 0
            for row in inputs {
                if running >= concurrency {
                    if let result = await group.next() { report.rows.append(result) }
                    running -= 1
                }
                group.addTask { await self.process(row) }
                running += 1
            }
            for await result in group { report.rows.append(result) }
        }
        progress.cancel()
        await progress.value
        for row in report.rows {
            switch row.status {
            case "complete": report.complete += 1
            case "partial": report.partial += 1
            case "failed": report.failed += 1
            default: report.notStarted += 1
            }
        }
        report.budgetStopped = totals.withLock { $0.budgetStopped }
        report.rows.sort { $0.key < $1.key }
        return report
    }

    /// One listing: reuse stored persona results, ask the missing ones, write its documents.
    func process(_ row: BatchRow) async -> BatchRowSummary {
        var summary = BatchRowSummary(key: row.key)
        let listing: Listing
        switch row.listing {
        case .failure(let error):
            try? store.setItem(job: job, key: row.key, name: nil, status: .failed, error: error.description)
            log.error(error.description)
            totals.withLock { $0.failed += 1 }
            summary.status = "failed"
            summary.error = error.description
            return summary
        case .success(let value):
            listing = value
        }
        summary.name = listing.name
        let existing = try? store.item(job: job, key: row.key)
        if let existing, existing.status == .complete || (existing.status == .partial && !retryFailed) {
            return finish(
                listing, key: row.key, results: storedResults(row.key, retryAbstained: false), summary: summary, writeFiles: false,
                existing: existing)
        }
        var results = storedResults(row.key, retryAbstained: retryFailed)
        let pipeline = ReviewPipeline(
            prompts: prompts, backendFor: { self.backendFor($0.id) }, temperature: temperature, maxOutputTokens: maxTokens)
        await withTaskGroup(of: PersonaResult?.self) { group in
            for persona in prompts.personas where results[persona.id] == nil {
                group.addTask {
                    guard let estimate = await self.reserve(listing: listing, persona: persona) else { return nil }
                    defer { self.semaphore.release() }
                    let result = await pipeline.review(listing, by: persona)
                    self.settle(estimate: estimate, cost: result.costUSD)
                    if let data = try? JSONEncoder().encode(ReviewDocument.Review(result: result)) {
                        try? self.store.saveResult(
                            job: self.job, key: row.key, persona: persona.id, review: String(decoding: data, as: UTF8.self),
                            costUSD: result.costUSD)
                    }
                    return result
                }
            }
            for await result in group { if let result { results[result.persona.id] = result } }
        }
        return finish(listing, key: row.key, results: results, summary: summary, writeFiles: true, existing: existing)
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
        _ listing: Listing, key: String, results: [String: PersonaResult], summary: BatchRowSummary, writeFiles: Bool,
        existing: PanelStore.BatchItem?
    ) -> BatchRowSummary {
        var summary = summary
        let personas = prompts.personas
        guard personas.allSatisfy({ results[$0.id] != nil }) else {
            summary.status = "not_started"
            summary.answered = results.values.filter { $0.review != nil }.count
            return summary
        }
        let ordered = personas.compactMap { results[$0.id] }
        let panel = PanelSummary(results: ordered)
        let document = ReviewDocument(
            run: ReviewRun(tools: [.init(listing: listing, results: ordered, panel: panel)], personas: personas, wallMS: 0))
        let status: PanelStore.BatchItem.Status = panel.abstained == 0 ? .complete : .partial
        var documents = existing?.documents ?? []
        if writeFiles || documents.isEmpty {
            let slug =
                documents.first.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
                ?? totals.withLock { $0.slugs.allocate(listing.name) }
            documents = []
            for format in formats {
                let url = outDirectory.appendingPathComponent("\(slug).\(format.fileExtension)")
                do {
                    try Data(format.documentFormat.render(document).utf8).write(to: url, options: .atomic)  // temp file, then rename
                    documents.append(url.path)
                } catch {
                    log.error("\(key): cannot write \(url.path): \(error.localizedDescription)")
                }
            }
            try? store.setItem(job: job, key: key, name: listing.name, status: status, documents: documents)
        }
        totals.withLock { $0.done += 1 }
        summary.status = status.rawValue
        summary.verdict = panel.verdict.rawValue
        summary.shipShare = panel.shipShare
        summary.scoreMedian = panel.scoreMedian
        summary.costUSD = ordered.compactMap(\.costUSD).reduce(0, +)
        summary.documents = documents
        summary.answered = panel.ship + panel.skip
        return summary
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

    func writeSummary(_ report: Report) throws {
        let t = totals.withLock { $0 }
        struct Summary: Encodable {
            var job: String
            var listings: [BatchRowSummary]
            var complete, partial, failed, notStarted: Int
            var spentUSD: Double
            var budgetUSD: Double?
            var budgetStopped: Bool
            enum CodingKeys: String, CodingKey {
                case job, listings, complete, partial, failed
                case notStarted = "not_started"
                case spentUSD = "spent_usd"
                case budgetUSD = "budget_usd"
                case budgetStopped = "budget_stopped"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(
            Summary(
                job: job, listings: report.rows, complete: report.complete, partial: report.partial, failed: report.failed,
                notStarted: report.notStarted, spentUSD: (t.spentUSD * 1e8).rounded() / 1e8, budgetUSD: budgetUSD,
                budgetStopped: report.budgetStopped))
        try data.write(to: outDirectory.appendingPathComponent("summary.json"), options: .atomic)
        var lines = ["", "STATUS       VERDICT     SHIP   MEDIAN  COST       LISTING"]
        for row in report.rows {
            let status = row.status.padding(toLength: 12, withPad: " ", startingAt: 0)
            let verdict = (row.verdict ?? "-").padding(toLength: 11, withPad: " ", startingAt: 0)
            let share = row.shipShare.map { String(format: "%3.0f%%", $0 * 100) } ?? "   -"
            let median = row.scoreMedian.map { String(format: "%6.1f", $0) } ?? "     -"
            let cost = (row.costUSD.map { String(format: "$%.5f", $0) } ?? "-").padding(toLength: 10, withPad: " ", startingAt: 0)
            lines.append("\(status) \(verdict) \(share)  \(median)  \(cost) \(row.name ?? row.key)")
        }
        lines.append(
            String(
                format: "%d complete, %d partial, %d failed, %d not started; $%.4f spent%@", report.complete, report.partial, report.failed,
                report.notStarted, t.spentUSD,
                report.budgetStopped ? " — budget reached: rerun the job with a larger --budget-usd to continue" : ""))
        log.write(lines.joined(separator: "\n"))
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
