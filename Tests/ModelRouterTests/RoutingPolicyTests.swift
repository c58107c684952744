import MockProvider
import ModelBackends
import Testing

@testable import ModelRouter

@Suite(.timeLimit(.minutes(5)))
struct RoutingPolicyTests {
    func decide(
        _ candidates: [RouteCandidate], _ constraints: RoutingConstraints, stats: BackendStatistics? = nil, random: Double = 0.99
    )
        -> RoutingDecision
    {
        RoutingPolicy.decide(
            routedRequest, candidates: candidates, constraints: constraints,
            statistics: stats ?? BackendStatistics(time: ManualTime().routerTime),
            random: random)
    }

    func excluded(_ decision: RoutingDecision) -> [String: String] {
        Dictionary(uniqueKeysWithValues: decision.trace.candidates.compactMap { c in c.excludedBy.map { (c.backend, $0) } })
    }

    @Test func eachFilterRemovesItsCandidateAndSaysWhy() {
        let time = ManualTime()
        let stats = BackendStatistics(time: time.routerTime)
        stats.failed("cooling", error: BackendError(kind: .rateLimited, backend: "cooling", detail: "x", retryAfter: .seconds(5)))
        for _ in 0..<2 { _ = stats.begin("busy") }
        let candidates = [
            candidate(ScriptedRouteBackend("plain"), structured: .none),
            candidate(ScriptedRouteBackend("weak"), quality: 1),
            candidate(ScriptedRouteBackend("remote")),
            candidate(ScriptedRouteBackend("pricey"), price: (100, 100), local: true),
            candidate(ScriptedRouteBackend("unpriced"), price: nil, local: true),
            candidate(ScriptedRouteBackend("slow"), local: true, latencyMS: 9000),
            candidate(ScriptedRouteBackend("cooling"), local: true),
            candidate(ScriptedRouteBackend("busy"), local: true, maxConcurrency: 2),
            candidate(ScriptedRouteBackend("good"), local: true),
        ]
        let decision = decide(
            candidates,
            RoutingConstraints(
                objective: .cheapest, maxCostUSD: 0.01, maxLatencyMS: 4000, minQuality: 2, require: [.jsonSchema], localOnly: true),
            stats: stats)
        #expect(
            excluded(decision) == [
                "plain": "capability", "weak": "quality", "remote": "local-only", "pricey": "cost cap", "unpriced": "cost cap",
                "slow": "latency cap", "cooling": "cooling down", "busy": "at capacity",
            ])
        #expect(decision.trace.pick == "good")
        #expect(decision.ranked.map(\.name) == ["good"])
    }

    @Test func objectives() {
        let candidates = [
            candidate(ScriptedRouteBackend("cheap-slow"), price: (0.1, 0.1), quality: 2, latencyMS: 3000),
            candidate(ScriptedRouteBackend("fast"), price: (5, 5), quality: 3, latencyMS: 300),
            candidate(ScriptedRouteBackend("smart"), price: (10, 30), quality: 5, latencyMS: 1500),
        ]
        #expect(decide(candidates, RoutingConstraints(objective: .cheapest)).trace.pick == "cheap-slow")
        #expect(decide(candidates, RoutingConstraints(objective: .fastest)).trace.pick == "fast")
        #expect(decide(candidates, RoutingConstraints(objective: .best)).trace.pick == "smart")
        #expect(decide(candidates, RoutingConstraints(objective: .balanced(cost: 0, latency: 1, quality: 0))).trace.pick == "fast")
        #expect(decide(candidates, RoutingConstraints(objective: .balanced(cost: 0, latency: 0, quality: 1))).trace.pick == "smart")
    }

    @Test func freeMeansFreeAndTiesAreBrokenVisiblyByName() {
        let candidates = [candidate(ScriptedRouteBackend("zeta"), price: (0, 0)), candidate(ScriptedRouteBackend("alpha"), price: (0, 0))]
        let decision = decide(candidates, RoutingConstraints(objective: .cheapest, maxCostUSD: 0))
        #expect(decision.ranked.map(\.name) == ["alpha", "zeta"])
        #expect(decision.trace.rule.contains("tie"))
        #expect(decision.trace.candidates.first { $0.backend == "alpha" }?.estimatedCostUSD == 0)
    }

    @Test func observedP90ReplacesDeclaredLatency() {
        let stats = BackendStatistics(time: ManualTime().routerTime)
        stats.record("declared-fast", latenciesMS: [5000, 5200, 5100, 4900])
        let candidates = [
            candidate(ScriptedRouteBackend("declared-fast"), latencyMS: 100), candidate(ScriptedRouteBackend("other"), latencyMS: 800),
        ]
        let decision = decide(candidates, RoutingConstraints(objective: .fastest), stats: stats)
        #expect(decision.trace.pick == "other")
        #expect(decision.trace.candidates.first { $0.backend == "declared-fast" }?.p90MS == 5200)
    }

    @Test func coldBackendsGetABoundedExplorationShare() {
        let stats = BackendStatistics(time: ManualTime().routerTime)
        stats.record("known", latenciesMS: [100, 100, 100])
        let candidates = [
            candidate(ScriptedRouteBackend("known"), price: (0.1, 0.1)), candidate(ScriptedRouteBackend("cold"), price: (1, 1)),
        ]
        let constraints = RoutingConstraints(objective: .cheapest, explorationShare: 0.1)
        #expect(decide(candidates, constraints, stats: stats, random: 0.5).trace.pick == "known")
        let exploring = decide(candidates, constraints, stats: stats, random: 0.05)
        #expect(exploring.trace.pick == "cold")
        #expect(exploring.trace.rule.hasPrefix("exploration"))
    }

    @Test func noQualifyingBackendSaysSo() {
        let decision = decide([candidate(ScriptedRouteBackend("a"), quality: 1)], RoutingConstraints(minQuality: 4))
        #expect(decision.ranked.isEmpty && !decision.allCoolingDown)
        #expect(decision.trace.rule == "no backend meets the constraints")
    }

    @Test func statisticsHaveNoNaNPaths() {
        let stats = BackendStatistics(time: ManualTime().routerTime)
        let empty = stats.snapshot("nothing")
        #expect(empty.p90MS == nil && empty.errorRate == 0 && empty.samples == 0)
        stats.record("one", latenciesMS: [42])
        #expect(stats.snapshot("one").p99MS == 42)
    }

    @Test func staleSamplesLeaveTheWindow() {
        let time = ManualTime()
        let stats = BackendStatistics(time: time.routerTime, window: .seconds(60))
        stats.record("b", latenciesMS: [900, 900, 900])
        time.advance(.seconds(61))
        stats.record("b", latenciesMS: [100, 100, 100])
        #expect(stats.snapshot("b").p90MS == 100)
        #expect(stats.snapshot("b").samples == 3)
    }
}

