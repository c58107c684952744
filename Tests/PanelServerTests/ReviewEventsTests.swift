import Foundation
import ModelBackends
import PanelEngine
import PanelStore
import Synchronization
import Testing

@testable import PanelServer

/// The event log and the delta coalescing, on an injected clock: nothing sleeps.
struct ReviewEventsTests {
    func delta(_ text: String, persona: String = "builder") -> ReviewEvent {
        .init(
            name: "persona.delta", data: ["tool": .string("A"), "tool_index": .int(0), "persona": .string(persona), "text": .string(text)])
    }

    @Test func deltasAreSentAtMostOncePerIntervalPerPersonaAndNothingIsLost() {
        let clock = Mutex(ContinuousClock.now)
        let coalescer = DeltaCoalescer(interval: .milliseconds(100), now: { clock.withLock { $0 } })
        func advance(_ milliseconds: Int) { clock.withLock { $0 += .milliseconds(milliseconds) } }
        #expect(coalescer.add(delta("Hel"))?.data["text"]?.stringValue == "Hel")
        advance(10)
        #expect(coalescer.add(delta("lo")) == nil)
        #expect(coalescer.add(delta("a", persona: "skeptic"))?.data["text"]?.stringValue == "a")
        advance(10)
        #expect(coalescer.add(delta(", wo")) == nil)
        advance(100)
        #expect(coalescer.add(delta("rld"))?.data["text"]?.stringValue == "lo, world")
        advance(1)
        #expect(coalescer.add(delta("!")) == nil)
        let finished = ReviewEvent(name: "persona.finished", data: ["tool_index": .int(0), "persona": .string("builder")])
        #expect(coalescer.flush(finished)?.data["text"]?.stringValue == "!")
        #expect(coalescer.flush(finished) == nil)
    }

    /// Reads a watcher until `until` holds of what it was sent, or it ends.
    func read(_ watcher: ReviewEvents.Watcher, until: (String) -> Bool) async -> String {
        var text = ""
        while !until(text), let next = await watcher.next() { text += next }
        return text
    }

    @Test(.timeLimit(.minutes(2))) func watchersFollowTheStoresLogAndALateOneGetsTheMergedPast() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = MemoryStore()
        try await store.createReview(
            TeamReview(id: "r", createdAt: 1, tokenID: "t", createdBy: "ann", status: .running, title: "A", listings: "[]"))
        let started = ReviewEvent(name: "persona.started", data: ["tool_index": .int(0), "persona": .string("builder")])
        try await store.appendReviewEvents(review: "r", [started.record, delta("Hel").record])
        let events = ReviewEvents(store: store, pollInterval: .milliseconds(20))
        let first = events.subscribe("r")
        #expect(first.past.isEmpty)
        guard let watcher = first.watcher else {
            Issue.record("the review is running: a watcher follows it")
            return
        }
        #expect(await read(watcher, until: { $0.contains("Hel") }).contains("event: persona.started"))
        // Appended by whoever works the review (here, directly): the reader is woken and sends it on.
        try await store.appendReviewEvents(review: "r", [delta("lo").record])
        #expect(await read(watcher, until: { $0.contains("lo") }).contains(#""text":"lo""#))
        let late = events.subscribe("r")
        #expect(late.past.components(separatedBy: "event: persona.delta").count == 2)
        #expect(late.past.contains(#""text":"Hello""#))
        try await store.appendReviewEvents(review: "r", [.done("r", status: .done, error: nil)])
        #expect(await read(watcher, until: { _ in false }).contains("event: done"))
        if let lateWatcher = late.watcher { #expect(await read(lateWatcher, until: { _ in false }).contains("event: done")) }
        // Finished: the whole log, and no watcher.
        #expect(events.subscribe("r").watcher == nil)
    }

    @Test(.timeLimit(.minutes(2))) func aFinishedReviewWithoutALogIsReplayedFromItsDocument() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-events-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = MemoryStore()
        try await store.createReview(
            TeamReview(id: "r", createdAt: 1, tokenID: "t", createdBy: "ann", status: .queued, title: "A", listings: "[]"))
        try await store.updateReview(id: "r", status: .failed, document: nil, verdicts: [], costUSD: nil, error: "boom")
        let events = ReviewEvents(store: store, pollInterval: .milliseconds(20))
        guard let watcher = events.subscribe("r").watcher else {
            Issue.record("the reader decides")
            return
        }
        let text = await read(watcher, until: { _ in false })
        #expect(text.contains("event: done"))
        #expect(text.contains(#""error":"boom""#))
    }
}
