import ArgumentParser
import Dispatch
import Foundation
import PanelRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `panel worker`: drains the queue of a shared store — on this machine or any other that reaches it.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Review queued listings from a shared store (jobs queued by panel batch --enqueue-only).",
        discussion: """
            A worker claims listings from the store's queue (--store, or PANEL_STORE; PostgreSQL for several \
            machines) a few at a time, holds each under a lease it renews, reviews it with the job's settings (its \
            prompts, templates, formats, panel and router sections, recorded when the job was enqueued) and this \
            worker's backends and keys (--config, or the other backend flags), and keeps the documents in the store \
            (panel jobs export writes them out). A listing whose worker dies is taken over when its lease expires; \
            persona results already saved are not paid for again.

            Without --drain a worker waits for new work; with it, it exits once nothing it may work on is open. \
            SIGTERM or Ctrl-C: stop claiming, let the listings in flight finish (up to --grace-seconds, then give \
            them back to the queue), exit 0.

            Examples:
              panel worker --store postgres://panel@db.internal/panel --config panel.yaml --concurrency 32
              panel worker --store postgres://panel@db.internal/panel --job nightly --drain

            Exit codes: 0 stopped or drained; 2 bad invocation (a store that cannot be opened, a bad configuration).
            """
    )

    @Option(help: ArgumentHelp("Work on this job only (default: every job in the store, oldest first).", valueName: "NAME"))
    var job: String?

    @Flag(help: "Exit once nothing is left to claim (default: wait for new work).")
    var drain = false

    @Option(help: ArgumentHelp("How long a claim holds a listing without a heartbeat; renewed every third of it.", valueName: "SECONDS"))
    var leaseSeconds: Double = QueueDefaults.lease.seconds

    @Option(help: ArgumentHelp("Claims of a listing that may end unfinished before it is marked failed.", valueName: "N"))
    var maxItemAttempts = QueueDefaults.maxItemAttempts

    @Option(help: ArgumentHelp("How long listings in flight may take to finish after SIGTERM.", valueName: "SECONDS"))
    var graceSeconds: Double = 30

    @Option(help: ArgumentHelp("How often an idle worker looks at the queue without being woken.", valueName: "SECONDS"))
    var pollSeconds: Double = 2

    @OptionGroup(title: "Model backend")
    var backend: BackendOptions

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    func validate() throws {
        try backend.validate()
        guard (0.1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be from 0.1 to 3600") }
        guard (0...3600).contains(graceSeconds) else { throw ValidationError("--grace-seconds must be from 0 to 3600") }
        guard (0.01...600).contains(pollSeconds) else { throw ValidationError("--poll-seconds must be from 0.01 to 600") }
        guard maxItemAttempts >= 1 else { throw ValidationError("--max-item-attempts must be at least 1") }
        if backend.record != nil {
            throw ValidationError("--record is for panel review and batch; a worker keeps its answers in the store")
        }
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: quiet)
        let store: any ReviewStore
        let settings: BackendSettings
        do {
            // Built now, not at the first claim: a worker that cannot build its backends should not start.
            let runtime = try await backend.runtime(.always, log: log, storePatience: .seconds(60))
            settings = runtime.backendSettings
            store = try runtime.openedStore()
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let lease = Duration.milliseconds(Int64(leaseSeconds * 1000))
        let calls = AsyncSemaphore(limit: backend.concurrency)
        let owner = BatchDriver.makeOwner()
        let onEvent: @Sendable (EngineEvent) -> Void = { event in
            switch event {
            case .problem(let message): log.error(message + Telemetry.logSuffix)
            case .listingFinished(let key, let name, let status): log.debug("\(status.rawValue): \(TerminalText.safe(name ?? key))")
            default: break
            }
        }
        let (concurrency, attempts) = (backend.concurrency, maxItemAttempts)
        let worker = QueueWorker(
            store: store, owner: owner, calls: calls,
            options: .init(
                job: job, drain: drain, concurrency: concurrency, lease: lease, maxItemAttempts: attempts,
                pollInterval: .milliseconds(Int64(pollSeconds * 1000)), grace: .milliseconds(Int64(graceSeconds * 1000))),
            onEvent: onEvent,
            driver: { record in
                try BatchDriver.forJob(
                    record, backends: settings, store: store, calls: calls, owner: owner, lease: lease, maxItemAttempts: attempts,
                    concurrency: concurrency, onEvent: onEvent)
            })
        // SIGTERM and Ctrl-C are handled before the worker says it is claiming (a script may stop it then).
        let signals = SignalWatch([SIGTERM, SIGINT]) { _ in
            if !worker.isStopping { log.info("stopping: no new claims; letting the listings in flight finish") }
            worker.stop()
        }
        defer { signals.cancel() }
        log.info("worker \(owner): claiming from \(store.location)\(job.map { " (job \($0))" } ?? "")")
        let progress = quiet ? nil : Task { await WorkerProgressLines(log: log, worker: worker).run() }
        do {
            try await Telemetry.exporting(command: "worker", log: log) { try await worker.run() }
        } catch {
            progress?.cancel()
            log.error("\(error)")
            throw PanelExit.someAbstained
        }
        progress?.cancel()
        let drivers = worker.drivers
        let done = drivers.map(\.progress.done).reduce(0, +)
        let made = drivers.map(\.progress.calls).reduce(0, +)
        // Answers paid for but lost with a lease, and listings given back for want of a backend, are
        // said every time: an operator counts them against the provider's bill.
        let unsaved = drivers.map(\.progress.paidUnsaved).reduce(0, +)
        let givenBack = drivers.map(\.progress.givenBack).reduce(0, +)
        log.info(
            "worker \(owner): \(done) listing(s) finished, \(made) persona call(s), \(unsaved) answer(s) paid for but not saved (lease lost), \(givenBack) listing(s) given back (backend unreachable)\(drain ? "; nothing left to claim" : "")"
        )
    }
}

/// The worker's progress on stderr: a line every 10 seconds while it works.
struct WorkerProgressLines: Sendable {
    let log: Diagnostics
    let worker: QueueWorker

    func run() async {
        var last = -1
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(10))
            if Task.isCancelled { return }
            let drivers = worker.drivers
            let done = drivers.map(\.progress.done).reduce(0, +)
            guard done != last else { continue }
            last = done
            let inFlight = drivers.map(\.progress.inFlight).reduce(0, +)
            let spent = drivers.map(\.progress.spentUSD).reduce(0, +)
            log.info(String(format: "worker: %d listings finished, %d calls in flight, $%.4f spent", done, inFlight, spent))
        }
    }
}
