import Foundation
import ModelBackends
import Synchronization
import Testing

@testable import PanelServer

/// The event log and the delta coalescing, on an injected clock: nothing sleeps.
struct ReviewEventsTests {
    func delta(_ text: String, persona: String = "builder") -> ReviewEvents.Event {
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
        let finished = ReviewEvents.Event(name: "persona.finished", data: ["tool_index": .int(0), "persona": .string("builder")])
        #expect(coalescer.flush(finished)?.data["text"]?.stringValue == "!")
        #expect(coalescer.flush(finished) == nil)
    }

    @Test func aLateWatcherGetsTheMergedPastThenWhatComesNext() async {
        let events = ReviewEvents()
        events.open("r")
        events.publish("r", .init(name: "persona.started", data: ["tool_index": .int(0), "persona": .string("builder")]))
        events.publish("r", delta("Hel"))
        events.publish("r", delta("lo"))
        guard let (past, watcher) = events.subscribe("r"), let watcher else {
            Issue.record("the review is live")
            return
        }
        #expect(past.components(separatedBy: "event: persona.delta").count == 2)
        #expect(past.contains(#""text":"Hello""#))
        events.publish("r", .init(name: "done", data: ["id": .string("r")]))
        events.finish("r")
        let next = await watcher.next()
        #expect(next?.contains("event: done") == true)
        #expect(await watcher.next() == nil)
        // Finished: the whole log, and no watcher.
        #expect(events.subscribe("r")?.watcher == nil)
        #expect(events.subscribe("unknown") == nil)
    }
}
