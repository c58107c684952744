import ArgumentParser
import Crypto
import Foundation
import PanelRuntime

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Review every listing of a batch — resumable, crash-safe, budgeted.",
        discussion: """
            --concurrency bounds the persona calls in flight across the batch (and, with --base-url, per backend; \
            a configuration's max_concurrency still applies per backend).

            INPUT is a directory of listing files, a JSON Lines file (one listing per line) or listing files. One \
            document per listing goes to --out (file names from the listing name, collisions numbered), plus \
            summary.json; a summary table goes to stderr.

            State lives in the store (--store): each persona's result is saved the moment it completes. Rerunning \
            the same job (--job NAME, or the same inputs and --out) continues where it stopped; nothing is paid for \
            twice and documents are written atomically. A malformed listing or line is reported and marked failed; \
            the batch goes on.

            Examples:
              panel batch new-listings/ --out reviews/ --config panel.yaml --budget-usd 5
              panel batch listings.jsonl --out reviews/ --replay fixtures/recordings --format markdown --format json

            With a PostgreSQL store (--store postgres://…) other machines help: `panel batch … --enqueue-only` only \
            queues the listings (with the job's settings) and exits, and `panel worker`s review them; without \
            --enqueue-only the batch works as one of the workers until the job is done, then writes every document \
            (its own and the other workers') and summary.json to --out.

            Exit codes: 0 every listing complete (or, with --enqueue-only, queued); 3 some listing partial or failed, or \
            the budget stopped the batch; 2 bad invocation.
            """
    )

    @Argument(help: ArgumentHelp("Listing directories, JSON Lines files or listing files.", valueName: "INPUT"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Directory for the documents and summary.json (not with --enqueue-only).", valueName: "DIR"))
    var out: String?

    @Flag(help: "Only put the listings on the job's queue in the store, for panel worker; then exit.")
    var enqueueOnly = false

    @Option(help: ArgumentHelp("Claims of a listing that may end unfinished before it is marked failed.", valueName: "N"))
    var maxItemAttempts = 3

    @Option(help: "Document formats (repeatable; default markdown).")
    var format: [OutputFormat] = []

    @Option(help: ArgumentHelp("Stop scheduling calls when the next would take spending over this many USD.", valueName: "USD"))
    var budgetUsd: Double?

    @Option(help: ArgumentHelp("Job name (default: derived from the inputs and --out).", valueName: "NAME"))
    var job: String?

    @Flag(help: "Continue the job (also what rerunning the same job does).")
    var resume = false

    @Flag(help: "Ask failed and partial listings' missing personas again.")
    var retryFailed = false

    @OptionGroup(title: "Model backend")
    var backend: BackendOptions

    @Option(help: ArgumentHelp("Persona prompt files.", valueName: "DIR"))
    var prompts: String?

    @Option(
        help: ArgumentHelp(
            "A directory of document templates (review.md.mustache, review.html.mustache) overriding the built-in ones.", valueName: "DIR"))
    var templates: String?

    @Option(help: ArgumentHelp("Answers needed for a panel verdict (default: the configuration's, else a majority).", valueName: "N"))
    var quorum: Int?

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors and the summary.")
    var quiet = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one INPUT (a directory, a .jsonl file or listing files)") }
        if enqueueOnly, out != nil {
            throw ValidationError("--enqueue-only writes no documents: leave out --out, and export them with panel jobs export")
        }
        if !enqueueOnly, out == nil { throw ValidationError("give --out DIR for the documents (or --enqueue-only to queue the job)") }
        guard maxItemAttempts >= 1 else { throw ValidationError("--max-item-attempts must be at least 1") }
        if let job, job.hasPrefix(TeamReview.jobPrefix) {
            throw ValidationError("--job: names starting with '\(TeamReview.jobPrefix)' are the team server's reviews; choose another name")
        }
        if let budgetUsd, budgetUsd < 0 || !budgetUsd.isFinite {
            throw ValidationError("--budget-usd must be a finite amount of USD, 0 or more (e.g. 5 or 0.25)")
        }
        // An input that is not there is a bad invocation (exit 2), found before anything starts.
        for input in inputs where !FileManager.default.fileExists(atPath: input) {
            throw ValidationError("\(input): no such file or directory (INPUT is a directory of listings, a .jsonl file or a listing file)")
        }
        try backend.validate()
        if let quorum, quorum < 1 { throw ValidationError("--quorum must be at least 1") }
    }

    var jobName: String {
        if let job { return job }
        let identity =
            (inputs.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            + (out.map { [URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? []))
            .joined(separator: "\n")
        return "batch-" + ContentHash.hex(SHA256.hash(data: Data(identity.utf8)).prefix(6))
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: quiet)
        let engine: ReviewEngine
        let store: any ReviewStore
        let sink = out.map { DirectorySink(path: $0) }
        do {
            let runtime = try await backend.runtime(.always, log: log, prompts: prompts, templates: templates, quorum: quorum)
            engine = runtime.engine
            store = try runtime.openedStore()
            let backends = engine.backends
            if let sink {
                let leftovers = try sink.prepare()
                if leftovers > 0 { log.info("removed \(leftovers) temporary file(s) an interrupted run left in \(sink.path)") }
            }
            if budgetUsd != nil, !backends.unpriced.isEmpty {
                log.warning(
                    "backend(s) \(backends.unpriced.joined(separator: ", ")) have no price: their calls count as $0 against --budget-usd")
            }
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let name = jobName
        if resume, !(try await store.jobExists(name)) {
            log.error("--resume: no job named '\(name)' in \(store.location); run without --resume to start it")
            throw PanelExit.usage
        }
        let formats = (format.isEmpty ? [.markdown] : format).map(\.documentFormat)
        let driver = BatchDriver(
            engine: engine, store: store, sink: sink,
            options: .init(
                job: name, formats: formats, concurrency: backend.concurrency, budgetUSD: budgetUsd, retryFailed: retryFailed,
                maxItemAttempts: maxItemAttempts),
            onEvent: { event in
                if case .problem(let message) = event { log.error(message) }
            })
        do {
            try driver.checkSummaryFile()
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        if enqueueOnly {
            let queued: EnqueueResult
            do {
                queued = try await driver.enqueue(BatchInputs(paths: inputs))
            } catch {
                log.error("cannot queue the job in \(store.location): \(error)")
                throw PanelExit.someAbstained
            }
            log.write(
                "job \(name): \(queued.added) listing(s) queued, \(queued.requeued) queued again\(queued.newJob ? "" : " (the job was there: nothing else added)") in \(store.location); panel worker reviews them, panel jobs status \(name) follows them"
            )
            throw PanelExit.allAnswered
        }
        // The first listings queued, the work starts; the rest are queued beside it.
        let queuing: Task<EnqueueResult, any Error>
        do {
            queuing = try await driver.startQueuing(BatchInputs(paths: inputs))
        } catch {
            log.error("cannot queue the job in \(store.location): \(error)")
            throw PanelExit.someAbstained
        }
        let progress = BatchProgressLines(log: log, job: name, driver: driver)
        let reporting = quiet ? nil : Task { await progress.run() }
        let budgetStopped: Bool
        do {
            budgetStopped = try await Telemetry.exporting(command: "batch", log: log) { try await driver.drain(queuing: queuing) }
        } catch {
            reporting?.cancel()
            log.error("\(error)")
            throw PanelExit.someAbstained
        }
        reporting?.cancel()
        await reporting?.value
        let exported = driver.progress.exported
        if exported > 0 {
            log.info("wrote \(exported) document(s) --out lacked (listings other processes finished), from \(store.location)")
        }
        let summary: BatchSummary
        var lines = ["", "STATUS       VERDICT     SHIP   MEDIAN  COST       LISTING"]
        do {
            summary = try await driver.writeSummary(budgetStopped: budgetStopped) { row in
                lines.append(row.tableLine)
                if lines.count >= 256 {
                    log.write(lines.joined(separator: "\n"))
                    lines = []
                }
            }
        } catch {
            log.error("\(error)")
            throw PanelExit.someAbstained
        }
        // Interpolated, not `String(format:)`: Foundation's formatter with a `%@` cost a batch ~2 ms of
        // first-use type lookups.
        lines.append(
            "\(summary.complete) complete, \(summary.partial) partial, \(summary.failed) failed, \(summary.notStarted) not started; "
                + "$\(CFormat.double("%.4f", summary.spentUSD)) spent"
                + (budgetStopped ? " — budget reached: rerun the job with a larger --budget-usd to continue" : ""))
        log.write(lines.joined(separator: "\n"))
        throw summary.allComplete ? PanelExit.allAnswered : PanelExit.someAbstained
    }
}

/// The batch's progress on stderr: a line every 2 seconds.
struct BatchProgressLines: Sendable {
    let log: Diagnostics
    let job: String
    let driver: BatchDriver

    func run() async {
        let started = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            if Task.isCancelled { return }
            let t = driver.progress
            let seconds = max((ContinuousClock.now - started).seconds, 0.001)
            log.info(
                "batch \(job): \(t.done) listings done, \(t.failed) failed, \(t.inFlight) calls in flight, "
                    + "\(CFormat.double("%.1f", Double(t.calls) / seconds)) calls/s, $\(CFormat.double("%.4f", t.spentUSD)) spent")
        }
    }
}

extension BatchRowSummary {
    var tableLine: String {
        let status = CFormat.padded(status, to: 12)
        let verdict = CFormat.padded(verdict ?? "-", to: 11)
        let share = shipShare.map { CFormat.double("%3.0f", $0 * 100) + "%" } ?? "   -"
        let median = scoreMedian.map { CFormat.double("%6.1f", $0) } ?? "     -"
        let cost = CFormat.padded(costUSD.map { "$" + CFormat.double("%.5f", $0) } ?? "-", to: 10)
        return "\(status) \(verdict) \(share)  \(median)  \(cost) \(TerminalText.safe(name ?? key))"
    }
}
