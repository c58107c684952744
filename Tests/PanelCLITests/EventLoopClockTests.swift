import NIOCore
import NIOPosix
import PanelEngine
import Synchronization
import Testing

@testable import PanelRuntime

/// The engine's clock on an event loop (`batch`, `worker`): sleeps and timers are the loop's own
/// scheduled tasks; a cancelled timer never fires and a cancelled sleep ends at once.
@Suite(.timeLimit(.minutes(1)))
struct EventLoopClockTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func theEventLoopPlanGivesTheEngineTheLoopsClock() async {
        let onLoop = await ExecutorPlan.eventLoop.run {
            let unstructured = await Task(executorPreference: EngineExecutor.preferred) { EngineExecutor.clock is EventLoopClock }.value
            return [EngineExecutor.clock is EventLoopClock, unstructured]
        }
        #expect(onLoop == [true, true])
        #expect(await ExecutorPlan.standard.run { EngineExecutor.clock is ContinuousClock })
    }

    @Test func aTimerFiresOnTheLoopAndACancelledOneNever() async {
        let clock = EventLoopClock(loop: loop)
        let fired = Mutex<[String]>([])
        // Due before the one awaited below (the loop runs its timers in deadline order): cancelled, it never runs.
        clock.schedule(after: .milliseconds(5)) { fired.withLock { $0.append("cancelled") } }.cancel()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            _ = clock.schedule(after: .milliseconds(30)) {
                fired.withLock { $0.append(loop.inEventLoop ? "on the loop" : "elsewhere") }
                continuation.resume()
            }
        }
        #expect(fired.withLock { $0 } == ["on the loop"])
    }

    @Test func aSleepEndsOnceItsTimeHasPassed() async throws {
        let clock = EventLoopClock(loop: loop)
        let start = clock.now
        try await clock.sleep(until: start.advanced(by: .milliseconds(20)), tolerance: nil)
        #expect(clock.now >= start.advanced(by: .milliseconds(20)))
        // A deadline already past does not wait.
        try await clock.sleep(until: start, tolerance: nil)
    }

    /// Cancelled before it waits or while it waits (an hour), a sleep ends with `CancellationError`; the
    /// suite's time limit fails a sleep that does not end.
    @Test(arguments: [false, true])
    func aCancelledSleepEndsAtOnce(whileWaiting: Bool) async {
        let clock = EventLoopClock(loop: loop)
        let started = Mutex(false)
        let sleeper = Task {
            started.withLock { $0 = true }
            try await clock.sleep(until: clock.now.advanced(by: .seconds(3600)), tolerance: nil)
        }
        if whileWaiting {
            while !started.withLock({ $0 }) { await Task.yield() }
            await clock.pause(for: .milliseconds(20))
        }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        // `pause` swallows the cancellation.
        let paused = Task { await clock.pause(for: .seconds(3600)) }
        paused.cancel()
        await paused.value
    }
}
