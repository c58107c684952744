import Synchronization

/// Changes in this process (a listing enqueued, a review's events appended) that waiters watch:
/// ``wait(for:timeout:clock:)`` returns at the next ``bump(_:)`` of what it watches — anything, or one
/// key (a review) — or after `timeout` on its clock. A store without notifications across processes
/// (SQLite) wakes its own waiters with it and covers other processes' changes by the timeout;
/// PostgreSQL's listener bumps it for each notification, keyed by its payload.
///
/// A waiter is a parked continuation, resumed by the bump itself: no polling, so a change is seen at
/// once (a waiter used to look every 20 ms) and a waiter on a ``ManualClock`` wakes without time passing.
public final class ChangeSignal: Sendable {
    struct Waiter {
        /// What it watches: one key, or (nil) anything.
        var key: String?
        /// Set once the waiting task parks; a bump before that marks it `woken` instead.
        var continuation: CheckedContinuation<Void, Never>?
        var woken = false
    }

    struct State {
        var waiters: [UInt64: Waiter] = [:]
        var next: UInt64 = 0
    }

    let state = Mutex(State())

    public init() {}

    /// Something changed: `key`'s watchers (and those of anything) wake.
    public func bump(_ key: String? = nil) {
        wake { $0.key == nil || $0.key == key }
    }

    /// Anything may have changed (a listener that reconnected cannot tell what it missed): every waiter wakes.
    public func bumpAll() {
        wake { _ in true }
    }

    /// Waiters watching something.
    var waiting: Int { state.withLock { $0.waiters.count } }

    func wake(_ matches: (Waiter) -> Bool) {
        let parked = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var parked: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where !waiter.woken && matches(waiter) {
                if let continuation = waiter.continuation {
                    parked.append(continuation)
                    state.waiters.removeValue(forKey: id)
                } else {
                    state.waiters[id]?.woken = true
                }
            }
            return parked
        }
        for continuation in parked { continuation.resume() }
    }

    /// Returns once what it watches (`key`, or anything) changed after the call, or after `timeout` on
    /// `clock`, or when the task is cancelled.
    public func wait(for key: String? = nil, timeout: Duration, clock: any EngineClock = EngineExecutor.clock) async {
        guard timeout > .zero, !Task.isCancelled else { return }
        // Registered before anything is awaited: a bump from here on is this waiter's.
        let id = state.withLock { state -> UInt64 in
            state.next &+= 1
            state.waiters[state.next] = Waiter(key: key)
            return state.next
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.park(id) }
            group.addTask { await clock.pause(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        _ = state.withLock { $0.waiters.removeValue(forKey: id) }
    }

    /// Suspends until waiter `id` is woken (at once when it was already) or the task is cancelled.
    func park(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard let waiter = state.waiters[id], !waiter.woken else {
                        state.waiters.removeValue(forKey: id)
                        return true
                    }
                    state.waiters[id]?.continuation = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            // Removed, so one not yet parked finds itself gone and returns at once.
            let parked = state.withLock { $0.waiters.removeValue(forKey: id)?.continuation }
            parked?.resume()
        }
    }
}
