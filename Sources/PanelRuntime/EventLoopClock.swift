import NIOCore
import PanelEngine
import Synchronization

/// The engine's clock for a command whose work runs on an event loop (`ExecutorPlan.eventLoop`): its
/// sleeps and timers are the loop's scheduled tasks. On the continuous clock each was a timer of Swift's
/// global executor, kept by a thread of its own: every store step's deadline and every pause woke that
/// thread and, when it fired, handed the task back to the loop across threads — about 7% of a worker's
/// CPU in `bench/workers.sh` (`perf`). On the loop a timer is an entry in the loop's own heap, and the
/// task it wakes resumes on the thread that fired it. Time is the continuous clock's.
struct EventLoopClock: EngineClock {
    let loop: any EventLoop

    var now: ContinuousClock.Instant { .now }
    var minimumResolution: Duration { ContinuousClock().minimumResolution }

    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> EngineTimer {
        let scheduled = loop.scheduleTask(in: TimeAmount(delay), action)
        return EngineTimer { scheduled.cancel() }
    }

    func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        let delay = ContinuousClock.now.duration(to: deadline)
        guard delay > .zero else { return }
        let sleeper = Mutex(Sleeper.starting)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = sleeper.withLock { state -> Bool in
                    guard case .starting = state else { return true }
                    // The loop never runs a scheduled task from inside `scheduleTask`, so the lock is free
                    // again before it can fire.
                    let timer = schedule(after: delay) {
                        let waiting = sleeper.withLock { state -> CheckedContinuation<Void, any Error>? in
                            defer { state = .over }
                            if case .waiting(let continuation, _) = state { return continuation }
                            return nil
                        }
                        waiting?.resume()
                    }
                    state = .waiting(continuation, timer)
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiting = sleeper.withLock { state -> (CheckedContinuation<Void, any Error>, EngineTimer)? in
                defer { state = .over }
                if case .waiting(let continuation, let timer) = state { return (continuation, timer) }
                return nil
            }
            guard let (continuation, timer) = waiting else { return }
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }

    /// One sleep's state: not yet waiting, waiting on a timer, or over (woken or cancelled — whichever
    /// came first resumes it).
    private enum Sleeper {
        case starting
        case waiting(CheckedContinuation<Void, any Error>, EngineTimer)
        case over
    }
}
