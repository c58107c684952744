public import ModelBackends

/// Where the engine keeps what outlives one call, as one value holding every role below: the queue
/// (``QueueStore``), results and documents (``ResultStore``), budgets (``BudgetStore``), reviews' event
/// logs (``ReviewLogStore``), the team's records (``TeamStore``), the response cache and backends' rate
/// windows (so a `rate_limit` holds across processes).
///
/// `PanelStore` (SQLite) implements it for one machine, `PanelPostgres` for several, ``MemoryStore``
/// in memory on an injected clock for tests; all three pass one contract suite. The engine never names
/// any of them, and a part that needs one role takes that role alone. Every method is one atomic step:
/// a process killed between two calls leaves the store as it was after the first.
public protocol ReviewStore: QueueStore, ResultStore, BudgetStore, ReviewLogStore, TeamStore, ResponseCache, RateWindows {}

/// Jobs and their listings on a queue, claimed under leases so several processes share one job's work.
public protocol QueueStore: Sendable {
    /// Where the store is, for messages (a path, or a URL without its password).
    var location: String { get }

    /// How long a worker waits for one step before giving it up (nil: no deadline; see ``StoreDeadline``).
    var stepDeadline: Duration? { get }

    // MARK: Jobs and the queue

    /// Puts listings on a job's queue in one step, making the job (with its settings and budget) when it
    /// is new; a job enqueued again takes the new settings and budget. A listing already queued is left
    /// as it is — enqueuing the same input twice adds nothing — unless it failed, or is partial and
    /// `retry` says so: then it is queued again. A row with an `error` is recorded failed. Wakes idle
    /// workers.
    func enqueue(
        job: String, settings: String?, budgetUSD: Double?, listings: [QueuedListing], retry: Bool
    ) async throws
        -> EnqueueResult

    /// Gives listings their document names in the order given (the input's), each the first of `base`,
    /// `base-2`… that no other listing of the job has and `isTaken` does not refuse; a listing that has a
    /// name keeps it. One step; ``finishItem(_:name:status:outcome:base:lastResult:settling:isTaken:texts:documents:)``
    /// then finds the name reserved, so two listings named alike are named in input order whichever
    /// finishes first.
    func reserveNames(job: String, _ names: [(key: String, base: String)], isTaken: @Sendable (String) -> Bool) async throws

    /// A job's record: settings, budget, cancelled or not. Nil when there is no such job.
    func job(_ name: String) async throws -> JobRecord?

    /// Stops new claims of a job's listings (those in flight finish). False when there is no such job.
    func cancelJob(_ name: String) async throws -> Bool

    // MARK: Items and claims

    /// Claims up to `limit` queued listings for `owner` until `lease` from now, in one step, oldest job
    /// and first listing first, skipping rows another process is claiming (`SKIP LOCKED`), listings held
    /// under a live lease, cancelled jobs and `excluding`. A lease that expired is taken over. A listing
    /// claimed `maxAttempts` times without finishing is recorded failed with the last reason instead.
    /// `kinds` says which jobs: batches, reviews asked of the team server (``TeamReview/jobPrefix``), or
    /// both. A review's item given up on fails the review too (its token charged what it spent).
    func claimQueued(
        job: String?, kinds: JobKinds, excluding: Set<String>, owner: String, lease: Duration, limit: Int, maxAttempts: Int
    ) async throws
        -> [QueuedClaim]

    /// Listings still to be finished — queued, or held by some process — in live jobs (all jobs of
    /// `kinds`, or one), leaving out `excluding`. Zero means a draining worker is done.
    func openItems(job: String?, kinds: JobKinds, excluding: Set<String>) async throws -> Int

    /// Returns when new work may be there (a listing enqueued or given back, as far as the store can
    /// tell) or after `timeout`, whichever is first.
    func waitForWork(timeout: Duration) async

    /// Extends every lease `owner` holds (items and budget reservations) to `lease` from now.
    /// Returns the listings' claims it renewed: a claim `owner` holds that is missing was lost (taken
    /// over by another process after its lease expired).
    @discardableResult
    func renewLeases(owner: String, lease: Duration) async throws -> Set<ItemClaim>

