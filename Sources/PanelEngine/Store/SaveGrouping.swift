import Synchronization

/// How long a store holds the first persona result saved in a quiet moment for the others of the moment,
/// to commit them together: a listing's personas answer within a few milliseconds of each other and their
/// saves go out side by side (`BatchDriver`), and each save alone was a transaction, a commit and the pages
/// it touched written again. One rule for both stores — PostgreSQL's grouped statement (`GroupedSaves`),
/// SQLite's grouped transaction (`GroupedWrites`); only saves wait, a listing's end and every other write
/// go at once. The listing's end waits for its saves, so its documents come up to this much later.
///
/// Measured (docs/benchmarks.md): on SQLite (`bench/batch-vs-peers.sh`'s batch) CPU a call −22%, wall the
/// same; on PostgreSQL with 3 workers × 32 calls in flight a statement held 1.15 saves without a wait, 2.1
/// with 5 ms and 3.1 with 10 ms while a listing's saves still went one after another.
public enum SaveGrouping {
    public static let window: Duration = .milliseconds(10)
}

/// A store's wait for company (``SaveGrouping``), with whether it is worth waiting now: while the
/// process's last look at the queue found nothing left to claim (``ResultStore/savesMayWait(_:)``), the
/// listings in flight are the last, and a save's window would only put off their end — the last listing's
/// documents, a batch's summary, a team review's answer — by the window, for company that comes as well
/// without it (the saves of a moment still share the commit under way). Shared by both stores' grouping.
public final class SaveWindow: Sendable {
    /// How long a save waits.
    public let length: Duration
    private let clock: any EngineClock
    private let waits = Atomic<Bool>(true)

    public init(length: Duration = SaveGrouping.window, clock: any EngineClock = EngineExecutor.clock) {
        self.length = length
        self.clock = clock
    }

    /// Whether saves wait for company now.
    public var isOpen: Bool { length > .zero && waits.load(ordering: .relaxed) }

    /// Saves wait for company (`true`, the default) or go with what is queued at once.
    public func setOpen(_ open: Bool) { waits.store(open, ordering: .relaxed) }

    /// Waits the window for company; false (at once) when saves go at once now.
    @discardableResult
    public func wait() async -> Bool {
        guard isOpen else { return false }
        await clock.pause(for: length)
        return true
    }
}
