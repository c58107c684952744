import Synchronization

/// The clock the queue's time runs on: leases, heartbeats, backoff, grace periods and the store's own
/// times. `ContinuousClock` in the product; a ``ManualClock`` in tests, so lease expiry and backoff are
/// tested by moving time instead of waiting for it. Its instants are the continuous clock's, so a
/// ``LeaseBook`` or a deadline reads the same whichever clock made it.
///
/// A command that runs on an event loop (`batch`, `worker`) has its loop's clock (``EngineExecutor/clock``):
/// its sleeps and timers are the loop's own, with no timer thread to wake and no task per timer.
public protocol EngineClock: Clock, Sendable where Instant == ContinuousClock.Instant {
    /// Calls `action` once `delay` has passed on this clock, unless the timer is cancelled first. The
    /// default is a task that sleeps `delay`.
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> EngineTimer
}

extension ContinuousClock: EngineClock {}

/// A pending ``EngineClock/schedule(after:_:)``: cancelled before it fires, its action never runs.
public struct EngineTimer: Sendable {
    private let stop: @Sendable () -> Void

    public init(cancel: @escaping @Sendable () -> Void) { stop = cancel }

    public func cancel() { stop() }
}

extension EngineClock {
    /// Sleeps `duration` on this clock (cancellation ends it early, without an error).
    public func pause(for duration: Duration) async {
        try? await sleep(until: now.advanced(by: duration), tolerance: nil)
    }

    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> EngineTimer {
        let task = Task(executorPreference: EngineExecutor.preferred) {
            await pause(for: delay)
            if !Task.isCancelled { action() }
        }
        return EngineTimer { task.cancel() }
    }
}

/// A clock whose time moves only when a test moves it (``advance(by:)``): every sleep waits until time
/// reaches its deadline (or its task is cancelled). What each sleeper asked for is visible
/// (``deadlines``), so a test can wait until a worker sleeps, check how long it asked to, and let it go.
public final class ManualClock: EngineClock {
    struct Sleeper {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    struct State {
        var now: ContinuousClock.Instant
        var sleepers: [UInt64: Sleeper] = [:]
        var cancelled: Set<UInt64> = []
        var next: UInt64 = 0
        /// Every sleep asked for, in order, as a duration from the time it was asked.
        var asked: [Duration] = []
    }

    let state: Mutex<State>

    public init(now: ContinuousClock.Instant = ContinuousClock.now) {
        state = Mutex(State(now: now))
    }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Now { case resume, cancel, wait }
                let now = state.withLock { state -> Now in
                    state.asked.append(state.now.duration(to: deadline))
                    if state.cancelled.remove(id) != nil { return .cancel }
                    if deadline <= state.now { return .resume }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .wait
                }
                switch now {
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    // Cancelled before it began waiting: it sees this when it does.
                    state.cancelled.insert(id)
                    return nil
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time on by `duration`, waking every sleeper whose deadline it reaches (earliest first).
    public func advance(by duration: Duration) {
        let woken = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// How long each current sleeper has left, shortest first.
    public var deadlines: [Duration] {
        state.withLock { state in state.sleepers.values.map { state.now.duration(to: $0.deadline) }.sorted() }
    }

    /// Every sleep asked for so far, in order, each as the duration it asked for.
    public var asked: [Duration] { state.withLock { $0.asked } }

    /// Returns once `condition` holds of the clock, letting other tasks run meanwhile (no time passes).
    public func until(_ condition: (ManualClock) -> Bool) async {
        while !condition(self) { await Task.yield() }
    }
}