    /// Gives a claimed listing back unfinished (stopped by the budget, cancelled, the worker stopping):
    /// it is queued again for the next run or another process, and the claim does not count as an
    /// attempt — unless `attempted` (its backend could not be reached from the worker's host: tried and
    /// failed there, so it counts towards the item's attempts). Wakes idle workers.
    func release(_ claim: ItemClaim, name: String?, attempted: Bool) async throws

    // MARK: Summary

    func itemCounts(job: String) async throws -> [BatchItem.Status: Int]

    /// Every item of a job in input order, one at a time (constant memory whatever the job's size).
    func forEachItem(job: String, _ body: (BatchItem) throws -> Void) async throws
    /// Every batch job (not the reviews' jobs), newest first: name, when it began (UTC,
    /// `yyyy-MM-dd HH:mm:ss`) and what it has spent.
    func jobs() async throws -> [JobSummary]
}

/// Persona results and finished listings' documents, written under a claim's lease (fenced).
public protocol ResultStore: Sendable {
    /// Persona id → the stored review (JSON) of one item.
    func results(job: String, key: String) async throws -> [String: String]

    /// Saves one persona's result the moment it completes (a rerun never pays for it again) and settles
    /// its budget reservation, in one step — only while `claim` still holds the listing's lease (fencing).
    /// False when the lease was lost: nothing was written.
    func saveResult(_ result: SavedResult, claim: ItemClaim, settling reservation: BudgetReservation?) async throws -> Bool

    /// Whether a save may wait ``SaveGrouping/window`` for others to share its commit: a worker says no
    /// when its look at the queue found nothing left to claim, and yes when it claims again
    /// (``SaveWindow``). A store that groups no saves ignores it.
    func savesMayWait(_ mayWait: Bool)

    /// A run's writes are over (its summary is being read): a store with a write-ahead log folds it into
    /// the database now, beside those reads, so that closing it has nothing left to copy. Returns when
    /// done; a store without such a log does nothing.
    func settle() async

    /// Records the listing finished — its document name (the one it has, or the first of `base`,
    /// `base-2`… not used by another item nor `isTaken`), status, outcome, its documents' text by file
    /// extension (kept in the store, replacing an earlier run's, so any machine can export them) and the
    /// file names they have — with the result that completed it, and releases the claim: one step,
    /// before any document is written elsewhere. Nil when the lease was lost (nothing written).
    func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @escaping @Sendable (String) -> Bool,
        texts: [String: String], documents: @escaping @Sendable (String) -> [String]
    ) async throws -> String?

    /// Every document kept for a job, in input order: the item, its document name, the file extension
    /// and the text — only those `wanted` (by name and extension) read in full: a batch's closing export
    /// asks for the few its output directory lacks, not every kept text.
    func forEachDocument(
        job: String, wanted: (_ name: String, _ fileExtension: String) -> Bool, _ body: (StoredDocument) throws -> Void
    ) async throws

}

extension ResultStore {
    public func savesMayWait(_ mayWait: Bool) {}

    public func settle() async {}

    /// Every document kept for a job, each read in full.
    public func forEachDocument(job: String, _ body: (StoredDocument) throws -> Void) async throws {
        try await forEachDocument(job: job, wanted: { _, _ in true }, body)
    }
}

/// A job's budget, reserved for calls in flight atomically across every process sharing the store.
public protocol BudgetStore: Sendable {
    /// Reserves `amountUSD` of the job's budget for a call about to be made, when spent plus every live
    /// reservation plus this one stays within `limitUSD`; nil when it would not. Atomic across every
    /// process sharing the store.
    func reserveBudget(job: String, owner: String, amountUSD: Double, limitUSD: Double) async throws -> BudgetReservation?

    /// Gives a reservation back without spending it (the call was not made, or its result not saved).
    func releaseBudget(_ reservation: BudgetReservation) async throws

    /// Money the job has spent (known costs of saved results).
    func spent(job: String) async throws -> Double
}

/// Reviews asked of the team server as jobs on the queue, with each review's log of events.
public protocol ReviewLogStore: Sendable {
    /// Keeps a new review when its token may have it (as ``TeamStore/admitReview(_:maxUnfinished:)``)
    /// and, in the same step, puts its job on the queue (`settings`: the ``JobSettings`` text any worker
    /// builds its engine from), waking idle workers.
    func admitReview(_ review: TeamReview, settings: String, maxUnfinished: Int) async throws -> ReviewAdmission

