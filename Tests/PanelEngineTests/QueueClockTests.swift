import Foundation
import MockProvider
import ModelBackends
import PanelKit
import Synchronization
import Testing

@testable import PanelEngine

/// The queue's time on a clock the test moves: a worker's leases run out, its backoff grows and its
/// pauses end when the test says so, never by waiting — with the in-memory store on the same clock.
@Suite(.timeLimit(.minutes(5)))
struct QueueClockTests {
    let helper = EngineTests()

    final class Said: Sendable {
        let lines = Mutex([String]())
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    /// A worker on `store` working `job` with `engine`, on `clock`.
    func makeWorker(
        _ store: MemoryStore, _ engine: ReviewEngine, clock: ManualClock, owner: String, job: String = "j", lease: Duration = .seconds(30),
        maxItemAttempts: Int = 3, events: Said? = nil
    ) -> QueueWorker {
        let onEvent: @Sendable (EngineEvent) -> Void = { event in
            if case .problem(let text) = event { events?.add(text) }
        }
        let options = BatchDriver.Options(job: job, concurrency: 4, lease: lease, maxItemAttempts: maxItemAttempts)
        return QueueWorker(
            store: store, owner: owner,
            options: .init(
                job: job, drain: true, concurrency: 4, lease: lease, maxItemAttempts: maxItemAttempts, pollInterval: .seconds(2)),
            onEvent: onEvent, clock: clock,
            driver: { _ in
                BatchDriver(engine: engine, store: store, sink: nil, options: options, owner: owner, onEvent: onEvent, clock: clock)
            })
    }

    /// Queues one listing on job `j` with the engine's settings, as `panel batch` does.
    func enqueue(_ store: MemoryStore, _ engine: ReviewEngine, clock: ManualClock, workspace: Workspace) async throws -> String {
        let driver = BatchDriver(engine: engine, store: store, sink: nil, options: .init(job: "j"), clock: clock)
        _ = try await driver.enqueue(BatchInputs(paths: [try helper.listing(workspace)]))
        var keys: [String] = []
        try await store.forEachItem(job: "j") { keys.append($0.key) }
        return try #require(keys.first)
    }

    /// Lets other tasks run until `condition` holds (no time passes on the test's clock).
    func until(_ condition: () async throws -> Bool) async rethrows {
        while try await !condition() { await Task.yield() }
    }

    @Test func aWorkerCutFromItsStoreGivesItsListingUpWhenTheLeaseRunsOutOnItsClock() async throws {
        let workspace = try Workspace()
        let clock = ManualClock()
        let store = MemoryStore(clock: clock)
        var mock = MockProviderConfiguration()
        mock.latency = .seconds(120)  // the calls are in flight when the store goes away
        try await MockProvider.withServer(mock) { handle in
            let engine = try helper.engine(helper.mockConfiguration(handle.baseURL))
            let key = try await enqueue(store, engine, clock: clock, workspace: workspace)
            let worker = makeWorker(store, engine, clock: clock, owner: "w1")
            let run = Task { try await worker.run() }
            await until { handle.stats.snapshot.chatRequests == 4 }
            #expect(worker.leases.liveCount == 1)

            store.unreachable = true
            // The heartbeat at a third of the lease cannot renew; the lease is still live locally.
            clock.advance(by: .seconds(10))
            await clock.until { $0.deadlines.contains(.seconds(10)) }  // the next heartbeat is asked for
            #expect(worker.leases.liveCount == 1)
            // Past the lease with no renewal: given up on the next tick, the calls in flight cancelled.
            clock.advance(by: .seconds(21))
            await until { worker.leases.liveCount == 0 }

            // Another worker finds the listing claimable once the store answers: nothing was saved.
            store.unreachable = false
            let taken = try await store.claimQueued(
                job: "j", excluding: [], owner: "w2", lease: .seconds(30), limit: 1, maxAttempts: 3)
            #expect(taken.map(\.claim.key) == [key])
            #expect(taken.first?.attempt == 2)
            #expect(try await store.results(job: "j", key: key).isEmpty)
            #expect(worker.drivers.first?.progress.paidUnsaved == 0)  // cancelled, not answered
            run.cancel()
            _ = try? await run.value
        }
    }

