import Foundation
public import ModelBackends

/// A routing decision: the qualifying candidates best first, and the trace that explains it.
public struct RoutingDecision: Sendable {
    public var ranked: [RouteCandidate]
    public var trace: RoutingTrace
    /// True when every candidate that passes the static filters is cooling down.
    public var allCoolingDown: Bool
    /// The earliest time a cooling candidate recovers.
    public var earliestRecovery: Duration?
}

/// Ranks candidates for one call: filters (capability, quality, local-only, cost cap, latency cap,
/// cooling down, at capacity), then the objective, with deterministic, visible tie-breaks.
/// A pure function of its inputs: the same statistics and random draw give the same decision.
public enum RoutingPolicy {
    /// Estimated cost of a call: prompt tokens (4 characters a token) × input price + expected
    /// output tokens (the backend's observed mean, else 60% of the cap) × output price.
    public static func estimatedCost(_ request: ChatRequest, price: Price?, meanOutputTokens: Double?) -> Double? {
        guard let price else { return nil }
        let input = Double(request.messages.reduce(0) { $0 + $1.content.utf8.count }) / 4
        let output = meanOutputTokens ?? Double(request.maxOutputTokens ?? 500) * 0.6
        return (input * price.inputPerMTok + output * price.outputPerMTok) / 1_000_000
    }

