import Foundation
import Logging
import ModelBackends
import PanelEngine
import PanelKit
public import ServiceLifecycle
import Synchronization

/// Runs the reviews asked for over HTTP, a bounded number at once, in this process: each goes
/// queued → running → done (or failed) in the store, its events go to ``ReviewEvents`` as the personas
/// answer, its cost to the token that asked. A service of the server: on shutdown it takes no new
/// reviews and lets the running ones finish.
public final class ReviewRunner: Service, Sendable {
    struct Job: Sendable {
        var review: TeamReview
        var listings: [Listing]
    }

    let store: any ReviewStore
    let engine: ReviewEngine
    let events: ReviewEvents
    let metrics: ServerMetrics
    let slots: AsyncSemaphore
    let logger: Logger
    let resumeUnfinished: Bool
    /// On shutdown, how long running reviews have to finish.
    let grace: Duration
    /// Streamed text is sent at most this often per persona (the rest waits, merged, for the next).
    let deltaInterval: Duration
    let now: @Sendable () -> ContinuousClock.Instant
    let jobs: AsyncStream<Job>
    let submissions: AsyncStream<Job>.Continuation

    init(
        store: any ReviewStore, engine: ReviewEngine, events: ReviewEvents, metrics: ServerMetrics, concurrency: Int, logger: Logger,
        resumeUnfinished: Bool, grace: Duration = .seconds(30), deltaInterval: Duration = .milliseconds(100),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.deltaInterval = deltaInterval
        self.grace = grace
        self.now = now
        self.store = store
        self.engine = engine
        self.events = events
        self.metrics = metrics
        self.slots = AsyncSemaphore(limit: max(1, concurrency))
        self.logger = logger
        self.resumeUnfinished = resumeUnfinished
        (jobs, submissions) = AsyncStream.makeStream(of: Job.self)
    }

    /// Queues a review (already in the store, queued) to run here.
    func submit(_ review: TeamReview, listings: [Listing]) {
        events.open(review.id)
        submissions.yield(Job(review: review, listings: listings))
    }

    public func run() async throws {
        if resumeUnfinished {
            // A server stopped mid-review (killed, or the machine went down) left reviews queued or
            // running: their listings are in the store, so they run again.
            for review in (try? await store.unfinishedReviews()) ?? [] {
                guard let listings = try? JSONDecoder().decode([Listing].self, from: Data(review.listings.utf8)) else {
                    try? await store.updateReview(
                        id: review.id, status: .failed, document: nil, verdicts: [], costUSD: nil,
                        error: "its listings could not be read back")
                    continue
                }
                logger.info("resuming review", metadata: ["review": "\(review.id)"])
                submit(review, listings: listings)
            }
        }
        // On shutdown no review starts; the running ones have `grace` to finish, then they are cancelled
        // and put back in the queue (a server started later on the store runs them again).
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask {
                await withDiscardingTaskGroup { group in
                    for await job in self.jobs {
                        do {
                            try await self.slots.acquire()
                        } catch {
                            break
                        }
                        group.addTask {
                            defer { self.slots.release() }
                            await self.perform(job)
                        }
                    }
                }
            }
            outer.addTask {
                do {
                    try await gracefulShutdown()
                } catch {
                    return  // cancelled: the service is being torn down anyway
                }
                self.submissions.finish()
                try? await Task.sleep(for: self.grace)
            }
            await outer.next()
            outer.cancelAll()
        }
    }

    func perform(_ job: Job) async {
        let id = job.review.id
        let listings = job.listings
        do {
            try await store.updateReview(id: id, status: .running, document: nil, verdicts: [], costUSD: nil, error: nil)
        } catch {
            logger.error("store: cannot mark a review running", metadata: ["review": "\(id)", "error": "\(error)"])
        }
        let events = self.events
        let metrics = self.metrics
        let deltas = DeltaCoalescer(interval: deltaInterval, now: now)
        let document = await engine.review(listings) { event in
            guard let published = Self.event(event, listings: listings) else { return }
            switch event {
            case .delta:
                if let merged = deltas.add(published) { events.publish(id, merged) }
                return
            case .restarted:
                deltas.drop(published)
            case .finished(let result, _):
                metrics.personaCall(
                    backend: result.backend ?? "none", outcome: result.review == nil ? "abstained" : "answered",
                    latencyMS: result.latencyMS, costUSD: result.costUSD)
                if let rest = deltas.flush(published) { events.publish(id, rest) }
            default:
                break
            }
            events.publish(id, published)
        }
        let cost = document.totals.costUSD
        // Stopped by a shutdown whose grace ran out: back in the queue (a server started later on the
        // store runs it again), still holding its reservation; what its finished calls cost is charged.
        let status: TeamReview.Status = Task.isCancelled ? .queued : .done
        do {
            try await store.updateReview(
                id: id, status: status, document: status == .done ? JSONDocumentRenderer.render(document) : nil,
                verdicts: status == .done ? document.tools.map(\.panel.verdict.rawValue) : [], costUSD: cost,
                error: status == .done ? nil : "the server stopped before the review finished; it is queued again")
            try await store.chargeReview(id: id, costUSD: cost ?? 0, releasing: status == .done)
        } catch {
            logger.error("store: cannot save a review's document", metadata: ["review": "\(id)", "error": "\(error)"])
        }
        metrics.review(outcome: status == .done ? (document.allAnswered ? "answered" : "some_abstained") : "requeued")
        for event in Self.panelEvents(document) { events.publish(id, event) }
        events.publish(id, .init(name: "done", data: ["id": .string(id), "status": .string(status.rawValue)]))
        events.finish(id)
    }

    // MARK: events

    static func toolFields(_ listing: Listing, in listings: [Listing]) -> [String: JSONValue] {
        ["tool": .string(listing.name), "tool_index": .int(listings.firstIndex(of: listing) ?? 0)]
    }

    /// The HTTP event for an engine event (nil for those the stream does not carry).
    static func event(_ event: EngineEvent, listings: [Listing]) -> ReviewEvents.Event? {
        switch event {
        case .started(let persona, let listing):
            var data = toolFields(listing, in: listings)
            data["persona"] = .string(persona.id)
            data["persona_name"] = .string(persona.name)
            return .init(name: "persona.started", data: data)
        case .delta(let persona, let listing, let text):
            var data = toolFields(listing, in: listings)
            data["persona"] = .string(persona.id)
            data["text"] = .string(text)
            return .init(name: "persona.delta", data: data)
        case .finished(let result, let listing):
            var data = toolFields(listing, in: listings)
            data["persona"] = .string(result.persona.id)
            return .init(name: "persona.finished", data: data.merging(finishedFields(ReviewDocument.Review(result: result))) { $1 })
        case .restarted(let persona, let listing):
            var data = toolFields(listing, in: listings)
            data["persona"] = .string(persona.id)
            return .init(name: "persona.restarted", data: data)
        case .repairing, .listingFinished, .spend, .problem:
            return nil
        }
    }

    static func finishedFields(_ review: ReviewDocument.Review) -> [String: JSONValue] {
        [
            "status": .string(review.status.rawValue), "score": review.score.map(JSONValue.int) ?? .null,
            "verdict": review.verdict.map { .string($0.rawValue) } ?? .null, "text": review.text.map(JSONValue.string) ?? .null,
            "reason": review.error.map(JSONValue.string) ?? .null, "backend": review.backend.map(JSONValue.string) ?? .null,
            "model": review.model.map(JSONValue.string) ?? .null,
        ]
    }

    /// Each tool's `panel` event: the verdict and the votes.
    static func panelEvents(_ document: ReviewDocument) -> [ReviewEvents.Event] {
        document.tools.enumerated().map { index, tool in
            let panel = tool.panel
            return .init(
                name: "panel",
                data: [
                    "tool": .string(tool.name), "tool_index": .int(index), "verdict": .string(panel.verdict.rawValue),
                    "headline": .string(panel.headline), "ship": .int(panel.ship), "skip": .int(panel.skip),
                    "abstained": .int(panel.abstained), "score_median": panel.scoreMedian.map(JSONValue.double) ?? .null,
                ])
        }
    }

    /// The events of a finished review, rebuilt from its document (for a client of a review this process
    /// did not run, or ran long ago).
    static func events(from document: ReviewDocument?, review: TeamReview) -> [ReviewEvents.Event] {
        var events: [ReviewEvents.Event] = []
        if let document {
            for (index, tool) in document.tools.enumerated() {
                for review in tool.reviews {
                    let base: [String: JSONValue] = [
                        "tool": .string(tool.name), "tool_index": .int(index), "persona": .string(review.persona),
                    ]
                    var started = base
                    started["persona_name"] = .string(document.personaName(review.persona))
                    events.append(.init(name: "persona.started", data: started))
                    events.append(.init(name: "persona.finished", data: base.merging(finishedFields(review)) { $1 }))
                }
            }
            events += panelEvents(document)
        }
        var done: [String: JSONValue] = ["id": .string(review.id), "status": .string(review.status.rawValue)]
        if let error = review.error { done["error"] = .string(error) }
        events.append(.init(name: "done", data: done))
        return events
    }
}

