import Foundation
public import ModelBackends
import Synchronization

/// A backend that holds other backends and picks one per call from declared constraints: it
/// explains every decision (the response's `routing` trace), falls back to the next-ranked candidate
/// when a call fails after its retries, cools down failing backends (half-open probe after), waits a
/// bounded time when every candidate is cooling, hedges slow calls on the next-best backend, and can
/// spread one review's personas over model families.
public final class ModelRouter: ModelBackend {
    public let name: String
    public let candidates: [RouteCandidate]
    public let constraints: RoutingConstraints
    /// Per-persona overrides (by the persona id that starts a request's label).
    public let personaConstraints: [String: RoutingConstraints]
    public let statistics: BackendStatistics
    let time: RouterTime
    let profiles: [RoutingPolicy.Profile]
    let summaries: [String: String]
    let defaultSummary: String
    /// The fixed filters' outcome under the panel's constraints and under each persona's.
    let fixedFilters: RoutingPolicy.FixedFilters
    let personaFixedFilters: [String: RoutingPolicy.FixedFilters]

    private struct State {
        var random: SeededRandom
        var routedCalls = 0
        var hedgedCalls = 0
    }

    private let state: Mutex<State>

    /// Most hedges one call may start (each further one only once the previous hedge is late too).
    public static let maxHedgesPerCall = 2

    public init(
        name: String = "router", candidates: [RouteCandidate], constraints: RoutingConstraints,
        personaConstraints: [String: RoutingConstraints] = [:], statistics: BackendStatistics? = nil, time: RouterTime = .continuous(),
        seed: UInt64 = 1
    ) {
        self.name = name
        self.candidates = candidates
        self.constraints = constraints
        self.personaConstraints = personaConstraints
        self.time = time
        self.statistics = statistics ?? BackendStatistics(time: time)
        self.state = Mutex(State(random: SeededRandom(seed: seed)))
        let profiles = candidates.map(RoutingPolicy.Profile.init)
        self.profiles = profiles
        self.summaries = personaConstraints.mapValues(\.summary)
        self.defaultSummary = constraints.summary
        let statistics = self.statistics
        self.fixedFilters = RoutingPolicy.FixedFilters(profiles, constraints, statistics: statistics)
        self.personaFixedFilters = personaConstraints.mapValues { RoutingPolicy.FixedFilters(profiles, $0, statistics: statistics) }
    }

    /// Hedged calls so far over routed calls.
    public var hedgeShare: (hedged: Int, routed: Int) { state.withLock { ($0.hedgedCalls, $0.routedCalls) } }

    /// The constraints that apply to a request: its persona's, else the panel's.
    func constraints(for request: ChatRequest) -> RoutingConstraints {
        request.context.persona.flatMap { personaConstraints[$0] } ?? constraints
    }

    /// The decision for a request, without calling anything (`panel route --explain`).
    public func decide(_ request: ChatRequest) -> RoutingDecision {
        let persona = request.context.persona
        let constraints = constraints(for: request)
        let random = state.withLock { $0.random.next() }
        let families = request.context.panel?.familiesInUse(excluding: persona) ?? []
        let decision = RoutingPolicy.decide(
            request, candidates: candidates, profiles: profiles, fixed: persona.flatMap { personaFixedFilters[$0] } ?? fixedFilters,
            constraints: constraints, statistics: statistics, familiesInUse: families, random: random,
            summary: persona.flatMap { summaries[$0] } ?? defaultSummary)
        if constraints.diverseFamilies, let pick = decision.ranked.first, let panel = request.context.panel, let persona {
            panel.record(persona: persona, family: pick.family)
        }
        return decision
    }

    /// The most one call of this request could cost on any backend the router might pick for it
    /// (the constraints' static filters: capability, quality, local-only, cost cap), for budgets that
    /// must hold whichever backend answers. Nil when some such backend has no price.
    public func costCeiling(_ request: ChatRequest) -> Double? {
        RoutingPolicy.costCeiling(request, candidates: candidates, constraints: constraints(for: request), statistics: statistics)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await route(request, voice: nil)
    }

