import ModelBackends
import Testing

@testable import ModelRouter

struct ModelRouterTests {
    @Test func fallsBackInRankOrderAndTracesEveryAttempt() async throws {
        let time = ManualTime()
        let cheap = ScriptedRouteBackend("cheap", .fail(.server))
        let middle = ScriptedRouteBackend("middle", .fail(.overloaded, retryAfter: .seconds(9)))
        let dear = ScriptedRouteBackend("dear")
        let router = ModelRouter(
            candidates: [candidate(dear, price: (9, 9)), candidate(cheap, price: (0.1, 0.1)), candidate(middle, price: (1, 1))],
            constraints: RoutingConstraints(objective: .cheapest, explorationShare: 0), time: time.routerTime)
        let response = try await router.complete(routedRequest)
        #expect(response.backend == "dear")
        let trace = try #require(response.routing)
        #expect(trace.pick == "cheap")
        #expect(trace.attempts.map(\.backend) == ["cheap", "middle", "dear"])
        #expect(trace.attempts.map(\.outcome) == ["failed", "failed", "answered"])
        #expect(trace.attempts[1].retryAfterMS == 9000)
        // Both failures cooled their backends: the next call goes straight to the one that works.
        let next = try await router.complete(routedRequest)
        #expect(next.routing?.pick == "dear")
        #expect(cheap.callCount == 1 && middle.callCount == 1)
    }

    @Test func waitsForTheEarliestRecoveryWhenEverythingIsCooling() async throws {
        let time = ManualTime()
        let only = ScriptedRouteBackend("only")
        let router = ModelRouter(candidates: [candidate(only)], constraints: RoutingConstraints(explorationShare: 0), time: time.routerTime)
        router.statistics.failed("only", error: BackendError(kind: .rateLimited, backend: "only", detail: "x", retryAfter: .seconds(7)))
        let response = try await router.complete(routedRequest)
        #expect(response.backend == "only")
        #expect(time.now >= .seconds(7))
    }

    @Test func givesUpWaitingAfterTheBound() async throws {
        let time = ManualTime()
        let router = ModelRouter(
            candidates: [candidate(ScriptedRouteBackend("only"))], constraints: RoutingConstraints(maxRecoveryWait: .seconds(3)),
            time: time.routerTime)
        router.statistics.failed("only", error: BackendError(kind: .rateLimited, backend: "only", detail: "x", retryAfter: .seconds(60)))
        let error = try await #require(throws: BackendError.self) { try await router.complete(routedRequest) }
        #expect(error.detail.contains("cooling down"))
        #expect(time.now <= .seconds(4))
    }

    @Test func hedgeTakesTheWinnerAndCancelsTheLoser() async throws {
        let time = ManualTime()
        let slow = ScriptedRouteBackend("slow", .hang)
        let backup = ScriptedRouteBackend("backup")
        let router = ModelRouter(
            candidates: [candidate(slow, price: (0.1, 0.1)), candidate(backup, price: (1, 1))],
            constraints: RoutingConstraints(
                objective: .cheapest, hedge: .init(trigger: .after(.milliseconds(800)), maxExtraShare: 1), explorationShare: 0),
            time: time.routerTime)
        let response = try await router.complete(routedRequest)
        #expect(response.backend == "backup")
        let attempts = try #require(response.routing?.attempts)
        #expect(attempts.contains { $0.backend == "backup" && $0.outcome == "answered" && $0.hedge })
        #expect(attempts.contains { $0.backend == "slow" && $0.outcome == "cancelled" })
        for _ in 0..<100 where slow.cancelCount == 0 { await Task.yield() }
        #expect(slow.cancelCount == 1)
        #expect(router.statistics.snapshot("slow").inFlight == 0)
    }

    /// A hedge that is late too gets a further hedge: here the third backend, once the first hedge has
    /// run past its own delay; the two slow calls are cancelled.
    @Test func aLateHedgeIsHedgedAgain() async throws {
        let time = ManualTime()
        let slow = ScriptedRouteBackend("slow", .hang)
        let slower = ScriptedRouteBackend("slower", .hang)
        let backup = ScriptedRouteBackend("backup")
        let router = ModelRouter(
            candidates: [candidate(slow, price: (0.1, 0.1)), candidate(slower, price: (0.5, 0.5)), candidate(backup, price: (1, 1))],
            constraints: RoutingConstraints(
                objective: .cheapest, hedge: .init(trigger: .after(.milliseconds(500)), maxExtraShare: 2), explorationShare: 0),
            time: time.routerTime)
        let response = try await router.complete(routedRequest)
        #expect(response.backend == "backup")
        let attempts = try #require(response.routing?.attempts)
        #expect(attempts.map(\.backend) == ["backup", "slow", "slower"])
        #expect(attempts.map(\.outcome) == ["answered", "cancelled", "cancelled"])
        #expect(router.hedgeShare.hedged == 2)
        // With only two backends, the further hedge asks the first one again.
        let again = ScriptedRouteBackend("again", .hang)
        let fast = ScriptedRouteBackend("fast", .hang)
        let pair = ModelRouter(
            candidates: [candidate(again, price: (0.1, 0.1)), candidate(fast, price: (1, 1))],
            constraints: RoutingConstraints(
                objective: .cheapest, hedge: .init(trigger: .after(.milliseconds(500)), maxExtraShare: 2), explorationShare: 0),
            time: time.routerTime)
        let plan = pair.hedgePlan(
            primary: pair.candidates[0], next: [pair.candidates[1]], constraints: pair.constraints, request: routedRequest)
        #expect(plan.map(\.backend.name) == ["fast", "again"])
    }

