import GRDB
import PanelEngine
import Synchronization

/// Write transactions that tasks ask for at the same moment, committed as one (group commit). A batch
/// saves every persona's result the moment it arrives and finishes every listing in a transaction of its
/// own; with 64 calls in flight most of their cost was SQLite's per-transaction work — the write lock,
/// a WAL frame for every page touched (the same pages, save after save), the locks' `fcntl` calls —
/// not the statements.
///
/// The first caller to find no transaction under way leads: it runs its own work and everything queued
/// by then in one `BEGIN IMMEDIATE … COMMIT`, each caller's work in a savepoint of its own (work that
/// fails is rolled back alone and its caller gets the error; the others commit). Callers arriving while a
/// transaction runs queue and suspend — their thread goes on with other tasks — and when it commits, the
/// leader resumes them with their outcomes and hands the lead to the first caller queued since. A caller
/// that takes the lead yields once first (the tasks ready by then may join) and waits for nothing else —
/// but a persona's result saved in a quiet moment waits ``SaveGrouping/window`` (while the ``SaveWindow`` is
/// open), for the other personas of its listing (with the yield alone a transaction held 1.15 writes in
/// `bench/batch-vs-peers.sh`). A committed result is as durable as before (the same WAL and
/// `synchronous = NORMAL`); each caller returns only after the transaction holding its work committed.
final class GroupedWrites: Sendable {
    /// One caller's work, its outcome and where it waits.
    private final class Entry: @unchecked Sendable {
        /// Runs the work and keeps its outcome; the error when it threw.
        let perform: @Sendable (Database) -> (any Error)?
        /// Records an error that failed the whole transaction (BEGIN or COMMIT, or SQLite rolling it back).
        let fail: @Sendable (any Error) -> Void
        /// Resumed with true to lead the next transaction, with false once the work committed or failed.
        /// Set under the state's lock before the entry is queued; read by the leader after it dequeues it.
        var waiter: UnsafeContinuation<Bool, Never>?

        init(perform: @escaping @Sendable (Database) -> (any Error)?, fail: @escaping @Sendable (any Error) -> Void) {
            self.perform = perform
            self.fail = fail
        }
    }

    /// A caller's outcome: written by whichever task runs its work, read by the caller after it is
    /// resumed (the continuation orders the two).
    private final class Outcome<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }

    private struct State {
        var queued: [Entry] = []
        var leading = false
        /// Transactions run and callers served, for tests and figures.
        var transactions = 0
        var writes = 0
    }

    private let state = Mutex(State())
    private let pool: DatabasePool
    /// The wait of a save that takes the lead (``write(waitingForCompany:_:)``), and whether it waits now.
    let window: SaveWindow

    init(pool: DatabasePool, window: Duration = SaveGrouping.window, clock: any EngineClock = EngineExecutor.clock) {
        self.pool = pool
        self.window = SaveWindow(length: window, clock: clock)
    }

    /// How many callers wait for the transaction under way to commit.
    var queuedCount: Int { state.withLock { $0.queued.count } }
    /// The transactions run so far and the callers' writes they held.
    var counts: (transactions: Int, writes: Int) { state.withLock { ($0.transactions, $0.writes) } }

    /// Runs `body` in a write transaction, with whatever other callers ask for meanwhile; a caller
    /// `waitingForCompany` (a persona's result) that takes the lead first waits the ``window`` for them
    /// (while it is open).
    func write<T: Sendable>(waitingForCompany: Bool = false, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        let entry = Entry(
            perform: { db in
                do {
                    outcome.result = .success(try body(db))
                    return nil
                } catch {
                    outcome.result = .failure(error)
                    return error
                }
            },
            fail: { outcome.result = .failure($0) })
        let leadsAtOnce = state.withLock { state in
            if state.leading { return false }
            state.leading = true
            return true
        }
        var leads = leadsAtOnce
        if leadsAtOnce {
            // The lead is taken; the tasks already ready to run go first, and the writes they ask for join
            // this transaction. Where one thread runs every task (`panel batch` and `panel worker` run on one
            // event loop) nothing else could queue while this task holds the thread, and every save would be
            // a transaction of its own; a yield waits for no time and no other write. A listing's personas
            // answer a few milliseconds apart: their saves wait for each other.
            let waited = waitingForCompany ? await window.wait() : false
            if !waited { await Task.yield() }
        } else {
            leads = await withUnsafeContinuation { continuation in
                let leadsNow = state.withLock { state in
                    guard state.leading else {
                        state.leading = true
                        return true
                    }
                    entry.waiter = continuation
                    state.queued.append(entry)
                    return false
                }
                if leadsNow { continuation.resume(returning: true) }
            }
        }
        if leads { lead(with: entry) }
        // Set by this task when it led, else by the leader before it resumed this one.
        guard let result = outcome.result else { preconditionFailure("a grouped write resumed without an outcome") }
        return try result.get()
    }

    /// Commits `first` and everything queued in one transaction, then resumes the queued callers and hands
    /// the lead on (or gives it up when no one is waiting).
    private func lead(with first: Entry) {
        let others = state.withLock { state in
            let queued = state.queued
            state.queued.removeAll(keepingCapacity: true)
            state.transactions += 1
            state.writes += 1 + queued.count
            return queued
        }
        commit([first] + others)
        let next: Entry? = state.withLock { state in
            guard !state.queued.isEmpty else {
                state.leading = false
                return nil
            }
            return state.queued.removeFirst()
        }
        for entry in others { entry.waiter?.resume(returning: false) }
        next?.waiter?.resume(returning: true)
    }

    private func commit(_ entries: [Entry]) {
        do {
            try pool.writeWithoutTransaction { db in
                try db.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
                do {
                    if entries.count == 1 {
                        // Alone: its failure rolls the transaction back, as a transaction of its own would.
                        if entries[0].perform(db) != nil {
                            if db.isInsideTransaction { try db.rollback() }
                            return
                        }
                    } else {
                        let savepoint = try db.cachedStatement(sql: "SAVEPOINT grouped")
                        let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT grouped")
                        let rollback = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT grouped")
                        for entry in entries {
                            try savepoint.execute()
                            guard let error = entry.perform(db) else {
                                try release.execute()
                                continue
                            }
                            // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction
                            // back: the work already done in it is gone too, so every caller fails with it.
                            guard db.isInsideTransaction else { throw error }
                            try rollback.execute()
                            try release.execute()
                        }
                    }
                    try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
                } catch {
                    if db.isInsideTransaction { try? db.rollback() }
                    throw error
                }
            }
        } catch {
            for entry in entries { entry.fail(error) }
        }
    }
}