    /// Streams the answer of whichever backend answers: live text from the call that speaks first,
    /// and `.restarted` when the text shown is abandoned (that call failed over, or a hedge won).
    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        .answeringEvents { yield in
            let voice = StreamVoice(yield)
            let response = try await self.route(request, voice: voice)
            return response
        }
    }

    /// Picks, calls, fails over and hedges; with a `voice`, the calls stream through it.
    func route(_ request: ChatRequest, voice: StreamVoice?) async throws -> ChatResponse {
        let constraints = constraints(for: request)
        var decision = decide(request)
        let waitStart = time.now()
        while decision.ranked.isEmpty && decision.allCoolingDown {
            let elapsed = time.now() - waitStart
            guard elapsed < constraints.maxRecoveryWait else { break }
            let wait = min(
                max((decision.earliestRecovery ?? time.now()) - time.now(), .milliseconds(10)), constraints.maxRecoveryWait - elapsed)
            do { try await time.sleep(wait) } catch { throw BackendError.cancelled(backend: name) }
            decision = decide(request)
        }
        var trace = decision.trace
        guard !decision.ranked.isEmpty else {
            throw BackendError(
                kind: .unsupported, backend: name,
                detail: "\(trace.rule) (\(constraints.summary)); candidates: "
                    + trace.candidates.map { "\($0.backend): \($0.excludedBy ?? "ok") \($0.detail ?? "")" }.joined(separator: "; "))
        }
        state.withLock { $0.routedCalls += 1 }
        // A candidate that cannot be reached fails at once: the router has others to try.
        var forwarded = request
        forwarded.context.failFastWhenUnreachable = true
        var lastError: BackendError?
        var remaining = decision.ranked
        while !remaining.isEmpty {
            let primary = remaining.removeFirst()
            let hedges = hedgePlan(primary: primary, next: remaining, constraints: constraints, request: request)
            do {
                var (response, attempts) = try await attempt(forwarded, primary: primary, hedges: hedges, voice: voice)
                trace.attempts += attempts
                if response.backend != primary.name { remaining.removeAll { $0.name == response.backend } }
                response.routing = trace
                return response
            } catch let failure as AttemptFailure {
                trace.attempts += failure.attempts
                lastError = failure.error
                if failure.error.kind == .cancelled { throw failure.error }
                let tried = Set(failure.attempts.map(\.backend))
                remaining.removeAll { tried.contains($0.name) }
            }
        }
        var error = lastError ?? BackendError(kind: .unsupported, backend: name, detail: "no backend answered")
        error.attempts = trace.attempts.filter { $0.outcome != "cancelled" }.count
        error.detail =
            "every candidate failed (\(trace.attempts.map { "\($0.backend): \($0.errorClass ?? $0.outcome)" }.joined(separator: ", "))); last: \(error.detail)"
        throw error
    }

    struct AttemptFailure: Error {
        var error: BackendError
        var attempts: [RoutingTrace.Attempt]
    }

    struct HedgePlan {
        var backend: RouteCandidate
        /// How long after the previous call of this attempt started (the primary, or the last hedge).
        var after: Duration
    }

    /// The hedges this call may start, in order: the next-ranked backend once the chosen one has not
    /// answered by its p90 (or `after`), then — when that hedge is late past its own p90 too — the next
    /// one, or the chosen backend again when there is no other. Only while every call of the chain fits
    /// the per-call cost cap together, and only where the latency to wait for is known. Each hedge is
    /// still subject to `max_extra_share` when it is due.
    func hedgePlan(primary: RouteCandidate, next: [RouteCandidate], constraints: RoutingConstraints, request: ChatRequest) -> [HedgePlan] {
        guard let policy = constraints.hedge, !next.isEmpty else { return [] }
        func delay(_ candidate: RouteCandidate) -> Duration? {
            switch policy.trigger {
            case .after(let delay): return delay
            case .p90:
                let stats = statistics.snapshot(candidate.name)
                return (stats.samples >= 3 ? stats.p90MS : candidate.configuration.declaredLatencyMS).map { .milliseconds($0) }
            case .p95:
                let stats = statistics.snapshot(candidate.name)
                return (stats.samples >= 3 ? stats.p95MS : candidate.configuration.declaredLatencyMS).map { .milliseconds($0) }
            }
        }
        var targets = Array(next.prefix(Self.maxHedgesPerCall))
        if targets.count < Self.maxHedgesPerCall { targets.append(primary) }
        var plans: [HedgePlan] = []
        var waitingOn = primary
        var cost = constraints.maxCostUSD == nil ? 0 : estimate(primary, request)
        for target in targets {
            guard let after = delay(waitingOn) else { break }
            if let cap = constraints.maxCostUSD {
                guard let current = cost, let extra = estimate(target, request), current + extra <= cap else { break }
                cost = current + extra
            }
            plans.append(HedgePlan(backend: target, after: after))
            waitingOn = target
        }
        return plans
    }

    func estimate(_ candidate: RouteCandidate, _ request: ChatRequest) -> Double? {
        RoutingPolicy.estimatedCost(
            request, price: candidate.configuration.price, meanOutputTokens: statistics.snapshot(candidate.name).meanOutputTokens)
    }

    enum Outcome: Sendable {
        case answered(ChatResponse, call: Int)
        case failed(BackendError, call: Int)
        /// An error of our own (a recording that cannot be written): not the backend's, so no other
        /// backend is tried.
        case local(any Error)
        case hedgeTime
    }

    /// Calls `primary`; with hedge plans, starts the same call on each hedge backend in turn when the
    /// calls before it have not answered in time, takes whichever answers first and cancels the rest.
    func attempt(
        _ request: ChatRequest, primary: RouteCandidate, hedges: [HedgePlan], voice: StreamVoice? = nil
    ) async throws -> (ChatResponse, [RoutingTrace.Attempt]) {
        var attempts: [RoutingTrace.Attempt] = []
        // Index 0 is the primary, 1… the hedges started; each call's voice id, for the stream.
        var calls: [(backend: String, hedge: Bool, voice: Int)] = [(primary.name, false, voice?.newCall() ?? 0)]
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            let primaryVoice = calls[0].voice
            group.addTask { await self.call(primary, request, index: 0, voice: voice.map { ($0, primaryVoice) }) }
            if let first = hedges.first {
                group.addTask {
                    try await self.time.sleep(first.after)
                    return .hedgeTime
                }
            }
            var running: Set<Int> = [0]
            var started = 0
            var lastError: BackendError?
            while let outcome = try await group.next() {
                switch outcome {
                case .hedgeTime:
                    guard started < hedges.count, !running.isEmpty, reserveHedge() else { continue }
                    let plan = hedges[started]
                    started += 1
                    let index = calls.count
                    let id = voice?.newCall() ?? index
                    calls.append((plan.backend.name, true, id))
                    running.insert(index)
                    group.addTask { await self.call(plan.backend, request, index: index, voice: voice.map { ($0, id) }) }
                    if started < hedges.count {
                        let after = hedges[started].after
                        group.addTask {
                            try await self.time.sleep(after)
                            return .hedgeTime
                        }
                    }
                case .answered(let response, let index):
                    voice?.won(calls[index].voice, text: response.text)
                    attempts.append(RoutingTrace.Attempt(backend: calls[index].backend, outcome: "answered", hedge: calls[index].hedge))
                    running.remove(index)
                    for loser in running.sorted() {
                        attempts.append(
                            RoutingTrace.Attempt(backend: calls[loser].backend, outcome: "cancelled", hedge: calls[loser].hedge))
                    }
                    group.cancelAll()
                    return (response, attempts)
                case .failed(let error, let index):
                    attempts.append(
                        RoutingTrace.Attempt(
                            backend: calls[index].backend, outcome: "failed", errorClass: error.kind.rawValue,
                            retryAfterMS: error.retryAfter?.milliseconds, hedge: calls[index].hedge))
                    lastError = error
                    running.remove(index)
                    if running.isEmpty {
                        group.cancelAll()
                        throw AttemptFailure(error: error, attempts: attempts)
                    }
                case .local(let error):
                    group.cancelAll()
                    throw error
                }
            }
            throw AttemptFailure(error: lastError ?? BackendError.cancelled(backend: name), attempts: attempts)
        }
    }

    func reserveHedge() -> Bool {
        state.withLock { state in
            guard let share = constraints.hedge?.maxExtraShare,
                Double(state.hedgedCalls + 1) <= share * Double(max(state.routedCalls, 1))
            else { return false }
            state.hedgedCalls += 1
            return true
        }
    }

    /// One call to one backend, with statistics and health kept; streamed through `voice` (the stream's
    /// voice and this call's id in it) when there is one.
    func call(_ candidate: RouteCandidate, _ request: ChatRequest, index: Int, voice: (StreamVoice, Int)? = nil) async -> Outcome {
        guard statistics.begin(candidate.name) else {
            return .failed(BackendError(kind: .overloaded, backend: candidate.name, detail: "cooling down"), call: index)
        }
        let start = time.now()
        // However the call ends but answering, its text is no longer the stream's.
        var answered = false
        defer { if !answered, let (voice, id) = voice { voice.failed(id) } }
        do {
            let response: ChatResponse
            if let (voice, id) = voice {
                response = try await candidate.backend.respond(
                    to: request, onDelta: { voice.delta($0, from: id) }, onRestart: { voice.restart(from: id) })
            } else {
                response = try await candidate.backend.respond(to: request)
            }
            answered = true
            statistics.succeeded(
                candidate.name, latency: time.now() - start, ttft: response.timeToFirstToken, outputTokens: response.usage.outputTokens)
            if let remaining = response.rateLimitRemaining { statistics.rateLimit(candidate.name, remaining: remaining) }
            return .answered(response, call: index)
        } catch let error as BackendError {
            if error.kind == .cancelled || Task.isCancelled {
                statistics.abandoned(candidate.name)
            } else {
                statistics.failed(candidate.name, error: error)
            }
            return .failed(error, call: index)
        } catch {
            statistics.abandoned(candidate.name)
            if Task.isCancelled || error is CancellationError {
                return .failed(BackendError.cancelled(backend: candidate.name), call: index)
            }
            return .local(error)
        }
    }
}