/// Merges a persona's streamed pieces so each stream gets at most one `persona.delta` per persona per
/// interval, whatever rate the model streams at: a piece that comes sooner waits, merged with the next,
/// and whatever waits is sent before the persona's `persona.finished`. No text is lost or reordered.
final class DeltaCoalescer: Sendable {
    struct Pending {
        var text = ""
        var sample: ReviewEvents.Event?
        var last: ContinuousClock.Instant?
    }

    let interval: Duration
    let now: @Sendable () -> ContinuousClock.Instant
    let pending = Mutex([String: Pending]())

    init(interval: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.interval = interval
        self.now = now
    }

    /// The delta to send now (with what waited before it), or nil while it must wait.
    func add(_ event: ReviewEvents.Event) -> ReviewEvents.Event? {
        guard let key = ReviewEvents.personaKey(event) else { return event }
        let time = now()
        return pending.withLock { pending -> ReviewEvents.Event? in
            var entry = pending[key] ?? Pending()
            entry.text += event.data["text"]?.stringValue ?? ""
            entry.sample = event
            if let last = entry.last, time - last < interval {
                pending[key] = entry
                return nil
            }
            var data = event.data
            data["text"] = .string(entry.text)
            pending[key] = Pending(last: time)
            return ReviewEvents.Event(name: event.name, data: data)
        }
    }

    /// Forgets what waits for the persona of `restarted` (that text was abandoned).
    func drop(_ restarted: ReviewEvents.Event) {
        guard let key = ReviewEvents.personaKey(restarted) else { return }
        pending.withLock { _ = $0.removeValue(forKey: key) }
    }

    /// What still waits for the persona of `finished`, as one delta.
    func flush(_ finished: ReviewEvents.Event) -> ReviewEvents.Event? {
        guard let key = ReviewEvents.personaKey(finished) else { return nil }
        return pending.withLock { pending -> ReviewEvents.Event? in
            guard let entry = pending.removeValue(forKey: key), !entry.text.isEmpty, let sample = entry.sample else { return nil }
            var data = sample.data
            data["text"] = .string(entry.text)
            return ReviewEvents.Event(name: sample.name, data: data)
        }
    }
}
