import Synchronization

/// Counters of changes in this process (a listing enqueued, a review's events appended) that waiters
/// watch: ``wait(for:timeout:)`` returns soon after the next ``bump(_:)`` of what it watches — anything,
/// or one key (a review) — or after `timeout`. A store without notifications across processes (SQLite)
/// wakes its own waiters with it and covers other processes' changes by the timeout; PostgreSQL's
/// listener bumps it for each notification, keyed by its payload.
public final class ChangeSignal: Sendable {
    struct State {
        /// Every bump.
        var generation = 0
        /// Bumps of each key.
        var keyed: [String: Int] = [:]
        /// Bumps of everything at once (a listener that reconnected cannot tell what it missed).
        var epoch = 0
    }

    let state = Mutex(State())

    public init() {}

    /// How often a waiter looks at the counters: the most a change waits to be seen.
    public static let tick: Duration = .milliseconds(20)
    /// Keys remembered at most (one a review); beyond, they are forgotten at once, which wakes their waiters.
    static let maxKeys = 10_000

    /// Something changed: `key`'s watchers (and those of anything) wake.
    public func bump(_ key: String? = nil) {
        state.withLock { state in
            state.generation &+= 1
            guard let key else { return }
            if state.keyed.count >= Self.maxKeys, state.keyed[key] == nil {
                state.keyed.removeAll()
                state.epoch &+= 1
            }
            state.keyed[key, default: 0] &+= 1
        }
    }

    /// Anything may have changed: every waiter wakes.
    public func bumpAll() {
        state.withLock { state in
            state.generation &+= 1
            state.epoch &+= 1
        }
    }

    func mark(_ key: String?) -> [Int] {
        state.withLock { state in key.map { [state.keyed[$0] ?? 0, state.epoch] } ?? [state.generation] }
    }

    /// Returns once what it watches (`key`, or anything) changed after the call, or after `timeout`.
    public func wait(for key: String? = nil, timeout: Duration) async {
        let start = ContinuousClock.now
        let seen = mark(key)
        while !Task.isCancelled {
            if mark(key) != seen { return }
            let left = timeout - (ContinuousClock.now - start)
            if left <= .zero { return }
            try? await Task.sleep(for: min(Self.tick, left))
        }
    }
}
