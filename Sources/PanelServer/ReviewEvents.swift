import Foundation
public import ModelBackends
import Synchronization

/// The live events of reviews running in this process, for `GET /v1/reviews/{id}/events`: each
/// review's events so far (a client that connects late gets them first) and the streams open on it.
///
/// Streamed text is kept merged — one `persona.delta` per persona with the text so far — so a review's
/// log is as large as its answers, however many pieces they came in. Finished reviews' logs are kept
/// for a while (the newest ``retained``), then a late client gets the events rebuilt from the document.
public final class ReviewEvents: Sendable {
    public struct Event: Sendable, Hashable {
        public var name: String
        public var data: [String: JSONValue]

        /// The event as Server-Sent Events text.
        public var text: String { "event: \(name)\ndata: \(JSONValue.object(data).canonicalText())\n\n" }
    }

    struct Log {
        var events: [Event] = []
        /// Where each persona's merged delta is in `events` (while it is that persona's last event).
        var openDelta: [String: Int] = [:]
        var subscribers: [UInt64: AsyncStream<Event>.Continuation] = [:]
        var finished = false
    }

    struct State {
        var logs: [String: Log] = [:]
        var finishedOrder: [String] = []
        var nextSubscriber: UInt64 = 0
    }

    let state = Mutex(State())
    let retained: Int

    public init(retained: Int = 256) {
        self.retained = retained
    }

    /// Starts a review's log (before its first event, so watchers connecting at once find it live).
    func open(_ review: String) {
        state.withLock { if $0.logs[review] == nil { $0.logs[review] = Log() } }
    }

    /// Records an event and sends it to every open stream. `persona.delta` events of one persona in a
    /// row are merged in the log (each is still sent as it came).
    func publish(_ review: String, _ event: Event) {
        let subscribers = state.withLock { state -> [AsyncStream<Event>.Continuation] in
            guard var log = state.logs[review], !log.finished else { return [] }
            let persona = Self.personaKey(event)
            if event.name == "persona.delta", let persona, let index = log.openDelta[persona] {
                var merged = log.events[index]
                merged.data["text"] = .string((merged.data["text"]?.stringValue ?? "") + (event.data["text"]?.stringValue ?? ""))
                log.events[index] = merged
            } else {
                log.events.append(event)
                if let persona {
                    log.openDelta[persona] = event.name == "persona.delta" ? log.events.count - 1 : nil
                }
            }
            state.logs[review] = log
            return Array(log.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    /// Ends a review's log: its streams end after what they were sent.
    func finish(_ review: String) {
        let subscribers = state.withLock { state -> [AsyncStream<Event>.Continuation] in
            guard var log = state.logs[review], !log.finished else { return [] }
            log.finished = true
            let subscribers = Array(log.subscribers.values)
            log.subscribers = [:]
            log.openDelta = [:]
            state.logs[review] = log
            state.finishedOrder.append(review)
            while state.finishedOrder.count > retained { state.logs[state.finishedOrder.removeFirst()] = nil }
            return subscribers
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// What happened so far and, while the review runs here, a stream of what comes next (ending when it
    /// finishes). Nil when this process has no log of the review.
    func subscribe(_ review: String) -> (past: [Event], next: AsyncStream<Event>?)? {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        let result = state.withLock { state -> (past: [Event], next: AsyncStream<Event>?, id: UInt64?)? in
            guard var log = state.logs[review] else { return nil }
            if log.finished { return (log.events, nil, nil) }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            log.subscribers[id] = continuation
            state.logs[review] = log
            return (log.events, stream, id)
        }
        guard let result else { return nil }
        if let id = result.id {
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { state in _ = state.logs[review]?.subscribers.removeValue(forKey: id) }
            }
        } else {
            continuation.finish()
        }
        return (result.past, result.next)
    }

    /// Streams open now, over every review.
    var openStreams: Int { state.withLock { $0.logs.values.reduce(0) { $0 + $1.subscribers.count } } }

    static func personaKey(_ event: Event) -> String? {
        guard event.name.hasPrefix("persona."), let persona = event.data["persona"]?.stringValue else { return nil }
        return "\(event.data["tool_index"]?.intValue ?? 0)/\(persona)"
    }
}