/// The one stream a routed call gives, whatever number of backend calls (failover, hedges) stand behind
/// it: the first call to stream text speaks; another's text is kept until it speaks — when the speaker
/// fails (its text abandoned with `.restarted`, then the next one's text so far) or when it wins.
final class StreamVoice: Sendable {
    struct State {
        var speaker: Int?
        /// Whether the speaker's text has been sent since the last restart.
        var spoke = false
        /// Each call's text since its own last restart.
        var texts: [Int: String] = [:]
        var nextID = 0
        var done = false
    }

    let state = Mutex(State())
    let yield: @Sendable (ChatStreamEvent) -> Void

    init(_ yield: @escaping @Sendable (ChatStreamEvent) -> Void) { self.yield = yield }

    func newCall() -> Int {
        state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    func delta(_ text: String, from id: Int) {
        state.withLock { state in
            guard !state.done else { return }
            state.texts[id, default: ""] += text
            if state.speaker == nil { state.speaker = id }
            if state.speaker == id {
                state.spoke = true
                yield(.delta(text))
            }
        }
    }

    func restart(from id: Int) {
        state.withLock { state in
            guard !state.done else { return }
            state.texts[id] = ""
            if state.speaker == id, state.spoke {
                state.spoke = false
                yield(.restarted)
            }
        }
    }

    /// The call ended without answering: if it was speaking, its text is abandoned and another call
    /// that has streamed text takes over.
    func failed(_ id: Int) {
        state.withLock { state in
            state.texts[id] = nil
            guard !state.done, state.speaker == id else { return }
            if state.spoke { yield(.restarted) }
            state.speaker = nil
            state.spoke = false
            if let (next, text) = state.texts.first(where: { !$0.value.isEmpty }) {
                state.speaker = next
                state.spoke = true
                yield(.delta(text))
            }
        }
    }

    /// The call answered: unless it was the one speaking, what was shown is replaced by its text.
    func won(_ id: Int, text: String) {
        state.withLock { state in
            guard !state.done else { return }
            state.done = true
            guard state.speaker != id else { return }
            if state.spoke { yield(.restarted) }
            if !text.isEmpty { yield(.delta(text)) }
        }
    }
}
