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

    private struct State {
        var random: SeededRandom
        var routedCalls = 0
        var hedgedCalls = 0
        /// Review (listing) → persona → family, for diversity.
        var families: [String: [String: String]] = [:]
    }

    private let state: Mutex<State>

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
        self.profiles = candidates.map(RoutingPolicy.Profile.init)
        self.summaries = personaConstraints.mapValues(\.summary)
        self.defaultSummary = constraints.summary
    }

    /// Hedged calls so far over routed calls.
    public var hedgeShare: (hedged: Int, routed: Int) { state.withLock { ($0.hedgedCalls, $0.routedCalls) } }

    /// "builder · Acme" → ("builder", "Acme").
    func parts(of request: ChatRequest) -> (persona: String, group: String) {
        let label = request.label
        guard let dot = label.firstIndex(of: "·") else { return (label, "") }
        let persona = label[..<dot].trimmingCharacters(in: .whitespaces)
        let group = label[label.index(after: dot)...].trimmingCharacters(in: .whitespaces)
        return (persona, group)
    }

    /// The decision for a request, without calling anything (`panel route --explain`).
    public func decide(_ request: ChatRequest) -> RoutingDecision {
        let (persona, group) = parts(of: request)
        let constraints = personaConstraints[persona] ?? self.constraints
        let (random, families) = state.withLock { state -> (Double, Set<String>) in
            let used = Set((state.families[group] ?? [:]).filter { $0.key != persona }.values)
            return (state.random.next(), used)
        }
        let decision = RoutingPolicy.decide(
            request, candidates: candidates, profiles: profiles, constraints: constraints, statistics: statistics, familiesInUse: families,
            random: random, summary: summaries[persona] ?? defaultSummary)
        if constraints.diverseFamilies, let pick = decision.ranked.first, !group.isEmpty {
            state.withLock { $0.families[group, default: [:]][persona] = pick.family }
        }
        return decision
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let constraints = personaConstraints[parts(of: request).persona] ?? self.constraints
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
        var lastError: BackendError?
        var remaining = decision.ranked
        while !remaining.isEmpty {
            let primary = remaining.removeFirst()
            let hedge = hedgePlan(primary: primary, next: remaining.first, constraints: constraints, request: request)
            do {
                var (response, attempts) = try await attempt(request, primary: primary, hedge: hedge)
                trace.attempts += attempts
                if response.backend != primary.name { remaining.removeAll { $0.name == response.backend } }
                response.routing = trace
                return response
            } catch let failure as AttemptFailure {
                trace.attempts += failure.attempts
                lastError = failure.error
                if failure.error.kind == .cancelled { throw failure.error }
                if let hedged = hedge?.backend { remaining.removeAll { $0.name == hedged.name } }
            }
        }
        var error = lastError ?? BackendError(kind: .unsupported, backend: name, detail: "no backend answered")
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
        var after: Duration
    }

    /// Whether to hedge this call, on what and after how long: only within the extra-call budget
    /// and the per-call cost cap, and only when the chosen backend's latency is known.
    func hedgePlan(primary: RouteCandidate, next: RouteCandidate?, constraints: RoutingConstraints, request: ChatRequest) -> HedgePlan? {
        guard let policy = constraints.hedge, let next else { return nil }
        let after: Duration
        switch policy.trigger {
        case .after(let delay): after = delay
        case .p90:
            let stats = statistics.snapshot(primary.name)
            guard let p90 = stats.samples >= 3 ? stats.p90MS : primary.configuration.declaredLatencyMS else { return nil }
            after = .milliseconds(p90)
        }
        if let cap = constraints.maxCostUSD {
            let both = [primary, next].compactMap {
                RoutingPolicy.estimatedCost(
                    request, price: $0.configuration.price, meanOutputTokens: statistics.snapshot($0.name).meanOutputTokens)
            }
            guard both.count == 2, both.reduce(0, +) <= cap else { return nil }
        }
        return HedgePlan(backend: next, after: after)
    }

    enum Outcome: Sendable {
        case answered(ChatResponse, backend: String, hedge: Bool)
        case failed(BackendError, backend: String, hedge: Bool)
        case hedgeTime
    }

    /// Calls `primary`; with a hedge plan, starts the same call on the hedge backend when the primary
    /// has not answered in time, takes whichever answers first and cancels the other.
    func attempt(_ request: ChatRequest, primary: RouteCandidate, hedge: HedgePlan?) async throws -> (ChatResponse, [RoutingTrace.Attempt])
    {
        var attempts: [RoutingTrace.Attempt] = []
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask { await self.call(primary, request, hedge: false) }
            if let hedge {
                group.addTask {
                    try await self.time.sleep(hedge.after); return .hedgeTime
                }
            }
            var running = 1
            var lastError: BackendError?
            while let outcome = try await group.next() {
                switch outcome {
                case .hedgeTime:
                    guard let hedge, running == 1, reserveHedge() else { continue }
                    running += 1
                    group.addTask { await self.call(hedge.backend, request, hedge: true) }
                case .answered(let response, let backend, let hedged):
                    attempts.append(RoutingTrace.Attempt(backend: backend, outcome: "answered", hedge: hedged))
                    running -= 1
                    if running > 0 {
                        let loser = hedged ? primary.name : (hedge?.backend.name ?? "")
                        attempts.append(RoutingTrace.Attempt(backend: loser, outcome: "cancelled", hedge: !hedged))
                    }
                    group.cancelAll()
                    return (response, attempts)
                case .failed(let error, let backend, let hedged):
                    attempts.append(
                        RoutingTrace.Attempt(
                            backend: backend, outcome: "failed", errorClass: error.kind.rawValue,
                            retryAfterMS: error.retryAfter?.milliseconds,
                            hedge: hedged))
                    lastError = error
                    running -= 1
                    if running == 0 {
                        group.cancelAll()
                        throw AttemptFailure(error: error, attempts: attempts)
                    }
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

    /// One call to one backend, with statistics and health kept.
    func call(_ candidate: RouteCandidate, _ request: ChatRequest, hedge: Bool) async -> Outcome {
        guard statistics.begin(candidate.name) else {
            return .failed(
                BackendError(kind: .overloaded, backend: candidate.name, detail: "cooling down"), backend: candidate.name, hedge: hedge)
        }
        let start = time.now()
        do {
            let response = try await candidate.backend.respond(to: request)
            statistics.succeeded(
                candidate.name, latency: time.now() - start, ttft: response.timeToFirstToken, outputTokens: response.usage.outputTokens)
            if let remaining = response.rateLimitRemaining { statistics.rateLimit(candidate.name, remaining: remaining) }
            return .answered(response, backend: candidate.name, hedge: hedge)
        } catch let error as BackendError {
            if error.kind == .cancelled || Task.isCancelled {
                statistics.abandoned(candidate.name)
            } else {
                statistics.failed(candidate.name, error: error)
            }
            return .failed(error, backend: candidate.name, hedge: hedge)
        } catch {
            statistics.abandoned(candidate.name)
            return .failed(BackendError.cancelled(backend: candidate.name), backend: candidate.name, hedge: hedge)
        }
    }
}
