import Synchronization
import Testing

@testable import PanelEngine

/// A review's readers wake for their review's events only (a server following 20 reviews read all 20
/// logs on every append), everyone wakes when a listener cannot tell what it missed, and a waiter's
/// timeout runs on its clock — here a manual one, so nothing here waits for time to pass.
@Suite(.timeLimit(.minutes(2)))
struct ChangeSignalTests {
    final class Flag: Sendable {
        let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    /// Starts a wait and returns a flag that turns true when it returns.
    func waiting(
        _ signal: ChangeSignal, for key: String?, timeout: Duration = .seconds(600), clock: ManualClock
    ) async -> (
        Task<Void, Never>, Flag
    ) {
        let before = signal.waiting
        let done = Flag()
        let task = Task {
            await signal.wait(for: key, timeout: timeout, clock: clock)
            done.set()
        }
        while signal.waiting == before { await Task.yield() }  // registered
        return (task, done)
    }

    /// Gives the waiting tasks many chances to run.
    func settle() async {
        for _ in 0..<200 { await Task.yield() }
    }

    @Test func aKeyedWaiterWakesForItsKeyAndForEverythingNothingElse() async {
        let clock = ManualClock()
        let signal = ChangeSignal()
        let (a, aDone) = await waiting(signal, for: "a", clock: clock)
        let (any, anyDone) = await waiting(signal, for: nil, clock: clock)
        signal.bump("b")
        await any.value
        #expect(anyDone.isSet)  // anything wakes for b
        await settle()
        #expect(!aDone.isSet)  // a does not
        signal.bump("a")
        await a.value
        let (again, _) = await waiting(signal, for: "a", clock: clock)
        signal.bumpAll()
        await again.value
        #expect(signal.waiting == 0)  // every wake above was a bump: the clock never moved
    }

    @Test func aWaitEndsAfterItsTimeoutOnItsClockOrWhenCancelled() async {
        let clock = ManualClock()
        let signal = ChangeSignal()
        let (timed, timedDone) = await waiting(signal, for: "k", timeout: .seconds(2), clock: clock)
        await clock.until { $0.deadlines == [.seconds(2)] }
        clock.advance(by: .seconds(1))
        await settle()
        #expect(!timedDone.isSet)
        clock.advance(by: .seconds(1))
        await timed.value
        let (cancelled, _) = await waiting(signal, for: "k", clock: clock)
        cancelled.cancel()
        await cancelled.value
        #expect(signal.waiting == 0 && clock.deadlines.isEmpty)
    }

    /// A bump between the wait's start and its task parking is not lost.
    @Test func aBumpJustAfterTheWaitBeganEndsIt() async {
        let signal = ChangeSignal()
        for _ in 0..<200 {
            let waiter = Task { await signal.wait(for: "c", timeout: .seconds(600), clock: ManualClock()) }
            while signal.waiting == 0 { await Task.yield() }
            signal.bump("c")
            await waiter.value
        }
    }
}
