public import Foundation
public import ModelBackends
import Synchronization

/// The store protocol kept in this process's memory, on an injected clock: the twin of the SQLite and
/// PostgreSQL stores (it passes the same contract suite), for engine, worker and server tests that need
/// a store but not a file or a server — with a ``ManualClock``, leases expire and reservations lapse
/// when the test moves time. Nothing outlives the value; several workers in one process share it as
/// they would a database. ``unreachable`` makes every step fail, as a store that cannot be reached.
public final class MemoryStore: ReviewStore, Sendable {
    public let clock: any EngineClock
    /// The wall-clock time (seconds since 1970) at the clock's `origin`: the store's times are
    /// `wallOrigin + (clock.now - origin)`.
    let wallOrigin: Double
    let origin: ContinuousClock.Instant
    let state = Mutex(State())
    /// Wakes waiting workers when a listing is enqueued or given back.
    let work = ChangeSignal()
    /// Wakes readers of a review's events.
    let reviewEventsAppended = ChangeSignal()
    let failing = Mutex(false)
    /// Saves here wait for no company (each is a step of its own); the window keeps what a worker said
    /// (``savesMayWait(_:)``), as the stores that group saves do.
    public let saveWindow = SaveWindow()

    public var location: String { "memory" }

    public init(clock: any EngineClock = EngineExecutor.clock, now: Date = Date()) {
        self.clock = clock
        self.origin = clock.now
        self.wallOrigin = now.timeIntervalSince1970
    }

