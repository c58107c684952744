public import ModelBackends
import Synchronization

/// Live statistics and health of every routed backend: latency and time to first token over a
/// sliding time window (p50/p90/p95/p99), error rate, calls in flight, mean answer length, and the
/// cooldown state machine (cooling → half-open probe → healthy). Thread-safe; time is injected.
public final class BackendStatistics: Sendable {
    public struct Snapshot: Sendable, Hashable {
        public var samples: Int
        public var p50MS: Int?
        public var p90MS: Int?
        public var p95MS: Int?
        public var p99MS: Int?
        public var ttftP90MS: Int?
        public var errorRate: Double
        public var inFlight: Int
        public var meanOutputTokens: Double?
        public var health: Health
        /// Requests left in the provider's rate-limit window, as last reported (within the window).
        public var rateLimitRemaining: Int?
    }

    public enum Health: Sendable, Hashable {
        case healthy
        case coolingDown(until: Duration)
        /// Cooldown is over: one probe call may go, and decides.
        case halfOpen
        /// The probe is in flight; others wait for its outcome.
        case probing
    }

    struct Sample {
        var at: Duration
        var latencyMS: Double
        var ttftMS: Double?
    }

    struct State {
        var samples: [Sample] = []
        var outcomes: [(at: Duration, failed: Bool)] = []
        var inFlight = 0
        var meanOutputTokens: Double?
        var cooldownUntil: Duration?
        var consecutiveFailures = 0
        var probing = false
        /// Percentiles and error rate, computed once per change rather than once per decision.
        var summary: Summary?
        var rateLimit: (remaining: Int, at: Duration)?
    }

    /// Every backend's state in one array, found by name once: a router asks for its candidates' slots
    /// when it is made and reads their snapshots by slot (no name hashed, no state copied, per decision).
    struct Table {
        var slots: [String: Int] = [:]
        var states: [State] = []

        /// The backend's slot; a backend never seen gets an empty state (which reads as "no data").
        mutating func slot(_ backend: String) -> Int {
            if let slot = slots[backend] { return slot }
            states.append(State())
            slots[backend] = states.count - 1
            return states.count - 1
        }

        /// Runs `body` on the backend's state in place.
        mutating func update<Result>(_ backend: String, _ body: (inout State) -> Result) -> Result {
            let index = slot(backend)
            return body(&states[index])
        }
    }

    struct Summary {
        var p50: Int?
        var p90: Int?
        var p95: Int?
        var p99: Int?
        var ttftP90: Int?
        var errorRate: Double
    }

    static func summarize(_ state: State) -> Summary {
        let latencies = state.samples.map(\.latencyMS).sorted()
        let ttfts = state.samples.compactMap(\.ttftMS).sorted()
        let failures = state.outcomes.filter(\.failed).count
        return Summary(
            p50: percentile(latencies, 0.50), p90: percentile(latencies, 0.90), p95: percentile(latencies, 0.95),
            p99: percentile(latencies, 0.99),
            ttftP90: percentile(ttfts, 0.90), errorRate: state.outcomes.isEmpty ? 0 : Double(failures) / Double(state.outcomes.count))
    }

    public let window: Duration
    public let baseCooldown: Duration
    public let maxCooldown: Duration
    let time: RouterTime
    private let table = Mutex(Table())

    public init(
        time: RouterTime = .continuous(), window: Duration = .seconds(300), baseCooldown: Duration = .seconds(2),
        maxCooldown: Duration = .seconds(60)
    ) {
        self.time = time
        self.window = window
        self.baseCooldown = baseCooldown
        self.maxCooldown = maxCooldown
    }

    public func snapshot(_ backend: String) -> Snapshot {
        snapshots([backend])[0]
    }

    /// Snapshots of several backends under one lock.
    public func snapshots(_ backends: [String]) -> [Snapshot] {
        let now = time.now()
        return table.withLock { table in backends.map { snapshot(&table.states[table.slot($0)], now: now) } }
    }

    /// The slots of these backends (created when new), for ``snapshots(slots:)``.
    func slots(_ backends: [String]) -> [Int] {
        table.withLock { table in backends.map { table.slot($0) } }
    }

    /// Snapshots by slot (from ``slots(_:)`` of this instance) under one lock.
    func snapshots(slots: [Int]) -> [Snapshot] {
        let now = time.now()
        return table.withLock { table in slots.map { snapshot(&table.states[$0], now: now) } }
    }

    private func snapshot(_ state: inout State, now: Duration) -> Snapshot {
        if let oldest = state.samples.first?.at ?? state.outcomes.first?.at, oldest < now - window {
            prune(&state, now: now)
        }
        let summary: Summary
        if let cached = state.summary {
            summary = cached
        } else {
            summary = Self.summarize(state)
            state.summary = summary
        }
        return Snapshot(
            samples: state.samples.count, p50MS: summary.p50, p90MS: summary.p90, p95MS: summary.p95, p99MS: summary.p99,
            ttftP90MS: summary.ttftP90,
            errorRate: summary.errorRate, inFlight: state.inFlight, meanOutputTokens: state.meanOutputTokens,
            health: health(state, now: now),
            rateLimitRemaining: state.rateLimit.flatMap { now - $0.at < rateLimitMemory ? $0.remaining : nil })
    }