    @Test func aWorkerBacksOffOnItsClockWhileTheStoreIsAwayThenClaims() async throws {
        let workspace = try Workspace()
        let clock = ManualClock()
        let store = MemoryStore(clock: clock)
        try await MockProvider.withServer { handle in
            let engine = try helper.engine(helper.mockConfiguration(handle.baseURL))
            _ = try await enqueue(store, engine, clock: clock, workspace: workspace)
            store.unreachable = true
            let events = Said()
            let worker = makeWorker(store, engine, clock: clock, owner: "w1", events: events)
            let run = Task { try await worker.run() }
            let backoff = (1...3).map { RetryPolicy.storeOutage.backoff(after: $0) }
            #expect(backoff[0] < backoff[1] && backoff[1] < backoff[2])
            for (attempt, delay) in backoff.enumerated() {
                // Asked to sleep exactly the policy's delay after each failed claim; nothing more happens until then.
                await clock.until { $0.asked.filter { $0 == delay }.count >= 1 }
                #expect(clock.deadlines.contains(delay))
                if attempt == backoff.count - 1 { store.unreachable = false }
                clock.advance(by: delay)
            }
            // Claimed once the store answers: the listing is reviewed and the drained worker returns.
            try await until { try await store.itemCounts(job: "j")[.complete] == 1 }
            try await run.value
            #expect(handle.stats.snapshot.chatRequests == 4)
            let said = events.all
            #expect(said.filter { $0.hasPrefix("cannot claim from memory") }.count == 1)  // said once, not per attempt
            #expect(said.contains("memory answers again; claiming"))
        }
    }

    /// A listing whose backend cannot be reached from here goes back to the queue and the worker pauses
    /// claiming for the backend-outage delay, on its clock; its last attempt keeps the abstentions.
    @Test func aWorkerPausesOnItsClockAfterGivingAListingBack() async throws {
        let workspace = try Workspace()
        let clock = ManualClock()
        let store = MemoryStore(clock: clock)
        var configuration = helper.mockConfiguration("http://127.0.0.1:\(MockProvider.unusedPort())/v1")
        configuration.backends[0].retry = RetryPolicy(maxAttempts: 1)
        let engine = try helper.engine(configuration)
        let key = try await enqueue(store, engine, clock: clock, workspace: workspace)
        // A short lease: its ticks (heartbeat 1.67 s, expiry 0.5 s) differ from the 1 s pause looked for.
        let worker = makeWorker(store, engine, clock: clock, owner: "w1", lease: .seconds(5), maxItemAttempts: 2)
        let run = Task { try await worker.run() }
        let pause = RetryPolicy.backendOutage.backoff(after: 1)
        await clock.until { $0.deadlines.contains(pause) }
        #expect(try await store.results(job: "j", key: key).isEmpty)  // given back, nothing kept
        #expect(try await store.itemCounts(job: "j")[.pending] == 1)
        clock.advance(by: pause)
        try await until { try await store.itemCounts(job: "j")[.partial] == 1 }
        try await run.value
        #expect(try await store.results(job: "j", key: key).count == 4)  // the abstentions, on the last attempt
        #expect(worker.drivers.first?.progress.givenBack == 1)
    }