@Suite(.timeLimit(.minutes(5)))
struct BackendHealthTests {
    @Test func cooldownHalfOpenProbeAndRecovery() {
        let time = ManualTime()
        let stats = BackendStatistics(time: time.routerTime, baseCooldown: .seconds(2))
        #expect(stats.begin("b"))
        stats.failed("b", error: BackendError(kind: .rateLimited, backend: "b", detail: "x", retryAfter: .seconds(5)))
        #expect(stats.snapshot("b").health == .coolingDown(until: .seconds(5)))  // Retry-After beats the 2 s base
        #expect(!stats.begin("b"))
        time.advance(.seconds(5))
        #expect(stats.snapshot("b").health == .halfOpen)
        #expect(stats.begin("b"))  // the probe
        #expect(!stats.begin("b"))  // only one
        stats.succeeded("b", latency: .milliseconds(200), ttft: nil, outputTokens: 10)
        #expect(stats.snapshot("b").health == .healthy)
    }

    @Test func aFailedProbeCoolsLongerAndReCoolingExtends() {
        let time = ManualTime()
        let stats = BackendStatistics(time: time.routerTime, baseCooldown: .seconds(2))
        stats.failed("b", error: BackendError(kind: .server, backend: "b", detail: "x"))
        #expect(stats.snapshot("b").health == .coolingDown(until: .seconds(2)))
        time.advance(.seconds(2))
        #expect(stats.begin("b"))
        stats.failed("b", error: BackendError(kind: .timeout, backend: "b", detail: "x"))
        #expect(stats.snapshot("b").health == .coolingDown(until: .seconds(6)))  // second failure: 4 s
        stats.failed("b", error: BackendError(kind: .overloaded, backend: "b", detail: "x", retryAfter: .seconds(30)))
        #expect(stats.snapshot("b").health == .coolingDown(until: .seconds(32)))  // extended, never shortened
    }

    @Test func clientErrorsFiltersAndCancellationNeverCoolDown() {
        let stats = BackendStatistics(time: ManualTime().routerTime)
        for kind in [BackendError.Kind.badRequest, .authentication, .contentFiltered, .cancelled, .permission] {
            stats.failed("b", error: BackendError(kind: kind, backend: "b", detail: "x"))
        }
        #expect(stats.snapshot("b").health == .healthy)
    }
}

@Suite(.timeLimit(.minutes(5)))
struct RateLimitHeadroomTests {
    @Test func exhaustedHeadroomExcludesUntilItIsStale() {
        let time = ManualTime()
        let stats = BackendStatistics(time: time.routerTime)
        stats.rateLimit("limited", remaining: 0)
        let candidates = [
            candidate(ScriptedRouteBackend("limited"), price: (0.1, 0.1)), candidate(ScriptedRouteBackend("other"), price: (1, 1)),
        ]
        let constraints = RoutingConstraints(objective: .cheapest, explorationShare: 0)
        let decision = RoutingPolicy.decide(routedRequest, candidates: candidates, constraints: constraints, statistics: stats, random: 1)
        #expect(decision.trace.pick == "other")
        #expect(decision.trace.candidates.first { $0.backend == "limited" }?.excludedBy == "rate limit")
        time.advance(.seconds(61))
        #expect(
            RoutingPolicy.decide(routedRequest, candidates: candidates, constraints: constraints, statistics: stats, random: 1).trace.pick
                == "limited")
    }

    @Test func theAdapterReadsTheHeader() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rateLimitRemaining = 42
        try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(.init(name: "m", baseURL: handle.baseURL, model: "m"))
            let response = try await backend.complete(routedRequest)
            #expect(response.rateLimitRemaining == 42)
        }
    }
}
