import ModelBackends
import Synchronization

/// The leases a worker holds, as it knows them locally: each claim's expiry on the monotonic clock
/// (from just before the claim or the renewal that set it, so never later than the store's), whether
/// the heartbeat found it lost, and what to cancel when it is. A paid call starts only under a lease
/// known to be live; calls in flight are cancelled when the lease is found lost or runs out unrenewed.
public final class LeaseBook: Sendable {
    struct Entry {
        var expires: ContinuousClock.Instant
        var lost = false
        var onLost: [@Sendable () -> Void] = []
    }

    let entries = Mutex([ItemClaim: Entry]())
    let now: @Sendable () -> ContinuousClock.Instant

    public init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.now = now
    }

    /// A claim made at `since` (read before the claim was asked for) for `lease`.
    public func hold(_ claim: ItemClaim, since: ContinuousClock.Instant, lease: Duration) {
        entries.withLock { $0[claim] = Entry(expires: since + lease) }
    }

    /// True while the claim's lease is known to be live: not found lost, not past its local expiry.
    public func isLive(_ claim: ItemClaim) -> Bool {
        let time = now()
        return entries.withLock { entries in
            guard let entry = entries[claim] else { return false }
            return !entry.lost && time < entry.expires
        }
    }

    /// Calls `cancel` when the claim's lease is lost (at once when it already is).
    public func onLost(_ claim: ItemClaim, _ cancel: @escaping @Sendable () -> Void) {
        let already = entries.withLock { entries -> Bool in
            guard var entry = entries[claim], !entry.lost else { return true }
            entry.onLost.append(cancel)
            entries[claim] = entry
            return false
        }
        if already { cancel() }
    }

    /// The claim is done with (finished or given back).
    public func release(_ claim: ItemClaim) {
        _ = entries.withLock { $0.removeValue(forKey: claim) }
    }

    /// A heartbeat renewed `held` at `since` (read before it asked): those are extended; any other
    /// claim this book holds was taken over, so it is lost.
    public func renewed(_ held: Set<ItemClaim>, since: ContinuousClock.Instant, lease: Duration) {
        lose { claim, entry in
            if held.contains(claim) {
                entry.expires = max(entry.expires, since + lease)
                return false
            }
            return true
        }
    }

    /// Leases past their local expiry (the heartbeat could not renew them: the store is away) are lost.
    public func expire() {
        let time = now()
        lose { _, entry in time >= entry.expires }
    }

    /// Marks lost the claims `isLost` says, and runs their cancel handlers outside the lock.
    func lose(_ isLost: (ItemClaim, inout Entry) -> Bool) {
        let cancels = entries.withLock { entries -> [@Sendable () -> Void] in
            var cancels: [@Sendable () -> Void] = []
            for (claim, var entry) in entries where !entry.lost {
                if isLost(claim, &entry) {
                    entry.lost = true
                    cancels += entry.onLost
                    entry.onLost = []
                }
                entries[claim] = entry
            }
            return cancels
        }
        for cancel in cancels { cancel() }
    }

    /// Claims held now and not lost.
    public var liveCount: Int { entries.withLock { $0.values.filter { !$0.lost }.count } }
}

/// The queue's defaults, in one place: every worker, batch and server takes them unless told otherwise.
public enum QueueDefaults {
    /// How long a claim holds an item without a heartbeat (renewed every third of it).
    public static let lease: Duration = .seconds(30)
    /// Claims of an item that may end unfinished before it is failed (``RetryPolicy/queueItem``).
    public static let maxItemAttempts = RetryPolicy.queueItem.maxAttempts
}
