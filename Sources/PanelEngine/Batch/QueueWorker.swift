import Foundation
public import ModelBackends
import Synchronization

/// One worker on the store's queue — `panel worker`, or `panel batch` working on its own job: claims
/// listings a few at a time (`SKIP LOCKED` on PostgreSQL), hands each to the ``BatchDriver`` of its
/// job (made once per job from the job's settings), renews its leases by a heartbeat, backs off while
/// the store cannot be reached, and waits for work (woken by the store, or polling) when the queue is
/// empty. With `drain` it returns once nothing it may work on is open; ``stop()`` stops claiming, lets
/// the listings in flight finish for a grace period, then cancels them (their claims go back to the
/// queue).
public final class QueueWorker: Sendable {
    public struct Options: Sendable {
        /// Work on this job only (nil: every job, oldest first).
        public var job: String?
        /// Return once nothing is open instead of waiting for new work.
        public var drain: Bool
        /// Persona calls in flight across this worker.
        public var concurrency: Int
        public var lease: Duration
        public var maxItemAttempts: Int
        public var pollInterval: Duration
        /// How long listings in flight may take to finish after ``QueueWorker/stop()``.
        public var grace: Duration
        /// Which jobs: batches, reviews asked of the team server, or both.
        public var kinds: JobKinds
        /// Items held at once (nil: ``listingsInFlight``'s rule).
        public var itemsInFlight: Int?
        /// With `drain`: returns once the job's listings are all on the queue — a batch queues the rest of
        /// its input while its first listings are worked on, and its worker finding nothing open before
        /// that is not done.
        public var queued: (@Sendable () async -> Void)?

        public init(
            job: String? = nil, drain: Bool = false, concurrency: Int = 8, lease: Duration = QueueDefaults.lease,
            maxItemAttempts: Int = QueueDefaults.maxItemAttempts,
            pollInterval: Duration = .seconds(2), grace: Duration = .seconds(30), kinds: JobKinds = .all, itemsInFlight: Int? = nil,
            queued: (@Sendable () async -> Void)? = nil
        ) {
            self.queued = queued
            self.kinds = kinds
            self.itemsInFlight = itemsInFlight
            self.job = job
            self.drain = drain
            self.concurrency = concurrency
            self.lease = lease
            self.maxItemAttempts = maxItemAttempts
            self.pollInterval = pollInterval
            self.grace = grace
        }

        /// Listings held at once: enough to keep every call slot busy while some listings are between
        /// calls (four personas a listing, twice over), never so many that other workers go idle.
        var listingsInFlight: Int { itemsInFlight.map { max(1, $0) } ?? max(2, concurrency / 2) }
    }

    public let store: any ReviewStore
    public let owner: String
    public let options: Options
    /// Calls in flight, shared by every job's driver.
    public let calls: AsyncSemaphore
    let onEvent: @Sendable (EngineEvent) -> Void
    let makeDriver: @Sendable (JobRecord) async throws -> BatchDriver
    let state = Mutex(State())
    /// Bumped when the last listing in flight ends: a draining worker that found the job open only because
    /// of its own listings counts again at once, not a poll interval later.
    let idle = ChangeSignal()

    struct State {
        var drivers: [String: BatchDriver] = [:]
        /// Jobs this worker no longer claims from: stopped by their budget, or their settings unusable here.
        var skipped: Set<String> = []
        var stopping = false
        var inFlight = 0
        /// Listings given back in a row because a backend could not be reached from here; claiming waits
        /// (``RetryPolicy/backendOutage``) until `pausedUntil`.
        var unreachableStreak = 0
        var pausedUntil: ContinuousClock.Instant?
        /// Claimed ahead of a free slot (a worker bound to one job): started as slots free, given back
        /// when the worker stops (`givingBack`, awaited before `run` returns).
        var ahead: [QueuedClaim] = []
        var givingBack: Task<Void, Never>?
        /// The last look at the queue found nothing to claim: the listings in flight are the last for now,
        /// and their saves wait for no company (``SaveWindow``).
        var foundNone = false
        /// ``Options/queued`` returned: the job is all on the queue.
        var allQueued = false
    }