    /// While true, every step throws ``Unreachable`` and changes nothing (a store that cannot be reached).
    public var unreachable: Bool {
        get { failing.withLock { $0 } }
        set { failing.withLock { $0 = newValue } }
    }

    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String { "the store cannot be reached" }
    }

    /// Seconds since 1970 on the store's clock.
    var epoch: Double { wallOrigin + (clock.now - origin).seconds }

    /// One step: atomic (under the store's lock), refused while the store is unreachable.
    func step<T>(_ body: (inout State, Double) throws -> T) throws -> T {
        if unreachable { throw Unreachable() }
        let now = epoch
        return try state.withLock { try body(&$0, now) }
    }

    // MARK: State

    struct Job {
        var name: String
        var createdAt: Double
        var settings: String?
        var budgetUSD: Double?
        var cancelled = false
        var spentUSD = 0.0
        var items: [String: Item] = [:]
        /// Document name → item key, and back.
        var names: [String: String] = [:]
        var nameOfKey: [String: String] = [:]
        var reservations: [String: Reservation] = [:]
    }

    struct Item {
        var key: String
        var position: Int?
        var listing: String?
        var status: BatchItem.Status
        var error: String?
        var name: String?
        var documents: [String] = []
        var outcome = BatchItem.Outcome()
        var attempts = 0
        var trace: String?
        var leaseOwner: String?
        var leaseToken: String?
        var leaseExpires: Double?
        /// Persona → result and when it was saved.
        var results: [String: SavedResult] = [:]
        /// File extension → document text.
        var texts: [String: String] = [:]

        var batchItem: BatchItem {
            BatchItem(key: key, name: name, status: status, error: error, documents: documents, outcome: outcome)
        }

        /// The queue's order: input position, then key (an item without a position first, as SQL sorts NULL).
        static func inOrder(_ a: Item, _ b: Item) -> Bool {
            (a.position ?? Int.min, a.key) < (b.position ?? Int.min, b.key)
        }
    }

    struct Reservation {
        var owner: String
        var amountUSD: Double
        var expires: Double
    }

    struct State {
        var cache: [String: (response: ChatResponse, at: Double)] = [:]
        var jobs: [String: Job] = [:]
        var rate: [String: (minute: Int64, requests: Int, tokens: Int)] = [:]
        var team = TeamState()
        var events: [String: [ReviewEventRecord]] = [:]
        var eventsExpire: [String: Double] = [:]

        /// The jobs in claiming order: oldest first, then by name.
        var jobsInOrder: [Job] { jobs.values.sorted { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) } }

        func claimable(_ job: Job, _ item: Item, only: String?, kinds: JobKinds, excluding: Set<String>) -> Bool {
            item.status == .pending && item.listing != nil && !job.cancelled && (only == nil || only == job.name)
                && kinds.contains(job.name) && !excluding.contains(job.name)
        }

        func holds(_ claim: ItemClaim) -> Bool {
            jobs[claim.job]?.items[claim.key]?.leaseToken == claim.token
        }

        /// A result replaces a different one (and its cost counts); the same result again changes nothing.
        mutating func insertResult(job: String, key: String, _ result: SavedResult) {
            guard jobs[job]?.items[key]?.results[result.persona]?.review != result.review else { return }
            jobs[job]?.items[key]?.results[result.persona] = result
            if let cost = result.costUSD, cost != 0 { jobs[job]?.spentUSD += cost }
        }

        mutating func deleteReservation(_ reservation: BudgetReservation?) {
            guard let reservation else { return }
            jobs[reservation.job]?.reservations.removeValue(forKey: reservation.id)
        }

        /// An item finished or failed: its outcome written and its lease cleared (the SQL stores' `writeItem`).
        mutating func write(
            job: String, key: String, name: String?, status: BatchItem.Status, error: String?, documents: [String],
            outcome: BatchItem.Outcome
        ) {
            guard var item = jobs[job]?.items[key] else { return }
            item.name = name
            item.status = status
            item.error = error
            item.documents = documents
            item.outcome = outcome
            item.leaseOwner = nil
            item.leaseToken = nil
            item.leaseExpires = nil
            jobs[job]?.items[key] = item
        }

        mutating func reserveName(job: String, key: String, base: String, isTaken: (String) -> Bool) -> String {
            if let name = jobs[job]?.nameOfKey[key] { return name }
            var candidate = base
            var counter = 2
            while jobs[job]?.names[candidate] != nil || isTaken(candidate) {
                candidate = "\(base)-\(counter)"
                counter += 1
            }
            jobs[job]?.names[candidate] = key
            jobs[job]?.nameOfKey[key] = candidate
            return candidate
        }
    }

    // MARK: Response cache

    public func cachedResponse(for key: String, maxAge: Duration?) async throws -> ChatResponse? {
        try step { state, now in
            guard let (response, at) = state.cache[key] else { return nil }
            if let maxAge, now - at >= maxAge.seconds { return nil }
            return response
        }
    }

    public func store(_ response: ChatResponse, for key: String) async throws {
        // Kept as the SQL stores keep it: times in whole milliseconds, one attempt.
        let kept = ChatResponse(
            text: response.text, model: response.model, backend: response.backend, usage: response.usage, costUSD: response.costUSD,
            latency: .milliseconds(response.latency.milliseconds),
            timeToFirstToken: response.timeToFirstToken.map { .milliseconds($0.milliseconds) }, attempts: 1,
            finishReason: response.finishReason)
        try step { state, now in state.cache[key] = (kept, now) }
    }

    // MARK: Rate windows

    public func take(backend: String, tokens: Int, limit: RateLimit) throws -> Duration? {
        try step { state, now in
            let (minute, remaining) = RateLimit.window(at: now)
            var window = state.rate[backend].flatMap { $0.minute == minute ? $0 : nil } ?? (minute: minute, requests: 0, tokens: 0)
            guard limit.admits(requests: window.requests, used: window.tokens, tokens: tokens) else {
                return .milliseconds(Int64((remaining * 1000).rounded(.up)))
            }
            window.requests += 1
            window.tokens += tokens
            state.rate[backend] = window
            return nil
        }
    }

    // MARK: Jobs and the queue

    public func enqueue(
        job: String, settings: String?, budgetUSD: Double?, listings: [QueuedListing], retry: Bool
    ) async throws -> EnqueueResult {
        defer { work.bump() }
        return try step { state, now in
            var record = state.jobs[job] ?? Job(name: job, createdAt: now)
            let newJob = state.jobs[job] == nil
            record.settings = settings ?? record.settings
            record.budgetUSD = budgetUSD
            record.cancelled = false
            var result = EnqueueResult(newJob: newJob, added: 0, requeued: 0)
            for listing in listings {
                let status = listing.error == nil ? BatchItem.Status.pending : .failed
                var item = record.items[listing.key] ?? Item(key: listing.key, status: status)
                if record.items[listing.key] != nil {
                    guard Self.requeues(item.status, withoutListing: item.listing == nil, retry: retry) else { continue }
                    if status == .pending { result.requeued += 1 }
                } else if status == .pending {
                    result.added += 1
                }
                item.status = status
                item.error = listing.error
                item.listing = listing.listing
                item.position = listing.position
                item.attempts = 0
                item.trace = listing.trace
                record.items[listing.key] = item
            }
            state.jobs[job] = record
            return result
        }
    }

    /// Whether enqueuing a listing again queues it anew (as the SQL stores decide).
    static func requeues(_ status: BatchItem.Status, withoutListing: Bool, retry: Bool) -> Bool {
        status == .failed || (retry && status == .partial) || (status == .pending && withoutListing)
    }

    public func reserveNames(job: String, _ names: [(key: String, base: String)], isTaken: @Sendable (String) -> Bool) async throws {
        try step { state, _ in
            guard state.jobs[job] != nil else { return }
            for (key, base) in names { _ = state.reserveName(job: job, key: key, base: base, isTaken: isTaken) }
        }
    }

    public func job(_ name: String) async throws -> JobRecord? {
        try step { state, _ in
            state.jobs[name].map { JobRecord(name: name, settings: $0.settings, budgetUSD: $0.budgetUSD, cancelled: $0.cancelled) }
        }
    }

    public func cancelJob(_ name: String) async throws -> Bool {
        try step { state, _ in
            guard state.jobs[name] != nil else { return false }
            state.jobs[name]?.cancelled = true
            return true
        }
    }

    public func claimQueued(
        job: String?, kinds: JobKinds, excluding: Set<String>, owner: String, lease: Duration, limit: Int, maxAttempts: Int
    ) async throws -> [QueuedClaim] {
        var endedReviews: [String] = []
        let claims = try step { state, now -> [QueuedClaim] in
            var claims: [QueuedClaim] = []
            var taken = 0  // rows the claim took, given up on or claimed (the SQL stores' LIMIT)
            for record in state.jobsInOrder {
                for item in record.items.values.sorted(by: Item.inOrder) {
                    guard taken < limit else { break }
                    guard state.claimable(record, item, only: job, kinds: kinds, excluding: excluding),
                        item.leaseToken == nil || (item.leaseExpires ?? 0) <= now
                    else { continue }
                    taken += 1
                    let attempt = item.attempts + 1
                    var reason = item.error
                    if let holder = item.leaseToken, !holder.isEmpty {
                        reason = QueueReasons.expiredLease(owner: item.leaseOwner ?? "another process")
                    }
                    if attempt > maxAttempts {
                        let error = QueueReasons.givenUp(attempts: attempt - 1, reason: reason)
                        state.write(
                            job: record.name, key: item.key, name: nil, status: .failed, error: error, documents: [], outcome: .init())
                        if let review = TeamReview.id(ofJob: record.name) {
                            state.endReview(.givenUp(review, error: error), now: now)
                            endedReviews.append(review)
                        }
                        continue
                    }
                    var taken = item
                    taken.leaseOwner = owner
                    taken.leaseToken = UUID().uuidString
                    taken.leaseExpires = now + lease.seconds
                    taken.attempts = attempt
                    taken.error = reason
                    state.jobs[record.name]?.items[item.key] = taken
                    claims.append(
                        QueuedClaim(
                            claim: ItemClaim(job: record.name, key: item.key, token: taken.leaseToken!), listing: item.listing ?? "",
                            attempt: attempt, hasResults: !item.results.isEmpty, trace: item.trace))
                }
            }
            return claims
        }
        for review in endedReviews { reviewEventsAppended.bump(review) }
        return claims
    }

    public func openItems(job: String?, kinds: JobKinds, excluding: Set<String>) async throws -> Int {
        try step { state, _ in
            state.jobs.values.reduce(0) { count, record in
                count + record.items.values.count { state.claimable(record, $0, only: job, kinds: kinds, excluding: excluding) }
            }
        }
    }

    public func waitForWork(timeout: Duration) async {
        await work.wait(timeout: timeout, clock: clock)
    }

    @discardableResult
    public func renewLeases(owner: String, lease: Duration) async throws -> Set<ItemClaim> {
        try step { state, now in
            var renewed: Set<ItemClaim> = []
            for name in state.jobs.keys {
                for (key, item) in state.jobs[name]!.items where item.leaseOwner == owner {
                    guard let token = item.leaseToken else { continue }
                    state.jobs[name]!.items[key]!.leaseExpires = now + lease.seconds
                    renewed.insert(ItemClaim(job: name, key: key, token: token))
                }
                for (id, reservation) in state.jobs[name]!.reservations where reservation.owner == owner {
                    state.jobs[name]!.reservations[id]!.expires = now + max(lease.seconds, Self.reservationLease.seconds)
                }
            }
            return renewed
        }
    }

    public func release(_ claim: ItemClaim, name: String?, attempted: Bool) async throws {
        defer { work.bump() }
        try step { state, _ in
            guard state.holds(claim), var item = state.jobs[claim.job]?.items[claim.key] else { return }
            item.name = name ?? item.name
            item.leaseOwner = nil
            item.leaseToken = nil
            item.leaseExpires = nil
            item.attempts = max(item.attempts - (attempted ? 0 : 1), 0)
            state.jobs[claim.job]?.items[claim.key] = item
        }
    }

    // MARK: Results

    public func results(job: String, key: String) async throws -> [String: String] {
        try step { state, _ in state.jobs[job]?.items[key]?.results.mapValues(\.review) ?? [:] }
    }

    public func saveResult(_ result: SavedResult, claim: ItemClaim, settling reservation: BudgetReservation?) async throws -> Bool {
        try step { state, _ in
            state.deleteReservation(reservation)
            guard state.holds(claim) else { return false }
            state.insertResult(job: claim.job, key: claim.key, result)
            return true
        }
    }

    public func savesMayWait(_ mayWait: Bool) { saveWindow.setOpen(mayWait) }

    public func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @escaping @Sendable (String) -> Bool,
        texts: [String: String], documents: @escaping @Sendable (String) -> [String]
    ) async throws -> String? {
        try step { state, _ in
            state.deleteReservation(reservation)
            guard state.holds(claim) else { return nil }
            if let lastResult { state.insertResult(job: claim.job, key: claim.key, lastResult) }
            let reserved = state.reserveName(job: claim.job, key: claim.key, base: base, isTaken: isTaken)
            state.write(
                job: claim.job, key: claim.key, name: name, status: status, error: nil, documents: documents(reserved), outcome: outcome)
            state.jobs[claim.job]?.items[claim.key]?.texts = texts
            return reserved
        }
    }

    public func forEachDocument(
        job: String, wanted: (_ name: String, _ fileExtension: String) -> Bool, _ body: (StoredDocument) throws -> Void
    ) async throws {
        let documents = try step { state, _ -> [StoredDocument] in
            guard let record = state.jobs[job] else { return [] }
            return record.items.values.sorted(by: Item.inOrder).flatMap { item -> [StoredDocument] in
                guard let name = record.nameOfKey[item.key] else { return [] }
                return item.texts.sorted { $0.key < $1.key }.map {
                    StoredDocument(key: item.key, name: name, fileExtension: $0.key, text: $0.value)
                }
            }
        }
        for document in documents where wanted(document.name, document.fileExtension) { try body(document) }
    }

    // MARK: Budget

    /// How long a reservation lives without its owner's heartbeat (as in the SQL stores).
    static let reservationLease: Duration = .seconds(900)

    public func reserveBudget(job: String, owner: String, amountUSD: Double, limitUSD: Double) async throws -> BudgetReservation? {
        try step { state, now in
            let spent = state.jobs[job]?.spentUSD ?? 0
            let reserved = state.jobs[job]?.reservations.values.filter { $0.expires > now }.reduce(0) { $0 + $1.amountUSD } ?? 0
            guard spent + reserved + amountUSD <= limitUSD, state.jobs[job] != nil else { return nil }
            let reservation = BudgetReservation(job: job, id: UUID().uuidString, amountUSD: amountUSD)
            state.jobs[job]?.reservations[reservation.id] = Reservation(
                owner: owner, amountUSD: amountUSD, expires: now + Self.reservationLease.seconds)
            return reservation
        }
    }

    public func releaseBudget(_ reservation: BudgetReservation) async throws {
        try step { state, _ in state.deleteReservation(reservation) }
    }

    public func spent(job: String) async throws -> Double {
        try step { state, _ in state.jobs[job]?.spentUSD ?? 0 }
    }

    // MARK: Summary

    public func itemCounts(job: String) async throws -> [BatchItem.Status: Int] {
        try step { state, _ in
            var counts: [BatchItem.Status: Int] = [:]
            for item in state.jobs[job]?.items.values ?? [:].values { counts[item.status, default: 0] += 1 }
            return counts
        }
    }

    public func forEachItem(job: String, _ body: (BatchItem) throws -> Void) async throws {
        let items = try step { state, _ in (state.jobs[job]?.items.values.sorted(by: Item.inOrder) ?? []).map(\.batchItem) }
        for item in items { try body(item) }
    }

    public func jobs() async throws -> [JobSummary] {
        try step { state, _ in
            state.jobs.values.filter { TeamReview.id(ofJob: $0.name) == nil }
                .sorted { ($1.createdAt, $0.name) < ($0.createdAt, $1.name) }
                .map {
                    JobSummary(
                        name: $0.name, createdAt: Self.utc($0.createdAt), spentUSD: $0.spentUSD, budgetUSD: $0.budgetUSD,
                        cancelled: $0.cancelled)
                }
        }
    }

    /// `yyyy-MM-dd HH:mm:ss` in UTC, as ``JobSummary`` shows a time.
    static func utc(_ epoch: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: epoch))
    }
}
