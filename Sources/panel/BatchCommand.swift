import ArgumentParser
import Crypto
import Foundation
import ModelBackends
import PanelKit
import PanelStore
import Synchronization

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

            Exit codes: 0 every listing complete; 3 some listing partial or failed, or the budget stopped the batch; \
            2 bad invocation.
            """
    )

    @Argument(help: ArgumentHelp("Listing directories, JSON Lines files or listing files.", valueName: "INPUT"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Directory for the documents and summary.json.", valueName: "DIR"))
    var out: String

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

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors and the summary.")
    var quiet = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one INPUT (a directory, a .jsonl file or listing files)") }
        if let budgetUsd, budgetUsd < 0 || !budgetUsd.isFinite { throw ValidationError("--budget-usd must be 0 or more") }
        try backend.validate()
    }

    var jobName: String {
        if let job { return job }
        let identity =
            (inputs.map { URL(fileURLWithPath: $0).standardizedFileURL.path } + [URL(fileURLWithPath: out).standardizedFileURL.path])
            .joined(separator: "\n")
        return "batch-" + SHA256.hash(data: Data(identity.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: quiet)
        let promptSet: PromptSet
        let backendFor: @Sendable (String) -> any ModelBackend
        let configuration: PanelConfiguration?
        let store: PanelStore
        do {
            promptSet = try prompts.map { try PromptSet.load(directory: URL(fileURLWithPath: $0)) } ?? .builtIn()
            (configuration, backendFor) = try backend.makeBackends(log: log)
            store = try PanelStore(path: backend.store)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let name = jobName
        if resume, !(try store.jobExists(name)) {
            log.error("--resume: no job named '\(name)' in \(store.path); run without --resume to start it")
            throw PanelExit.usage
        }
        let newJob = try store.beginJob(name)
        let leftovers = AtomicFile.removeLeftovers(in: URL(fileURLWithPath: out))
        if leftovers > 0 { log.info("removed \(leftovers) temporary file(s) an interrupted run left in \(out)") }
        let runner = BatchRunner(
            job: name, store: store, prompts: promptSet, backendFor: backendFor, configuration: configuration,
            formats: format.isEmpty ? [.markdown] : format, outDirectory: URL(fileURLWithPath: out), concurrency: backend.concurrency,
            budgetUSD: budgetUsd, retryFailed: retryFailed, temperature: configuration?.temperature ?? backend.temperature,
            maxTokens: configuration?.maxTokens ?? backend.maxTokens, log: log, newJob: newJob,
            totalListings: isatty(STDERR_FILENO) == 1 && !quiet ? BatchInputs(paths: inputs).rowCount() : nil)
        let budgetStopped = await runner.run(BatchInputs(paths: inputs))
        let allComplete: Bool
        do {
            allComplete = try runner.writeSummary(budgetStopped: budgetStopped)
        } catch {
            log.error("\(error)")
            throw PanelExit.someAbstained
        }
        throw allComplete ? PanelExit.allAnswered : PanelExit.someAbstained
    }
}