    /// Ends a review job under its lease in one step (``ReviewCompletion``): false, and nothing written,
    /// when the lease was lost.
    func finishReview(_ claim: ItemClaim, _ completion: ReviewCompletion) async throws -> Bool

    /// Appends events to a review's log (numbered after the last) and wakes its readers, on this process
    /// and, where the store can, on others.
    func appendReviewEvents(review: String, _ events: [ReviewEventRecord]) async throws

    /// A review's events after `seq`, in order (at most `limit`). The log of a review finished a while
    /// ago is dropped: its document is what is left to replay.
    func reviewEvents(review: String, after seq: Int, limit: Int) async throws -> [ReviewEventRecord]

    /// Returns when the review's events may have been appended (by this process or, where the store can
    /// tell, another), or after `timeout`.
    func waitForReviewEvents(review: String, timeout: Duration) async
}

extension QueueStore {
    public func claimQueued(
        job: String?, excluding: Set<String>, owner: String, lease: Duration, limit: Int, maxAttempts: Int
    ) async throws -> [QueuedClaim] {
        try await claimQueued(
            job: job, kinds: .all, excluding: excluding, owner: owner, lease: lease, limit: limit, maxAttempts: maxAttempts)
    }

    public func openItems(job: String?, excluding: Set<String>) async throws -> Int {
        try await openItems(job: job, kinds: .all, excluding: excluding)
    }

    public func jobExists(_ name: String) async throws -> Bool { try await job(name) != nil }

    /// Gives a claimed item back without counting the claim as an attempt.
    public func release(_ claim: ItemClaim, name: String?) async throws {
        try await release(claim, name: name, attempted: false)
    }

    /// How long a worker waits for one step of this store before it gives the step up and tries again
    /// (``StoreDeadline``); nil for a store whose steps cannot be left unanswered (a local file).
    public var stepDeadline: Duration? { nil }
}

/// A listing put on a job's queue.
public struct QueuedListing: Sendable, Hashable {
    /// Stable identity across runs: the file path, or `file:line` for JSON Lines.
    public var key: String
    /// Where it came in the input.
    public var position: Int
    /// The listing (JSON, as ``Listing`` encodes) a worker reviews; nil with an `error`.
    public var listing: String?
    /// Why the row cannot be reviewed (its file or line is malformed): it is recorded failed.
    public var error: String?
    /// The trace it was enqueued in (a W3C `traceparent`), so whoever works it continues that trace.
    public var trace: String?

    public init(key: String, position: Int, listing: String?, error: String? = nil, trace: String? = nil) {
        self.key = key
        self.position = position
        self.listing = listing
        self.error = error
        self.trace = trace
    }
}

/// What enqueuing did.
public struct EnqueueResult: Sendable, Hashable {
    /// The job did not exist before.
    public var newJob: Bool
    /// Listings added to the queue.
    public var added: Int
    /// Failed (or, when retried, partial) listings queued again.
    public var requeued: Int

    public init(newJob: Bool, added: Int, requeued: Int) {
        self.newJob = newJob
        self.added = added
        self.requeued = requeued
    }
}

/// A job as the store keeps it.
public struct JobRecord: Sendable, Hashable {
    public var name: String
    /// ``JobSettings`` as JSON; nil for a job made before jobs kept their settings.
    public var settings: String?
    public var budgetUSD: Double?
    public var cancelled: Bool

    public init(name: String, settings: String?, budgetUSD: Double?, cancelled: Bool) {
        self.name = name
        self.settings = settings
        self.budgetUSD = budgetUSD
        self.cancelled = cancelled
    }
}

/// A listing claimed from the queue.
public struct QueuedClaim: Sendable, Hashable {
    public var claim: ItemClaim
    /// The listing as JSON.
    public var listing: String
    /// How many times it has been claimed, this claim included.
    public var attempt: Int
    /// Some persona's result is saved already (a worker died, or partial listings are retried).
    public var hasResults: Bool
    /// The trace the item was enqueued in (a W3C `traceparent`), when it was enqueued in one.
    public var trace: String?