    /// How long a reported rate-limit headroom is trusted without a fresher one.
    public var rateLimitMemory: Duration { .seconds(60) }

    /// Records the headroom a provider reported with an answer.
    public func rateLimit(_ backend: String, remaining: Int) {
        let now = time.now()
        table.withLock { table in
            table.update(backend) { state in
                state.rateLimit = (remaining, now)
            }
        }
    }

    func health(_ state: State, now: Duration) -> Health {
        guard let until = state.cooldownUntil else { return .healthy }
        if now < until { return .coolingDown(until: until) }
        return state.probing ? .probing : .halfOpen
    }

    /// Nearest-rank percentile; nil without data (never NaN).
    static func percentile(_ sorted: [Double], _ p: Double) -> Int? {
        guard !sorted.isEmpty else { return nil }
        let rank = CheckedNumber.clamped((p * Double(sorted.count)).rounded(.up), to: 0...sorted.count) ?? sorted.count
        return CheckedNumber.clamped(sorted[min(max(rank, 1), sorted.count) - 1], to: 0...Int(Int32.max))
    }

    private func prune(_ state: inout State, now: Duration) {
        let horizon = now - window
        // Samples arrive in time order: only look further when the oldest has expired.
        if let oldest = state.samples.first, oldest.at < horizon { state.samples.removeAll { $0.at < horizon } }
        if let oldest = state.outcomes.first, oldest.at < horizon { state.outcomes.removeAll { $0.at < horizon } }
        state.summary = nil
        if state.samples.count > 1024 { state.samples.removeFirst(state.samples.count - 1024) }
        if state.outcomes.count > 1024 { state.outcomes.removeFirst(state.outcomes.count - 1024) }
    }

    /// A call starts. Returns false when the backend is cooling down or its probe is taken.
    public func begin(_ backend: String) -> Bool {
        let now = time.now()
        return table.withLock { table in
            table.update(backend) { state in
                switch health(state, now: now) {
                case .coolingDown, .probing: return false
                case .halfOpen: state.probing = true
                case .healthy: break
                }
                state.inFlight += 1
                return true
            }
        }
    }

    /// A call succeeded: a latency sample, and the backend is healthy again.
    public func succeeded(_ backend: String, latency: Duration, ttft: Duration?, outputTokens: Int?) {
        let now = time.now()
        table.withLock { table in
            table.update(backend) { state in
                state.inFlight = max(0, state.inFlight - 1)
                state.samples.append(Sample(at: now, latencyMS: latency.seconds * 1000, ttftMS: ttft.map { $0.seconds * 1000 }))
                state.outcomes.append((now, false))
                state.summary = nil
                if let outputTokens {
                    state.meanOutputTokens = state.meanOutputTokens.map { $0 * 0.8 + Double(outputTokens) * 0.2 } ?? Double(outputTokens)
                }
                state.cooldownUntil = nil
                state.consecutiveFailures = 0
                state.probing = false
                prune(&state, now: now)
            }
        }
    }

    /// A call failed. Rate limits, overload, 5xx, timeouts and connection failures cool the backend
    /// down (at least for the server's Retry-After; a re-cool extends the deadline); client errors,
    /// content filters and cancellations do not.
    public func failed(_ backend: String, error: BackendError) {
        let now = time.now()
        table.withLock { table in
            table.update(backend) { state in
                state.inFlight = max(0, state.inFlight - 1)
                state.probing = false
                if error.kind != .cancelled {
                    state.outcomes.append((now, true))
                    state.summary = nil
                }
                if Self.coolsDown(error) {
                    state.consecutiveFailures += 1
                    let backoff = min(maxCooldown, baseCooldown * (1 << min(state.consecutiveFailures - 1, 16)))
                    let length = max(backoff, error.retryAfter ?? .zero)
                    state.cooldownUntil = max(state.cooldownUntil ?? .zero, now + length)
                }
            }
        }
    }

    /// A call was abandoned (a hedge that lost): no sample, no failure.
    public func abandoned(_ backend: String) {
        table.withLock { table in
            table.update(backend) { state in
                state.inFlight = max(0, state.inFlight - 1)
                state.probing = false
            }
        }
    }

    public static func coolsDown(_ error: BackendError) -> Bool {
        switch error.kind {
        case .rateLimited, .overloaded, .server, .timeout, .connection: return true
        default: return false
        }
    }

    /// Seeds a backend with observed latencies (for dry runs on stored statistics, and tests).
    public func record(_ backend: String, latenciesMS: [Double]) {
        let now = time.now()
        table.withLock { table in
            table.update(backend) { state in
                // Observed latencies from a file: only finite, non-negative ones up to a day count.
                let usable = latenciesMS.filter { $0.isFinite && $0 >= 0 && $0 <= 86_400_000 }
                state.samples += usable.map { Sample(at: now, latencyMS: $0, ttftMS: nil) }
                state.outcomes += usable.map { _ in (now, false) }
                state.summary = nil
            }
        }
    }
}
