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
        estimatedCost(
            inputTokens: inputTokens(request), maxOutputTokens: request.maxOutputTokens, price: price, meanOutputTokens: meanOutputTokens)
    }

    /// The most one call of `request` could cost on any candidate that passes the constraints'
    /// static filters (capability, quality, local-only, cost cap) — what a budget must reserve when the
    /// router, not the caller, picks the backend. Nil when such a candidate has no price (its cost is
    /// unknown, so no ceiling holds); 0 when no candidate qualifies.
    public static func costCeiling(
        _ request: ChatRequest, candidates: [RouteCandidate], constraints: RoutingConstraints, statistics: BackendStatistics
    ) -> Double? {
        let tokens = inputTokens(request)
        var ceiling = 0.0
        for candidate in candidates {
            let profile = Profile(candidate)
            let required = Profile.mask(constraints.require)
            guard required & profile.capabilityMask == required, constraints.minQuality.map({ profile.quality >= $0 }) ?? true,
                !constraints.localOnly || profile.isLocal
            else { continue }
            guard
                let cost = estimatedCost(
                    inputTokens: tokens, maxOutputTokens: request.maxOutputTokens, price: profile.price,
                    meanOutputTokens: statistics.snapshot(profile.name).meanOutputTokens)
            else {
                if constraints.maxCostUSD != nil { continue }  // an unknown price never passes a cost cap
                return nil
            }
            if let cap = constraints.maxCostUSD, cost > cap { continue }
            ceiling = max(ceiling, cost)
        }
        return ceiling
    }

    static func inputTokens(_ request: ChatRequest) -> Double {
        Double(request.estimatedInputTokens)
    }

    static func estimatedCost(inputTokens: Double, maxOutputTokens: Int?, price: Price?, meanOutputTokens: Double?) -> Double? {
        guard let price else { return nil }
        let output = meanOutputTokens ?? Double(maxOutputTokens ?? 500) * 0.6
        return (inputTokens * price.inputPerMTok + output * price.outputPerMTok) / 1_000_000
    }

    /// What the policy reads of a candidate, extracted once (the router keeps these).
    struct Profile: Sendable {
        var name: String
        var family: String
        var capabilities: Set<RoutingConstraints.Capability>
        var capabilityMask: UInt8
        var price: Price?
        var quality: Int
        var isLocal: Bool
        var maxConcurrency: Int
        var declaredLatencyMS: Int?

        init(_ candidate: RouteCandidate) {
            name = candidate.name
            family = candidate.family
            capabilities = candidate.capabilities
            capabilityMask = Self.mask(candidate.capabilities)
            price = candidate.configuration.price
            quality = candidate.configuration.quality ?? 3
            isLocal = candidate.configuration.isLocal
            maxConcurrency = candidate.configuration.maxConcurrency
            declaredLatencyMS = candidate.configuration.declaredLatencyMS
        }

        static func mask(_ capabilities: Set<RoutingConstraints.Capability>) -> UInt8 {
            capabilities.reduce(0) { mask, capability in
                mask | (1 << UInt8(RoutingConstraints.Capability.allCases.firstIndex(of: capability) ?? 0))
            }
        }
    }

    public static func decide(
        _ request: ChatRequest,
        candidates: [RouteCandidate],
        constraints: RoutingConstraints,
        statistics: BackendStatistics,
        familiesInUse: Set<String> = [],
        random: Double
    ) -> RoutingDecision {
        let profiles = candidates.map(Profile.init)
        return decide(
            request, candidates: candidates, profiles: profiles, fixed: FixedFilters(profiles, constraints, statistics: statistics),
            constraints: constraints,
            statistics: statistics, familiesInUse: familiesInUse, random: random)
    }

    /// Why a candidate is excluded: the filter's name and the detail the trace shows.
    struct Exclusion: Sendable {
        var filter: String
        var detail: String
    }

    /// The filters that depend on the candidates and the constraints alone (capability, quality,
    /// local-only), with their trace text: the same for every call under those constraints, so a router
    /// works them out once per set of constraints instead of once per call (they were a third of a
    /// decision's time, in string building).
    struct FixedFilters: Sendable {
        var exclusions: [Exclusion?]
        /// The candidates' slots in `statistics`, in order (their snapshots are read by slot, not by name).
        var slots: [Int]
        /// The objective's name for the trace's rule (a balanced objective's name formats three numbers).
        var objectiveName: String

        init(_ profiles: [Profile], _ constraints: RoutingConstraints, statistics: BackendStatistics) {
            let required = Profile.mask(constraints.require)
            slots = statistics.slots(profiles.map(\.name))
            objectiveName = constraints.objective.name
            exclusions = profiles.map { profile in
                if required & profile.capabilityMask != required {
                    let missing = constraints.require.subtracting(profile.capabilities)
                    return Exclusion(filter: "capability", detail: "lacks \(missing.map(\.rawValue).sorted().joined(separator: ", "))")
                } else if let min = constraints.minQuality, profile.quality < min {
                    return Exclusion(filter: "quality", detail: "quality \(profile.quality) < \(min)")
                } else if constraints.localOnly && !profile.isLocal {
                    return Exclusion(filter: "local-only", detail: "not a local backend")
                }
                return nil
            }
        }
    }

    static func decide(
        _ request: ChatRequest,
        candidates: [RouteCandidate],
        profiles: [Profile],
        fixed: FixedFilters,
        constraints: RoutingConstraints,
        statistics: BackendStatistics,
        familiesInUse: Set<String>,
        random: Double,
        summary: String? = nil
    ) -> RoutingDecision {
        /// Plain values only (no strings): ranking moves these around, and a string in each made every
        /// move a retain and a release.
        struct Scored {
            /// Index into `candidates` and `profiles` (copying candidates around costs more than deciding).
            var index: Int
            var cost: Double?
            var p90: Int?
            var quality: Int
            var cold: Bool
        }
        var entries: [RoutingTrace.Candidate] = []
        entries.reserveCapacity(profiles.count)
        var qualifying: [Scored] = []
        qualifying.reserveCapacity(profiles.count)
        var cooling: [Scored] = []
        var atCapacity: [Scored] = []
        var earliestRecovery: Duration?
        let promptTokens = inputTokens(request)

        let snapshots = statistics.snapshots(slots: fixed.slots)
        // Fields read in place (a profile bound to a name, or from `enumerated()`, was copied: its strings and set).
        for candidateIndex in profiles.indices {
            let stats = snapshots[candidateIndex]
            let cost = estimatedCost(
                inputTokens: promptTokens, maxOutputTokens: request.maxOutputTokens, price: profiles[candidateIndex].price,
                meanOutputTokens: stats.meanOutputTokens)
            let p90 = stats.samples >= 3 ? stats.p90MS : profiles[candidateIndex].declaredLatencyMS
            let quality = profiles[candidateIndex].quality
            // Built in place in the trace (a local copy appended at the end was copied again).
            entries.append(
                RoutingTrace.Candidate(
                    backend: profiles[candidateIndex].name, estimatedCostUSD: cost.map { ($0 * 1e8).rounded() / 1e8 }, p90MS: p90,
                    quality: quality,
                    family: profiles[candidateIndex].family))
            let entryIndex = entries.count - 1
            func exclude(_ filter: String, _ detail: String) {
                entries[entryIndex].excludedBy = filter
                entries[entryIndex].detail = detail
            }
            if let excluded = fixed.exclusions[candidateIndex] {
                exclude(excluded.filter, excluded.detail)
            } else if let cap = constraints.maxCostUSD, cost == nil {
                exclude("cost cap", "price unknown, cap $\(cap)")
            } else if let cap = constraints.maxCostUSD, let cost, cost > cap {
                exclude("cost cap", "estimated $\(String(format: "%.6f", cost)) > $\(cap)")
            } else if let cap = constraints.maxLatencyMS, let p90, p90 > cap {
                exclude("latency cap", "p90 \(p90) ms > \(cap) ms")
            } else {
                let scored = Scored(index: candidateIndex, cost: cost, p90: p90, quality: quality, cold: stats.samples == 0)
                switch stats.health {
                case .coolingDown(let until):
                    exclude("cooling down", "until t+\(until.milliseconds) ms")
                    earliestRecovery = min(earliestRecovery ?? until, until)
                    cooling.append(scored)
                case .probing:
                    exclude("cooling down", "a probe call is deciding")
                    cooling.append(scored)
                case .healthy, .halfOpen:
                    if let remaining = stats.rateLimitRemaining, remaining <= stats.inFlight {
                        exclude("rate limit", "\(remaining) requests left in the provider's window, \(stats.inFlight) in flight")
                        atCapacity.append(scored)
                    } else if stats.inFlight >= profiles[candidateIndex].maxConcurrency {
                        exclude("at capacity", "\(stats.inFlight) in flight of \(profiles[candidateIndex].maxConcurrency)")
                        atCapacity.append(scored)
                    } else {
                        qualifying.append(scored)
                    }
                }
            }
        }

        // Everything qualifying is busy: queue on the least loaded rather than fail.
        var rule = ""
        if qualifying.isEmpty && !atCapacity.isEmpty {
            qualifying = atCapacity
            rule = "all qualifying backends at capacity; queued on the best of them. "
        }

        let maxCost = qualifying.compactMap(\.cost).max().map { $0 > 0 ? $0 : 1 } ?? 1
        let maxLatency = Double(qualifying.compactMap(\.p90).max().map { $0 > 0 ? $0 : 1 } ?? 1)
        func key(_ s: Scored) -> (Double, Double, Double) {
            let cost = s.cost ?? .infinity
            let latency = Double(s.p90 ?? Int.max / 2)
            switch constraints.objective {
            case .cheapest: return (cost, latency, -Double(s.quality))
            case .fastest: return (latency, cost, -Double(s.quality))
            case .best: return (-Double(s.quality), cost, latency)
            case .balanced(let wc, let wl, let wq):
                let normalizedCost = s.cost.map { $0 / maxCost } ?? 1
                let normalizedLatency = s.p90.map { Double($0) / maxLatency } ?? 1
                return (wc * normalizedCost + wl * normalizedLatency - wq * Double(s.quality) / 5, cost, latency)
            }
        }
        // Sorted as small plain values (the key and a position in `qualifying`), compared field by field once.
        var keyed = qualifying.indices.map { (key: key(qualifying[$0]), at: $0) }
        keyed.sort { a, b in
            if a.key.0 != b.key.0 { return a.key.0 < b.key.0 }
            if a.key.1 != b.key.1 { return a.key.1 < b.key.1 }
            if a.key.2 != b.key.2 { return a.key.2 < b.key.2 }
            // ties: by name, stated in the rule
            return profiles[qualifying[a.at].index].name < profiles[qualifying[b.at].index].name
        }
        var ranked = keyed.map { qualifying[$0.at] }
        if keyed.count > 1, keyed[0].key == keyed[1].key {
            rule += "tie on \(fixed.objectiveName) broken by name; "
        }
        rule += ranked.isEmpty ? "" : "best by \(fixed.objectiveName)"

        // Bounded exploration: a backend with no observations gets a share of calls.
        let cold = ranked.filter(\.cold)
        if !cold.isEmpty, cold.count < ranked.count, random < constraints.explorationShare, let pick = cold.first,
            let index = ranked.firstIndex(where: { $0.index == pick.index })
        {
            ranked.insert(ranked.remove(at: index), at: 0)
            rule =
                "exploration: \(profiles[pick.index].name) has no observations yet (\(Int(constraints.explorationShare * 100))% of calls)"
        }

        // Diversity: families this review has not heard from come first.
        if constraints.diverseFamilies, !familiesInUse.isEmpty {
            let fresh = ranked.filter { !familiesInUse.contains(profiles[$0.index].family) }
            if !fresh.isEmpty, fresh.first?.index != ranked.first?.index {
                ranked = fresh + ranked.filter { familiesInUse.contains(profiles[$0.index].family) }
                rule += "; diversity: family \(profiles[ranked[0].index].family) not yet on this panel"
            }
        }

        for (rank, scored) in ranked.enumerated() {
            entries[scored.index].rank = rank + 1
            if entries[scored.index].excludedBy == "at capacity" { entries[scored.index].excludedBy = nil }
        }
        if ranked.isEmpty {
            rule = cooling.isEmpty ? "no backend meets the constraints" : "every qualifying backend is cooling down"
        }
        return RoutingDecision(
            ranked: ranked.map { candidates[$0.index] },
            trace: RoutingTrace(
                constraints: summary ?? constraints.summary, candidates: entries, pick: ranked.first.map { profiles[$0.index].name },
                rule: rule),
            allCoolingDown: ranked.isEmpty && !cooling.isEmpty, earliestRecovery: earliestRecovery)
    }
}