    public static func decide(
        _ request: ChatRequest,
        candidates: [RouteCandidate],
        constraints: RoutingConstraints,
        statistics: BackendStatistics,
        familiesInUse: Set<String> = [],
        random: Double
    ) -> RoutingDecision {
        struct Scored {
            var candidate: RouteCandidate
            var cost: Double?
            var p90: Int?
            var quality: Int
            var cold: Bool
        }
        var entries: [RoutingTrace.Candidate] = []
        var qualifying: [Scored] = []
        var cooling: [Scored] = []
        var atCapacity: [Scored] = []
        var earliestRecovery: Duration?

        for candidate in candidates {
            let config = candidate.configuration
            let stats = statistics.snapshot(candidate.name)
            let cost = estimatedCost(request, price: config.price, meanOutputTokens: stats.meanOutputTokens)
            let p90 = stats.samples >= 3 ? stats.p90MS : config.declaredLatencyMS
            let quality = config.quality ?? 3
            var entry = RoutingTrace.Candidate(
                backend: candidate.name, estimatedCostUSD: cost.map { ($0 * 1e8).rounded() / 1e8 }, p90MS: p90, quality: quality,
                family: candidate.family)
            func exclude(_ filter: String, _ detail: String) {
                entry.excludedBy = filter
                entry.detail = detail
            }
            let missing = constraints.require.subtracting(candidate.capabilities)
            if !missing.isEmpty {
                exclude("capability", "lacks \(missing.map(\.rawValue).sorted().joined(separator: ", "))")
            } else if let min = constraints.minQuality, quality < min {
                exclude("quality", "quality \(quality) < \(min)")
            } else if constraints.localOnly && !config.isLocal {
                exclude("local-only", "not a local backend")
            } else if let cap = constraints.maxCostUSD, cost == nil {
                exclude("cost cap", "price unknown, cap $\(cap)")
            } else if let cap = constraints.maxCostUSD, let cost, cost > cap {
                exclude("cost cap", "estimated $\(String(format: "%.6f", cost)) > $\(cap)")
            } else if let cap = constraints.maxLatencyMS, let p90, p90 > cap {
                exclude("latency cap", "p90 \(p90) ms > \(cap) ms")
            } else {
                let scored = Scored(candidate: candidate, cost: cost, p90: p90, quality: quality, cold: stats.samples == 0)
                switch stats.health {
                case .coolingDown(let until):
                    exclude("cooling down", "until t+\(until.milliseconds) ms")
                    earliestRecovery = min(earliestRecovery ?? until, until)
                    cooling.append(scored)
                case .probing:
                    exclude("cooling down", "a probe call is deciding")
                    cooling.append(scored)
                case .healthy, .halfOpen:
                    if stats.inFlight >= config.maxConcurrency {
                        exclude("at capacity", "\(stats.inFlight) in flight of \(config.maxConcurrency)")
                        atCapacity.append(scored)
                    } else {
                        qualifying.append(scored)
                    }
                }
            }
            entries.append(entry)
        }

        // Everything qualifying is busy: queue on the least loaded rather than fail.
        var rule = ""
        if qualifying.isEmpty && !atCapacity.isEmpty {
            qualifying = atCapacity
            rule = "all qualifying backends at capacity; queued on the best of them. "
        }

        func key(_ s: Scored) -> [Double] {
            let cost = s.cost ?? .infinity
            let latency = Double(s.p90 ?? Int.max / 2)
            switch constraints.objective {
            case .cheapest: return [cost, latency, -Double(s.quality)]
            case .fastest: return [latency, cost, -Double(s.quality)]
            case .best: return [-Double(s.quality), cost, latency]
            case .balanced(let wc, let wl, let wq):
                let maxCost = qualifying.compactMap(\.cost).max().map { $0 > 0 ? $0 : 1 } ?? 1
                let maxLatency = Double(qualifying.compactMap(\.p90).max().map { $0 > 0 ? $0 : 1 } ?? 1)
                let normalizedCost = s.cost.map { $0 / maxCost } ?? 1
                let normalizedLatency = s.p90.map { Double($0) / maxLatency } ?? 1
                return [wc * normalizedCost + wl * normalizedLatency - wq * Double(s.quality) / 5, cost, latency]
            }
        }
        var ranked = qualifying.sorted { a, b in
            let (ka, kb) = (key(a), key(b))
            if ka != kb { return ka.lexicographicallyPrecedes(kb) }
            return a.candidate.name < b.candidate.name  // ties: by name, stated in the rule
        }
        if let first = ranked.first, ranked.count > 1, key(first) == key(ranked[1]) {
            rule += "tie on \(constraints.objective.name) broken by name; "
        }
        rule += ranked.isEmpty ? "" : "best by \(constraints.objective.name)"

        // Bounded exploration: a backend with no observations gets a share of calls.
        let cold = ranked.filter(\.cold)
        if !cold.isEmpty, cold.count < ranked.count, random < constraints.explorationShare, let pick = cold.first,
            let index = ranked.firstIndex(where: { $0.candidate.name == pick.candidate.name })
        {
            ranked.insert(ranked.remove(at: index), at: 0)
            rule = "exploration: \(pick.candidate.name) has no observations yet (\(Int(constraints.explorationShare * 100))% of calls)"
        }

        // Diversity: families this review has not heard from come first.
        if constraints.diverseFamilies, !familiesInUse.isEmpty {
            let fresh = ranked.filter { !familiesInUse.contains($0.candidate.family) }
            if !fresh.isEmpty, fresh.first?.candidate.name != ranked.first?.candidate.name {
                ranked = fresh + ranked.filter { familiesInUse.contains($0.candidate.family) }
                rule += "; diversity: family \(ranked[0].candidate.family) not yet on this panel"
            }
        }

        for (index, scored) in ranked.enumerated() {
            if let entry = entries.firstIndex(where: { $0.backend == scored.candidate.name }) {
                entries[entry].rank = index + 1
                if entries[entry].excludedBy == "at capacity" { entries[entry].excludedBy = nil }
            }
        }
        if ranked.isEmpty {
            rule = cooling.isEmpty ? "no backend meets the constraints" : "every qualifying backend is cooling down"
        }
        return RoutingDecision(
            ranked: ranked.map(\.candidate),
            trace: RoutingTrace(constraints: constraints.summary, candidates: entries, pick: ranked.first?.candidate.name, rule: rule),
            allCoolingDown: ranked.isEmpty && !cooling.isEmpty, earliestRecovery: earliestRecovery)
    }
}
