import Foundation
public import ModelBackends
public import PanelEngine
import PanelKit
import Synchronization

/// The events of reviews watched on this server, for `GET /v1/reviews/{id}/events`: each review's
/// events so far (a client that connects late gets them first) and the streams open on it. Whoever
/// works a review — this server, another, a `panel worker` — keeps its events in the store's log; one
/// reader a review per server (``tail(_:)``) follows the log while someone watches, woken by the store,
/// and sends each event to every stream. A review whose log was dropped (finished a while ago) or never
/// kept is replayed from its document.
///
/// Streamed text is kept merged — one `persona.delta` per persona with the text so far — so a review's
/// log is as large as its answers, however many pieces they came in. An event's text is made once, when
/// it is published, whatever the number of watchers; a watcher that falls behind gets what piled up in
/// one write. Finished reviews' logs are kept for a while (the newest ``retained``), then a late client
/// gets the events rebuilt from the document.
public final class ReviewEvents: Sendable {
    public struct Event: Sendable, Hashable {
        public let name: String
        public let data: [String: JSONValue]
        /// The event as Server-Sent Events text.
        public let text: String

        public init(name: String, data: [String: JSONValue]) {
            self.name = name
            self.data = data
            self.text = "event: \(name)\ndata: \(JSONValue.object(data).canonicalText())\n\n"
        }

        init(_ event: ReviewEvent) { self.init(name: event.name, data: event.data) }
    }

    /// One open stream: what was published since it last wrote, and its writer waiting for more.
    final class Watcher: Sendable {
        struct State {
            var pending = ""
            var finished = false
            var waiting: CheckedContinuation<String?, Never>?
        }

        let state = Mutex(State())

        func push(_ text: String) {
            let waiting = state.withLock { state -> CheckedContinuation<String?, Never>? in
                if let waiting = state.waiting {
                    state.waiting = nil
                    return waiting
                }
                state.pending += text
                return nil
            }
            waiting?.resume(returning: text)
        }

        func finish() {
            let waiting = state.withLock { state -> CheckedContinuation<String?, Never>? in
                state.finished = true
                defer { state.waiting = nil }
                return state.waiting
            }
            waiting?.resume(returning: nil)
        }

