public import ModelBackends

/// Where the engine keeps what outlives one call: the response cache, batch jobs and their items
/// (claimed under leases, so several processes share one job's work), persona results, budget
/// reservations and document names.
///
/// `PanelStore` (SQLite) implements it for one machine; `PanelPostgres` implements the same
/// protocol for several. The engine never names either. Every method is one atomic step: a process
/// killed between two calls leaves the store as it was after the first.
public protocol ReviewStore: ResponseCache {
    /// Where the store is, for messages (a path, or a URL without its password).
    var location: String { get }

    // MARK: Jobs

    /// Starts a job, or continues the one of that name; true when the job is new (nothing of it is
    /// stored yet, so its items need not be looked up).
    func beginJob(_ name: String) async throws -> Bool

    func jobExists(_ name: String) async throws -> Bool

    // MARK: Items and claims

    /// Claims listings for `owner` until `lease` from now, in one step — each unless `settled` says its
    /// stored state needs no more work, or another owner holds an unexpired lease. Records each item
    /// (pending) and its input position when it is new. A lease that expired is taken over. One result
    /// per listing, in order. (Claiming a few listings at once saves a commit per listing.)
    func claim(
        job: String, listings: [(key: String, position: Int)], owner: String, lease: Duration, settled: @Sendable (BatchItem) -> Bool
    ) async throws -> [ClaimResult]

    /// Extends every lease `owner` holds (items and budget reservations) to `lease` from now.
    func renewLeases(owner: String, lease: Duration) async throws

    /// Gives a claimed listing back unfinished (stopped by the budget, cancelled): it stays pending for
    /// the next run or another process.
    func release(_ claim: ItemClaim, name: String?) async throws

    /// Records a listing that cannot be reviewed (its file or line is malformed).
    func failItem(job: String, key: String, error: String, position: Int) async throws

    // MARK: Results

    /// Persona id → the stored review (JSON) of one item.
    func results(job: String, key: String) async throws -> [String: String]

    /// Saves one persona's result the moment it completes (a rerun never pays for it again) and settles
    /// its budget reservation, in one step — only while `claim` still holds the listing's lease (fencing).
    /// False when the lease was lost: nothing was written.
    func saveResult(_ result: SavedResult, claim: ItemClaim, settling reservation: BudgetReservation?) async throws -> Bool

    /// Records the listing finished — its document name (the one it has, or the first of `base`,
    /// `base-2`… not used by another item nor `isTaken`), status, outcome and the documents it is about to
    /// have — with the result that completed it, and releases the claim: one step, before any document
    /// is written. Nil when the lease was lost (nothing written).
    func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @Sendable (String) -> Bool,
        documents: @Sendable (String) -> [String]
    ) async throws -> String?

    /// Replaces an item's document list (when some could not be written).
    func setDocuments(job: String, key: String, documents: [String]) async throws

    // MARK: Budget

    /// Reserves `amountUSD` of the job's budget for a call about to be made, when spent plus every live
    /// reservation plus this one stays within `limitUSD`; nil when it would not. Atomic across every
    /// process sharing the store.
    func reserveBudget(job: String, owner: String, amountUSD: Double, limitUSD: Double) async throws -> BudgetReservation?

    /// Gives a reservation back without spending it (the call was not made, or its result not saved).
    func releaseBudget(_ reservation: BudgetReservation) async throws

    /// Money the job has spent (known costs of saved results).
    func spent(job: String) async throws -> Double

    // MARK: Summary

    func itemCounts(job: String) async throws -> [BatchItem.Status: Int]

    /// Every item of a job in input order, one at a time (constant memory whatever the job's size).
    func forEachItem(job: String, _ body: (BatchItem) throws -> Void) async throws
    /// Every job, newest first: name, when it began (UTC, `yyyy-MM-dd HH:mm:ss`) and what it has spent.
    func jobs() async throws -> [JobSummary]
}

/// A job as `panel jobs list` shows it.
public struct JobSummary: Sendable, Hashable {
    public var name: String
    /// UTC, `yyyy-MM-dd HH:mm:ss`.
    public var createdAt: String
    public var spentUSD: Double

    public init(name: String, createdAt: String, spentUSD: Double) {
        self.name = name
        self.createdAt = createdAt
        self.spentUSD = spentUSD
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

/// What a claim attempt found.
public enum ClaimResult: Sendable {
    /// Claimed; the item as it was stored before (nil when it is new).
    case claimed(ItemClaim, existing: BatchItem?)
    /// Its stored state needs no more work.
    case settled(BatchItem)
    /// Another process holds it under a live lease.
    case heldElsewhere
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