    /// A draining worker whose last listing ends counts what is open again at once, not a poll interval
    /// later (a batch's wall time ended a quarter of a second after its last listing): on a clock that
    /// never moves, it returns.
    @Test func aDrainingWorkerReturnsWhenItsLastListingEndsWithoutWaitingForItsPoll() async throws {
        let workspace = try Workspace()
        let clock = ManualClock()
        let store = MemoryStore(clock: clock)
        var mock = MockProviderConfiguration()
        mock.latency = .milliseconds(300)  // the worker is waiting for work when the listing ends
        try await MockProvider.withServer(mock) { handle in
            let engine = try helper.engine(helper.mockConfiguration(handle.baseURL))
            _ = try await enqueue(store, engine, clock: clock, workspace: workspace)
            let worker = makeWorker(store, engine, clock: clock, owner: "w1")
            let ended = Mutex(false)
            let run = Task {
                try await worker.run()
                ended.withLock { $0 = true }
            }
            try await until { try await store.itemCounts(job: "j")[.complete] == 1 }
            let limit = ContinuousClock.now + .seconds(30)
            while !ended.withLock({ $0 }) && ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(5)) }
            #expect(ended.withLock { $0 }, "the drained worker still waits for its poll")
            if !ended.withLock({ $0 }) { clock.advance(by: .seconds(2)) }
            try await run.value
            #expect(handle.stats.snapshot.chatRequests == 4)
            #expect(clock.asked.contains(.seconds(2)))  // it did wait for work while the listing ran
        }
    }

    /// A worker whose look at the queue finds nothing left to claim tells its store that saves wait for no
    /// company (``SaveWindow``: the listings in flight are the last, and the window would only put off their
    /// end); claiming again, it opens the window again.
    @Test func aWorkerThatFindsNothingToClaimShutsTheSaveWindowAndClaimingOpensIt() async throws {
        let workspace = try Workspace()
        let clock = ManualClock()
        let store = MemoryStore(clock: clock)
        var mock = MockProviderConfiguration()
        mock.latency = .seconds(120)  // the listings stay in flight
        try await MockProvider.withServer(mock) { handle in
            let engine = try helper.engine(helper.mockConfiguration(handle.baseURL))
            _ = try await enqueue(store, engine, clock: clock, workspace: workspace)
            let worker = makeWorker(store, engine, clock: clock, owner: "w1")
            #expect(store.saveWindow.isOpen)
            let run = Task { try await worker.run() }
            await until { handle.stats.snapshot.chatRequests == 4 }
            let limit = ContinuousClock.now + .seconds(30)
            while store.saveWindow.isOpen && ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(5)) }
            #expect(!store.saveWindow.isOpen, "the worker found the queue empty and left the window open")
            // Another listing queued: the worker claims it, and saves wait for company again.
            let driver = BatchDriver(engine: engine, store: store, sink: nil, options: .init(job: "j"), clock: clock)
            _ = try await driver.enqueue(BatchInputs(paths: [try helper.listing(workspace, "Tool 2")]))
            while !store.saveWindow.isOpen && ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(5)) }
            #expect(store.saveWindow.isOpen, "the worker claimed and left the window shut")
            #expect(worker.leases.liveCount == 2)
            run.cancel()
            _ = try? await run.value
        }
    }

    /// A worker bound to one job claims beyond its free slots (one claim for several listings) and starts
    /// those listings as slots free; stopped, it gives back the ones it did not start, no attempt counted.
    @Test func aWorkerBoundToAJobClaimsAheadAndGivesBackWhatItDidNotStart() async throws {
        let workspace = try Workspace()
        let clock = ManualClock()
        let store = MemoryStore(clock: clock)
        var mock = MockProviderConfiguration()
        mock.latency = .seconds(120)  // the first listings stay in flight
        try await MockProvider.withServer(mock) { handle in
            let engine = try helper.engine(helper.mockConfiguration(handle.baseURL))
            let paths = try (0..<8).map { try helper.listing(workspace, "Tool \($0)") }
            let driver = BatchDriver(engine: engine, store: store, sink: nil, options: .init(job: "j"), clock: clock)
            _ = try await driver.enqueue(BatchInputs(paths: paths))
            var keys: [String] = []
            try await store.forEachItem(job: "j") { keys.append($0.key) }
            // Four calls at once: two listings in flight, three more claimed in the same step.
            let worker = makeWorker(store, engine, clock: clock, owner: "w1")
            let run = Task { try await worker.run() }
            await until { handle.stats.snapshot.chatRequests == 4 }
            #expect(worker.leases.liveCount == 5)
            let others = try await store.claimQueued(
                job: "j", excluding: [], owner: "w2", lease: .seconds(30), limit: 10, maxAttempts: 3)
            #expect(others.map(\.claim.key) == Array(keys[5...]))
            for other in others { try await store.release(other.claim, name: nil, attempted: false) }
            // Stopped: the three not started go back on the queue at once (the two in flight go on).
            worker.stop()
            let limit = ContinuousClock.now + .seconds(30)
            while worker.leases.liveCount > 2 && ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(5)) }
            let again = try await store.claimQueued(job: "j", excluding: [], owner: "w3", lease: .seconds(30), limit: 10, maxAttempts: 3)
            let attempts = Dictionary(uniqueKeysWithValues: again.map { ($0.claim.key, $0.attempt) })
            #expect(attempts.count == 6)
            for key in keys[2...] { #expect(attempts[key] == 1, "\(key): attempt \(attempts[key] ?? 0)") }
            run.cancel()
            _ = try? await run.value
            #expect(handle.stats.snapshot.chatRequests == 4)  // only the two listings started were asked
        }
    }
}