    @Test func hedgesStayWithinTheirBudget() async throws {
        let time = ManualTime()
        let slow = ScriptedRouteBackend("slow", .hang)
        let backup = ScriptedRouteBackend("backup")
        let router = ModelRouter(
            candidates: [candidate(slow, price: (0.1, 0.1), maxConcurrency: 100), candidate(backup, price: (1, 1))],
            constraints: RoutingConstraints(
                objective: .cheapest, hedge: .init(trigger: .after(.milliseconds(10)), maxExtraShare: 0.25), explorationShare: 0),
            time: time.routerTime)
        // The first call may hedge (1 ≤ 0.25 × 4 is false for calls 1–3, so it waits for call 4).
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                var request = routedRequest
                request.label = "builder · tool \(index)"
                request.context = RoutingContext(persona: "builder", panel: PanelScope())
                let call = request
                group.addTask { _ = try? await router.complete(call) }
                await Task.yield()
            }
            // Calls that cannot hedge hang on "slow": end them.
            for _ in 0..<200 { await Task.yield() }
            group.cancelAll()
        }
        let (hedged, routed) = router.hedgeShare
        #expect(routed == 8)
        #expect(hedged >= 1)
        #expect(Double(hedged) <= 0.25 * Double(routed))
    }

    @Test func hedgeRespectsTheCostCap() {
        let router = ModelRouter(
            candidates: [candidate(ScriptedRouteBackend("a"), price: (1, 1)), candidate(ScriptedRouteBackend("b"), price: (1, 1))],
            constraints: RoutingConstraints(maxCostUSD: 0.0015, hedge: .init(trigger: .after(.seconds(1)))), time: ManualTime().routerTime)
        let plan = router.hedgePlan(
            primary: router.candidates[0], next: [router.candidates[1]], constraints: router.constraints, request: routedRequest)
        #expect(plan.isEmpty)  // each call fits the cap (~$0.0013) but the two together do not
    }

    @Test func sameSeedAndStatisticsGiveTheSameDecisions() {
        func picks() -> [String] {
            let router = ModelRouter(
                candidates: (0..<6).map { candidate(ScriptedRouteBackend("b\($0)"), price: (Double($0), 1)) },
                constraints: RoutingConstraints(objective: .cheapest, explorationShare: 0.5), time: ManualTime().routerTime, seed: 42)
            router.statistics.record("b0", latenciesMS: [100, 100, 100])
            return (0..<50).map { index in
                var request = routedRequest
                request.label = "builder · \(index)"
                return router.decide(request).trace.pick ?? "-"
            }
        }
        let first = picks()
        #expect(first == picks())
        #expect(Set(first).count > 1)  // exploration did happen
    }

    @Test func personasOfOneReviewSpreadOverFamilies() {
        let router = ModelRouter(
            candidates: [
                candidate(ScriptedRouteBackend("gpt"), price: (0.1, 0.1), family: "openai"),
                candidate(ScriptedRouteBackend("gpt-2"), price: (0.2, 0.2), family: "openai"),
                candidate(ScriptedRouteBackend("claude"), price: (1, 1), family: "anthropic"),
                candidate(ScriptedRouteBackend("mistral"), price: (0.5, 0.5), family: "mistral"),
            ],
            constraints: RoutingConstraints(objective: .cheapest, diverseFamilies: true, explorationShare: 0), time: ManualTime().routerTime
        )
        let acme = PanelScope()
        let families = ["builder", "skeptic", "founder", "futurist"].map { persona -> String in
            var request = routedRequest
            request.label = "\(persona) · Acme"
            request.context = RoutingContext(persona: persona, panel: acme)
            return router.decide(request).ranked.first?.family ?? "-"
        }
        #expect(Set(families.prefix(3)) == ["openai", "anthropic", "mistral"])
        // Another panel starts afresh — even for a listing of the same name: diversity follows the typed
        // panel, not the label.
        var other = routedRequest
        other.label = "builder · Acme"
        other.context = RoutingContext(persona: "builder", panel: PanelScope())
        #expect(router.decide(other).trace.pick == "gpt")
        // Without a panel there is no diversity memory to grow.
        var loose = routedRequest
        loose.context = RoutingContext(persona: "skeptic")
        #expect(router.decide(loose).trace.pick == "gpt")
    }
}
