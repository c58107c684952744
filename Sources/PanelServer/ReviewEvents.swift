import Foundation
public import ModelBackends
import Synchronization

/// The live events of reviews running in this process, for `GET /v1/reviews/{id}/events`: each
/// review's events so far (a client that connects late gets them first) and the streams open on it.
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

    /// What happened so far, as one text, and while the review runs here a watcher for what comes next
    /// (``stopWatching(_:_:)`` when the client goes). Nil when this process has no log of the review.
    func subscribe(_ review: String) -> (past: String, watcher: Watcher?)? {
        state.withLock { state -> (past: String, watcher: Watcher?)? in
            guard var log = state.logs[review] else { return nil }
            let past = log.events.map(\.text).joined()
            if log.finished { return (past, nil) }
            let watcher = Watcher()
            log.watchers[ObjectIdentifier(watcher)] = watcher
            state.logs[review] = log
            return (past, watcher)
        }
    }

    func stopWatching(_ review: String, _ watcher: Watcher) {
        state.withLock { state in _ = state.logs[review]?.watchers.removeValue(forKey: ObjectIdentifier(watcher)) }
    }

    static func personaKey(_ event: Event) -> String? {
        guard event.name.hasPrefix("persona."), let persona = event.data["persona"]?.stringValue else { return nil }
        return "\(event.data["tool_index"]?.intValue ?? 0)/\(persona)"
    }
}
