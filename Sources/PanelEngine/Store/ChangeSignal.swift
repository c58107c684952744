import Synchronization

/// A counter of changes in this process (a listing enqueued, a review's events appended) that waiters
/// watch: ``wait(timeout:)`` returns soon after the next ``bump()`` or after `timeout`. A store without
/// notifications across processes (SQLite) wakes its own waiters with it, and covers other processes'
/// changes by the timeout.
public final class ChangeSignal: Sendable {
    let generation = Mutex(0)

    public init() {}

    /// How often a waiter looks at the counter: the most a change waits to be seen.
    public static let tick: Duration = .milliseconds(20)

    public func bump() { generation.withLock { $0 &+= 1 } }

    public var current: Int { generation.withLock { $0 } }

    /// Returns once the counter moved past `seen` (default: its value now) or after `timeout`.
    public func wait(after seen: Int? = nil, timeout: Duration) async {
        let start = ContinuousClock.now
        let seen = seen ?? current
        while !Task.isCancelled {
            if current != seen { return }
            let left = timeout - (ContinuousClock.now - start)
            if left <= .zero { return }
            try? await Task.sleep(for: min(Self.tick, left))
        }
    }
}
