public import ModelBackends
public import PanelKit
import Synchronization

/// One event of a review's stream as every server sends it (`GET /v1/reviews/{id}/events`): its SSE
/// name and its data. Made from the engine's events by whoever works the review, kept in the store's
/// log (``ReviewEventLog``), read back by any server.
public struct ReviewEvent: Sendable, Hashable {
    public let name: String
    public let data: [String: JSONValue]

    public init(name: String, data: [String: JSONValue]) {
        self.name = name
        self.data = data
    }

    /// As the store keeps it.
    public var record: ReviewEventRecord { ReviewEventRecord(name: name, data: JSONValue.object(data).canonicalText()) }

    /// Back from the store (nil for data that is not a JSON object).
    public init?(_ record: ReviewEventRecord) {
        guard case .object(let data)? = JSONValue.parse(record.data) else { return nil }
        self.init(name: record.name, data: data)
    }

    /// Which persona of which tool the event is about (`tool_index/persona`), for merging deltas.
    public var personaKey: String? {
        guard name.hasPrefix("persona."), let persona = data["persona"]?.stringValue else { return nil }
        return "\(data["tool_index"]?.intValue ?? 0)/\(persona)"
    }

    static func toolFields(_ listing: Listing, in listings: [Listing]) -> [String: JSONValue] {
        ["tool": .string(listing.name), "tool_index": .int(listings.firstIndex(of: listing) ?? 0)]
    }

    /// The stream's event for an engine event (nil for those the stream does not carry).
    public static func from(_ event: EngineEvent, listings: [Listing]) -> ReviewEvent? {
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
    public static func panelEvents(_ document: ReviewDocument) -> [ReviewEvent] {
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

    /// The stream's last event.
    public static func done(_ review: String, status: TeamReview.Status, error: String?) -> ReviewEvent {
        ReviewEvent(ReviewEventRecord.done(review, status: status, error: error))!
    }

    /// The events of a finished review rebuilt from its document (for a reader of a review whose log
    /// was dropped, or was never kept).
    public static func replay(_ document: ReviewDocument?, review: TeamReview) -> [ReviewEvent] {
        var events: [ReviewEvent] = []
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
        events.append(done(review.id, status: review.status, error: review.error))
        return events
    }
}

/// Merges a persona's streamed pieces so a review's stream gets at most one `persona.delta` per persona
/// per interval, whatever rate the model streams at: a piece that comes sooner waits, merged with the
/// next, and whatever waits is sent before the persona's `persona.finished`. No text is lost or
/// reordered.
public final class DeltaCoalescer: Sendable {
    struct Pending {
        var text = ""
        var sample: ReviewEvent?
        var last: ContinuousClock.Instant?
    }

    let interval: Duration
    let now: @Sendable () -> ContinuousClock.Instant
    let pending = Mutex([String: Pending]())

    public init(interval: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.interval = interval
        self.now = now
    }

    /// The delta to send now (with what waited before it), or nil while it must wait.
    public func add(_ event: ReviewEvent) -> ReviewEvent? {
        guard let key = event.personaKey else { return event }
        let time = now()
        return pending.withLock { pending -> ReviewEvent? in
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
            return ReviewEvent(name: event.name, data: data)
        }
    }

    /// Forgets what waits for the persona of `restarted` (that text was abandoned).
    public func drop(_ restarted: ReviewEvent) {
        guard let key = restarted.personaKey else { return }
        pending.withLock { _ = $0.removeValue(forKey: key) }
    }

    /// What still waits for the persona of `finished`, as one delta.
    public func flush(_ finished: ReviewEvent) -> ReviewEvent? {
        guard let key = finished.personaKey else { return nil }
        return pending.withLock { pending -> ReviewEvent? in
            guard let entry = pending.removeValue(forKey: key), !entry.text.isEmpty, let sample = entry.sample else { return nil }
            var data = sample.data
            data["text"] = .string(entry.text)
            return ReviewEvent(name: sample.name, data: data)
        }
    }
}

/// The events of one review job on their way to the store's log: the engine's events made into the
/// stream's (deltas merged by a ``DeltaCoalescer``), appended in order, several at once when the store
/// is slower than the model (one append in flight; what arrives meanwhile goes in the next).
public final class ReviewEventLog: Sendable {
    let store: any ReviewStore
    public let review: String
    let listings: [Listing]
    let deltas: DeltaCoalescer
    let onProblem: @Sendable (String) -> Void

    struct State {
        var pending: [ReviewEventRecord] = []
        var writer: Task<Void, Never>?
    }

    let state = Mutex(State())

    public init(
        store: any ReviewStore, review: String, listings: [Listing], deltaInterval: Duration = .milliseconds(100),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
        onProblem: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.store = store
        self.review = review
        self.listings = listings
        self.deltas = DeltaCoalescer(interval: deltaInterval, now: now)
        self.onProblem = onProblem
    }

    /// Takes an engine event (those the stream does not carry are ignored).
    public func record(_ event: EngineEvent) {
        guard let published = ReviewEvent.from(event, listings: listings) else { return }
        var out: [ReviewEvent] = []
        switch event {
        case .delta:
            guard let merged = deltas.add(published) else { return }
            out = [merged]
        case .restarted:
            deltas.drop(published)
            out = [published]
        case .finished:
            if let rest = deltas.flush(published) { out.append(rest) }
            out.append(published)
        default:
            out = [published]
        }
        append(out.map(\.record))
    }

    func append(_ records: [ReviewEventRecord]) {
        state.withLock { state in
            state.pending += records
            guard state.writer == nil else { return }
            state.writer = Task { await self.write() }
        }
    }

    func write() async {
        while true {
            let batch = state.withLock { state -> [ReviewEventRecord] in
                defer { state.pending = [] }
                if state.pending.isEmpty { state.writer = nil }
                return state.pending
            }
            if batch.isEmpty { return }
            do {
                try await store.appendReviewEvents(review: review, batch)
            } catch {
                onProblem("review \(review): cannot keep \(batch.count) event(s) in \(store.location): \(error)")
            }
        }
    }

    /// Returns once every event recorded so far is in the store (or could not be written).
    public func flush() async {
        while let writer = state.withLock({ $0.writer }) { await writer.value }
    }
}