        /// Everything published since the last call, or nil once the review finished and all was taken.
        func next() async -> String? {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> String?? in
                    if !state.pending.isEmpty {
                        defer { state.pending = "" }
                        return .some(state.pending)
                    }
                    if state.finished { return .some(nil) }
                    state.waiting = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    struct Log {
        var events: [Event] = []
        /// Where each persona's merged delta is in `events` (while it is that persona's last event).
        var openDelta: [String: Int] = [:]
        var watchers: [ObjectIdentifier: Watcher] = [:]
        var finished = false
    }

    struct State {
        var logs: [String: Log] = [:]
        var finishedOrder: [String] = []
    }

    let state = Mutex(State())
    let retained: Int
    /// The roles the streams read: reviews' event logs, and the reviews themselves.
    let store: any ReviewLogStore & TeamStore
    let pollInterval: Duration

    public init(store: any ReviewLogStore & TeamStore, pollInterval: Duration = .milliseconds(250), retained: Int = 256) {
        self.store = store
        self.pollInterval = pollInterval
        self.retained = retained
    }

    /// Records an event and sends it to every open stream. `persona.delta` events of one persona in a
    /// row are merged in the log (each is still sent as it came).
    func publish(_ review: String, _ event: Event) {
        let watchers = state.withLock { state -> [Watcher] in
            guard var log = state.logs[review], !log.finished else { return [] }
            let persona = Self.personaKey(event)
            if event.name == "persona.restarted", let persona, let index = log.openDelta[persona] {
                // A late watcher is not sent text that was abandoned.
                var data = log.events[index].data
                data["text"] = .string("")
                log.events[index] = Event(name: log.events[index].name, data: data)
                log.events.append(event)
                log.openDelta[persona] = nil
            } else if event.name == "persona.delta", let persona, let index = log.openDelta[persona] {
                var data = log.events[index].data
                data["text"] = .string((data["text"]?.stringValue ?? "") + (event.data["text"]?.stringValue ?? ""))
                log.events[index] = Event(name: event.name, data: data)
            } else {
                log.events.append(event)
                if let persona {
                    log.openDelta[persona] = event.name == "persona.delta" ? log.events.count - 1 : nil
                }
            }
            state.logs[review] = log
            return Array(log.watchers.values)
        }
        for watcher in watchers { watcher.push(event.text) }
    }

    /// Ends a review's log: its streams end after what they were sent.
    func finish(_ review: String) {
        let watchers = state.withLock { state -> [Watcher] in
            guard var log = state.logs[review], !log.finished else { return [] }
            log.finished = true
            let watchers = Array(log.watchers.values)
            log.watchers = [:]
            log.openDelta = [:]
            state.logs[review] = log
            state.finishedOrder.append(review)
            while state.finishedOrder.count > retained { state.logs[state.finishedOrder.removeFirst()] = nil }
            return watchers
        }
        for watcher in watchers { watcher.finish() }
    }

    /// What happened so far, as one text, and until the review ends a watcher for what comes next
    /// (``stopWatching(_:_:)`` when the client goes). The first watcher of a review starts its reader.
    func subscribe(_ review: String) -> (past: String, watcher: Watcher?) {
        let (subscribed, start) = state.withLock { state -> ((past: String, watcher: Watcher?), Bool) in
            var log = state.logs[review] ?? Log()
            let start = state.logs[review] == nil
            let past = log.events.map(\.text).joined()
            if log.finished { return ((past, nil), false) }
            let watcher = Watcher()
            log.watchers[ObjectIdentifier(watcher)] = watcher
            state.logs[review] = log
            return ((past, watcher), start)
        }
        if start { Task { await self.tail(review) } }
        return subscribed
    }

    /// Follows a review's log in the store while someone watches it here: each event read is sent on;
    /// the log's `done` ends it. When the log has nothing new and the review is over, what the log
    /// lacks is rebuilt from its document. With no one left watching, it stops (and forgets the review).
    func tail(_ review: String) async {
        var seq = 0
        var sent = 0
        var quiet = 0
        while !Task.isCancelled {
            let records = (try? await store.reviewEvents(review: review, after: seq, limit: 1000)) ?? []
            for record in records {
                seq = record.seq
                guard let event = ReviewEvent(record) else { continue }
                publish(review, Event(event))
                sent += 1
                if event.name == "done" {
                    finish(review)
                    return
                }
            }
            if !records.isEmpty {
                quiet = 0
                continue
            }
            // Nothing new. Every few looks (and at the first): is the review over without a `done` in its
            // log (dropped a while after it ended, or a review from before logs were kept)?
            if quiet % 4 == 0 {
                let current = try? await store.review(id: review)
                guard let current else {
                    if (try? await store.reviewEvents(review: review, after: seq, limit: 1))?.isEmpty ?? true {
                        finish(review)
                        return
                    }
                    continue
                }
                if current.status == .done || current.status == .failed {
                    if let more = try? await store.reviewEvents(review: review, after: seq, limit: 1), !more.isEmpty { continue }
                    let document = try? current.document(actions: [])
                    let replay =
                        sent == 0
                        ? ReviewEvent.replay(document, review: current)
                        : (document.map(ReviewEvent.panelEvents) ?? []) + [.done(current.id, status: current.status, error: current.error)]
                    for event in replay { publish(review, Event(event)) }
                    finish(review)
                    return
                }
            }
            quiet += 1
            if forgetUnwatched(review) { return }
            await store.waitForReviewEvents(review: review, timeout: pollInterval)
        }
    }

    /// Forgets an unfinished review no one watches here any more (a later watcher starts a new reader).
    func forgetUnwatched(_ review: String) -> Bool {
        state.withLock { state in
            guard let log = state.logs[review], !log.finished, log.watchers.isEmpty else { return false }
            state.logs[review] = nil
            return true
        }
    }

    func stopWatching(_ review: String, _ watcher: Watcher) {
        state.withLock { state in _ = state.logs[review]?.watchers.removeValue(forKey: ObjectIdentifier(watcher)) }
    }

    static func personaKey(_ event: Event) -> String? {
        ReviewEvent(name: event.name, data: event.data).personaKey
    }
}
