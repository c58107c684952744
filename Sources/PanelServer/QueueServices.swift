import Foundation
import Logging
import ModelBackends
import PanelEngine
import PanelKit
import ServiceLifecycle

/// Works the store's queue in the server's process until shutdown, as `panel worker` does: the reviews
/// asked of any server on the store (``JobKinds/reviews``, at most `--max-reviews` at once), or the batch
/// queue (``JobKinds/batches``, unless `--no-worker`). A review is the same job whoever works it: this
/// server, another on the store, or a `panel worker`, taking it over when its holder's lease lapses.
/// On shutdown it claims nothing more; what is in flight has the grace period, then goes back to the queue.
struct QueueWorkerService: Service {
    let server: TeamServer
    let kinds: JobKinds

    func run() async throws {
        let store = server.store
        let settings = server.backendSettings
        let options = server.options
        let reviews = kinds == .reviews
        // A review's calls are bounded by the backends' own limits, as a review at the terminal is: its
        // personas × listings × samples all at once.
        let personas = server.engine.settings.prompts.personas.count * max(1, server.engine.settings.samples)
        let concurrency =
            reviews
            ? max(1, options.maxConcurrentReviews) * max(1, options.maxListingsPerReview) * max(1, personas) : options.workerConcurrency
        let calls = AsyncSemaphore(limit: concurrency)
        let owner = BatchDriver.makeOwner()
        let (lease, attempts) = (options.lease, QueueDefaults.maxItemAttempts)
        let logger = server.logger
        let metrics = server.metrics
        let engines = server.engines
        let onEvent: @Sendable (EngineEvent) -> Void = { event in
            switch event {
            case .problem(let message):
                logger.warning("\(reviews ? "review" : "batch"): \(message)")
            case .finished(let result, _) where reviews:
                metrics.personaCall(
                    backend: result.backend ?? "none", outcome: result.review == nil ? "abstained" : "answered",
                    latencyMS: result.latencyMS, costUSD: result.costUSD)
            case .listingFinished(_, _, let status) where reviews:
                let outcome =
                    switch status {
                    case .complete: "answered"
                    case .partial: "some_abstained"
                    case .failed: "failed"
                    case .pending: "requeued"
                    }
                metrics.review(outcome: outcome)
            default:
                break
            }
        }
        if reviews { await enqueueUnqueuedReviews() }
        let worker = QueueWorker(
            store: store, owner: owner, calls: calls,
            options: .init(
                job: nil, drain: false, concurrency: concurrency, lease: lease, maxItemAttempts: attempts,
                pollInterval: options.workerPollInterval, grace: options.grace, kinds: kinds,
                itemsInFlight: reviews ? max(1, options.maxConcurrentReviews) : nil),
            onEvent: onEvent,
            driver: { record in
                try BatchDriver.forJob(
                    record, backends: settings, store: store, calls: calls, owner: owner, lease: lease, maxItemAttempts: attempts,
                    concurrency: concurrency, engines: engines, onEvent: onEvent)
            })
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            worker.stop()
        }
    }

    /// Reviews a server of an earlier version left queued or running (before reviews were jobs) are
    /// put on the queue with this server's settings. A review already queued is left as it is.
    func enqueueUnqueuedReviews() async {
        let store = server.store
        for review in (try? await store.unfinishedReviews()) ?? [] {
            guard (try? await store.job(review.job)) == nil else { continue }
            server.logger.info("queueing a review left unfinished", metadata: ["review": "\(review.id)"])
            _ = try? await store.enqueue(
                job: review.job, settings: server.reviewJobSettings, budgetUSD: nil,
                listings: [QueuedListing(key: TeamReview.itemKey, position: 0, listing: review.listings)], retry: false)
        }
    }
}