    /// `driver` makes the driver of a job the first time one of its listings is claimed (the
    /// job's settings, this worker's backends, `calls` and `owner`).
    public init(
        store: any ReviewStore, owner: String = BatchDriver.makeOwner(), calls: AsyncSemaphore? = nil, options: Options,
        onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }, leases: LeaseBook? = nil,
        clock: any EngineClock = EngineExecutor.clock, driver: @escaping @Sendable (JobRecord) async throws -> BatchDriver
    ) {
        self.clock = clock
        self.store = store
        self.owner = owner
        self.options = options
        self.calls = calls ?? AsyncSemaphore(limit: options.concurrency)
        self.onEvent = onEvent
        self.makeDriver = driver
        self.leases = leases ?? LeaseBook(now: { clock.now })
    }

    /// Where this worker's time comes from: heartbeats, lease expiry, backoff and the grace period.
    public let clock: any EngineClock

    /// The leases this worker holds, as it knows them.
    public let leases: LeaseBook

    /// Stops claiming; listings in flight get the grace period to finish, listings claimed ahead and not
    /// started go back on the queue at once.
    public func stop() {
        state.withLock { state in
            state.stopping = true
            let ahead = state.ahead
            state.ahead = []
            if !ahead.isEmpty { state.givingBack = Task { await self.giveBack(ahead) } }
        }
    }

    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// The drivers of the jobs this worker has worked on.
    public var drivers: [BatchDriver] { state.withLock { Array($0.drivers.values) } }

    struct GraceExpired: Error {}

    public func run() async throws {
        let heartbeat = Task { [store, owner, options, leases, clock] in
            while !Task.isCancelled {
                await clock.pause(for: options.lease / 3)
                if Task.isCancelled { return }
                let since = leases.now()
                if let held = try? await StoreDeadline.run(
                    limit: store.stepDeadline, clock: clock, { try await store.renewLeases(owner: owner, lease: options.lease) })
                {
                    // Claims missing from what was renewed were taken over: their calls in flight are cancelled.
                    leases.renewed(held, since: since, lease: options.lease)
                }
            }
        }
        // Leases unrenewed past their local expiry (the store is away, or a renewal hangs on a cut
        // connection) are given up at once, as another worker may have them: their calls in flight are
        // cancelled. Checked on a short tick of its own, never behind a renewal still waiting for its answer.
        let expiry = Task { [leases, options, clock] in
            let tick = min(options.lease / 10, .seconds(1))
            while !Task.isCancelled {
                await clock.pause(for: tick)
                leases.expire()
            }
        }
        defer {
            heartbeat.cancel()
            expiry.cancel()
        }
        let slots = AsyncSemaphore(limit: options.listingsInFlight)
        do {
            try await withThrowingDiscardingTaskGroup { group in
                var outage = 0
                while !isStopping && !Task.isCancelled {
                    guard (try? await slots.acquire()) != nil else { break }
                    if let until = state.withLock({ $0.pausedUntil }), until > clock.now {
                        try? await clock.sleep(until: until, tolerance: nil)
                    }
                    var taken = 1
                    while taken < Self.claimChunk, slots.tryAcquire() { taken += 1 }
                    if isStopping {
                        for _ in 0..<taken { slots.release() }
                        break
                    }
                    let skipped = state.withLock { $0.skipped }
                    var claims: [QueuedClaim]
                    let since = leases.now()
                    do {
                        let held = state.withLock { state -> [QueuedClaim] in
                            let held = Array(state.ahead.prefix(taken))
                            state.ahead.removeFirst(held.count)
                            return held
                        }
                        if held.count == taken {
                            claims = held
                        } else {
                            let more = options.job == nil ? 0 : Self.claimAhead
                            let (store, owner, options, limit) = (store, owner, options, taken - held.count + more)
                            let claimed: [QueuedClaim]
                            do {
                                claimed = try await StoreDeadline.run(limit: store.stepDeadline, clock: clock) {
                                    try await store.claimQueued(
                                        job: options.job, kinds: options.kinds, excluding: skipped, owner: owner, lease: options.lease,
                                        limit: limit,
                                        maxAttempts: options.maxItemAttempts)
                                }
                            } catch {
                                state.withLock { $0.ahead.insert(contentsOf: held, at: 0) }
                                throw error
                            }
                            for claim in claimed { leases.hold(claim.claim, since: since, lease: options.lease) }
                            claims = held + claimed
                            let extra = Array(claims.dropFirst(taken))
                            claims.removeLast(extra.count)
                            let stopped = state.withLock { state -> Bool in
                                if !state.stopping { state.ahead = extra }
                                return state.stopping
                            }
                            if stopped { await giveBack(extra) }
                        }
                        if outage > 0 { onEvent(.problem("\(store.location) answers again; claiming")) }
                        outage = 0
                    } catch {
                        for _ in 0..<taken { slots.release() }
                        // Backing off while the store is away (``RetryPolicy/storeOutage``).
                        if outage == 0 { onEvent(.problem("cannot claim from \(store.location): \(error); trying again")) }
                        outage += 1
                        await clock.pause(for: RetryPolicy.storeOutage.backoff(after: outage))
                        continue
                    }
                    let foundNone = claims.isEmpty
                    let changed = state.withLock { state -> Bool in
                        defer { state.foundNone = foundNone }
                        return state.foundNone != foundNone
                    }
                    if changed { store.savesMayWait(!foundNone) }
                    for _ in claims.count..<taken { slots.release() }
                    for claim in claims {
                        guard let driver = await driver(for: claim.claim.job) else {
                            leases.release(claim.claim)
                            await Task { try? await store.release(claim.claim, name: nil) }.value
                            slots.release()
                            continue
                        }
                        state.withLock { $0.inFlight += 1 }
                        group.addTask { [leases] in
                            // The listing's work, cancelled if its lease is lost while it runs.
                            // One span per claimed item, continuing the trace it was enqueued in.
                            let givenBack = await EngineTraces.item(claim, owner: self.owner) {
                                let work = Task(executorPreference: EngineExecutor.preferred) {
                                    await driver.work(claim, isLive: { leases.isLive(claim.claim) })
                                }
                                leases.onLost(claim.claim) { work.cancel() }
                                return await withTaskCancellationHandler {
                                    await work.value
                                } onCancel: {
                                    work.cancel()
                                }
                            }
                            self.state.withLock { state in
                                if givenBack {
                                    state.unreachableStreak += 1
                                    state.pausedUntil =
                                        self.clock.now + RetryPolicy.backendOutage.backoff(after: state.unreachableStreak)
                                } else {
                                    state.unreachableStreak = 0
                                    state.pausedUntil = nil
                                }
                            }
                            leases.release(claim.claim)
                            if driver.progress.budgetStopped { self.state.withLock { _ = $0.skipped.insert(claim.claim.job) } }
                            // A review's job has one item: its driver is not needed again.
                            if TeamReview.id(ofJob: claim.claim.job) != nil {
                                self.state.withLock { _ = $0.drivers.removeValue(forKey: claim.claim.job) }
                            }
                            let idle = self.state.withLock { state -> Bool in
                                state.inFlight -= 1
                                return state.inFlight == 0
                            }
                            if idle { self.idle.bump() }
                            slots.release()
                        }
                    }
                    if claims.isEmpty {
                        if options.drain, let queued = options.queued, !state.withLock({ $0.allQueued }) {
                            // Nothing to claim while the job is still being queued: once it all is, look again.
                            await queued()
                            state.withLock { $0.allQueued = true }
                            continue
                        }
                        let (skipped, inFlight) = state.withLock { ($0.skipped, $0.inFlight) }
                        if options.drain,
                            let open = try? await StoreDeadline.run(
                                limit: store.stepDeadline, clock: clock,
                                { [store, options] in
                                    try await store.openItems(job: options.job, kinds: options.kinds, excluding: skipped)
                                }),
                            open == 0
                        {
                            break
                        }
                        guard options.drain, inFlight > 0 else {
                            await store.waitForWork(timeout: options.pollInterval)
                            continue
                        }
                        // Draining with listings of its own in flight: while any is, the job stays open, and
                        // the last one ending wakes the worker to count again. Only this loop adds to `inFlight`,
                        // so none in flight now means the last ended while it counted: count again at once.
                        if state.withLock({ $0.inFlight }) == 0 { continue }
                        let (store, idle, pollInterval, clock) = (store, idle, options.pollInterval, clock)
                        await withTaskGroup(of: Void.self) { waits in
                            waits.addTask { await store.waitForWork(timeout: pollInterval) }
                            waits.addTask { await idle.wait(timeout: pollInterval, clock: clock) }
                            await waits.next()
                            waits.cancelAll()
                        }
                    }
                }
                // Stopping: listings claimed ahead and not started go back on the queue.
                let ahead = state.withLock { state -> [QueuedClaim] in
                    defer { state.ahead = [] }
                    return state.ahead
                }
                if !ahead.isEmpty { await giveBack(ahead) }
                await state.withLock({ $0.givingBack })?.value
                // Stopping (or drained): the listings in flight finish, or are cancelled after the grace period.
                let (grace, clock) = (options.grace, clock)
                group.addTask {
                    let deadline = clock.now + grace
                    // Cancelled, the listings' tasks are cancelled with it: nothing to wait for (and a
                    // cancelled sleep returns at once, which made this loop spin until the deadline).
                    while clock.now < deadline, !Task.isCancelled {
                        if self.state.withLock({ $0.inFlight }) == 0 { return }
                        await clock.pause(for: .milliseconds(50))
                    }
                    if !Task.isCancelled, self.state.withLock({ $0.inFlight }) > 0 { throw GraceExpired() }
                }
            }
        } catch is GraceExpired {
            onEvent(.problem("the grace period ended: listings still in flight were given back to the queue"))
        }
        heartbeat.cancel()
        expiry.cancel()
        await heartbeat.value
        await expiry.value
    }

    /// Listings claimed in one step.
    static let claimChunk = 8

    /// Listings a worker bound to one job claims beyond its free slots, to start as slots free: one
    /// claim for about four listings instead of one each (on PostgreSQL, a claim was a statement and a
    /// commit for nearly every listing). Not for a worker taking any job: a review asked of the team
    /// server is never held back behind a busy worker's listings.
    static let claimAhead = 3

    /// Claims held ahead and not started (the worker stopping): back on the queue, no attempt counted.
    func giveBack(_ claims: [QueuedClaim]) async {
        for claim in claims {
            leases.release(claim.claim)
            try? await store.release(claim.claim, name: nil, attempted: false)
        }
    }

    /// The driver of a job, made on first use; nil (and the job skipped from now on) when the job's
    /// settings cannot be used here — said once.
    func driver(for job: String) async -> BatchDriver? {
        if let driver = state.withLock({ $0.drivers[job] }) { return driver }
        do {
            guard let record = try await store.job(job) else { throw EngineError("job '\(job)' is not in \(store.location)") }
            let driver = try await makeDriver(record)
            return state.withLock { state in
                if let existing = state.drivers[job] { return existing }
                state.drivers[job] = driver
                return driver
            }
        } catch {
            onEvent(.problem("cannot work on job '\(job)': \(error); its listings are left for other workers"))
            state.withLock { _ = $0.skipped.insert(job) }
            return nil
        }
    }
}