    public init(claim: ItemClaim, listing: String, attempt: Int, hasResults: Bool, trace: String? = nil) {
        self.claim = claim
        self.listing = listing
        self.attempt = attempt
        self.hasResults = hasResults
        self.trace = trace
    }
}

/// One document kept in the store.
public struct StoredDocument: Sendable, Hashable {
    public var key: String
    /// The document's name without extension (unique in its job).
    public var name: String
    /// The file extension: md, html or json.
    public var fileExtension: String
    public var text: String

    public init(key: String, name: String, fileExtension: String, text: String) {
        self.key = key
        self.name = name
        self.fileExtension = fileExtension
        self.text = text
    }
}

/// A job as `panel jobs list` shows it.
public struct JobSummary: Sendable, Hashable {
    public var name: String
    /// UTC, `yyyy-MM-dd HH:mm:ss`.
    public var createdAt: String
    public var spentUSD: Double
    public var budgetUSD: Double?
    public var cancelled: Bool

    public init(name: String, createdAt: String, spentUSD: Double, budgetUSD: Double? = nil, cancelled: Bool = false) {
        self.name = name
        self.createdAt = createdAt
        self.spentUSD = spentUSD
        self.budgetUSD = budgetUSD
        self.cancelled = cancelled
    }
}

/// One listing of a batch job as the store keeps it.
public struct BatchItem: Sendable, Hashable {
    public enum Status: String, Sendable, CaseIterable {
        /// Known, not finished: never started, stopped by the budget, or killed before its documents.
        case pending, complete, partial, failed
    }

    /// The panel's outcome for one listing, kept with the item so the batch summary is read back from
    /// the store instead of being held in memory.
    public struct Outcome: Sendable, Hashable {
        public var verdict: String?
        public var shipShare: Double?
        public var scoreMedian: Double?
        public var costUSD: Double?
        public var answered: Int?

        public init(
            verdict: String? = nil, shipShare: Double? = nil, scoreMedian: Double? = nil, costUSD: Double? = nil, answered: Int? = nil
        ) {
            self.verdict = verdict
            self.shipShare = shipShare
            self.scoreMedian = scoreMedian
            self.costUSD = costUSD
            self.answered = answered
        }
    }

    public var key: String
    public var name: String?
    public var status: Status
    public var error: String?
    /// The document addresses; set before the documents are written, so a rerun after a crash writes
    /// the same names instead of leaving a stray copy under another one.
    public var documents: [String]
    public var outcome: Outcome

    public init(key: String, name: String?, status: Status, error: String?, documents: [String], outcome: Outcome) {
        self.key = key
        self.name = name
        self.status = status
        self.error = error
        self.documents = documents
        self.outcome = outcome
    }
}

/// A listing held by one process under a lease. Writes that present it succeed only while the lease
/// is still this claim's.
public struct ItemClaim: Sendable, Hashable {
    public var job: String
    public var key: String
    public var token: String

    public init(job: String, key: String, token: String) {
        self.job = job
        self.key = key
        self.token = token
    }
}

/// Part of a job's budget set aside for a call in flight.
public struct BudgetReservation: Sendable, Hashable {
    public var job: String
    public var id: String
    public var amountUSD: Double

    public init(job: String, id: String, amountUSD: Double) {
        self.job = job
        self.id = id
        self.amountUSD = amountUSD
    }
}

/// One persona's result as saved: the review (JSON) and its cost.
public struct SavedResult: Sendable, Hashable {
    public var persona: String
    public var review: String
    public var costUSD: Double?

    public init(persona: String, review: String, costUSD: Double?) {
        self.persona = persona
        self.review = review
        self.costUSD = costUSD
    }
}

/// The reasons the queue records, the same whichever store keeps it.
public enum QueueReasons {
    /// Why a listing is claimed again after its holder's lease ran out.
    public static func expiredLease(owner: String) -> String {
        "the lease of \(owner) expired before the listing was finished (the process stopped, or lost the store)"
    }

    /// The error of a listing given up on.
    public static func givenUp(attempts: Int, reason: String?) -> String {
        "claimed \(attempts) times without being finished; last: \(reason ?? "unknown")"
    }
}
