import Foundation
public import ModelBackends
public import PanelKit

/// How the panel scores, over many documents: per persona and per backend/model the score histogram,
/// how often scores sit on multiples of 5 and 10, mean/median/SD and ship rate; how far the personas
/// agree (Krippendorff's α on scores and on verdicts, pairwise Spearman, the effective number of
/// independent opinions); and how stable repeated samples are (verdict flip rate).
public struct PanelStats: Sendable {
    public struct Distribution: Sendable {
        public var name: String
        public var scores: [Double] = []
        public var ships = 0
        public var verdicts = 0
        /// Counts of scores in 0–9, 10–19, …, 90–100.
        public var histogram: [Int] { Self.bins(scores) }
        public var onFive: Double? { share { $0.truncatingRemainder(dividingBy: 5) == 0 } }
        public var onTen: Double? { share { $0.truncatingRemainder(dividingBy: 10) == 0 } }
        public var shipRate: Double? { verdicts == 0 ? nil : Double(ships) / Double(verdicts) }
        /// Mean share of a sampled review's samples that disagree with its majority; nil without samples.
        public var flipRate: Double?
        var flips: [Double] = []
        /// The claims of the reviews that carry them (documents made before claims were checked do not).
        public var claims = ClaimCounts()
        /// Reviews whose claims were checked.
        public var checkedReviews = 0
        /// Shares of the claims the listing does not back and contradicts; nil with no claim.
        public var unsupportedRate: Double? { claims.total == 0 ? nil : Double(claims.unsupported) / Double(claims.total) }
        public var contradictedRate: Double? { claims.total == 0 ? nil : Double(claims.contradicted) / Double(claims.total) }
        /// Flagged claims (unsupported or contradicted) per checked review.
        public var flaggedPerReview: Double? {
            checkedReviews == 0 ? nil : Double(claims.unsupported + claims.contradicted) / Double(checkedReviews)
        }

        func share(_ predicate: (Double) -> Bool) -> Double? {
            scores.isEmpty ? nil : Double(scores.filter(predicate).count) / Double(scores.count)
        }

        static func bins(_ scores: [Double]) -> [Int] {
            var bins = [Int](repeating: 0, count: 10)
            for score in scores { bins[min(9, max(0, Int(score) / 10))] += 1 }
            return bins
        }
    }

    public var documents: Int
    public var tools: Int
    public var personas: [Distribution]
    public var backends: [Distribution]
    public var personaIDs: [String]
    public var alphaScores: Double?
    public var alphaVerdicts: Double?
    /// Spearman's ρ for each pair of personas (by index into `personaIDs`), nil where undefined.
    public var spearman: [[Double?]]
    public var meanCorrelation: Double?
    public var effectiveOpinions: Double?

    public static func compute(_ documents: [ReviewDocument]) -> PanelStats {
        var order: [String] = []
        var names: [String: String] = [:]
        for document in documents {
            for persona in document.personas where !order.contains(persona.id) {
                order.append(persona.id)
                names[persona.id] = persona.name
            }
        }
        var personas: [String: Distribution] = [:]
        var backends: [String: Distribution] = [:]
        var units: [[String: (score: Double?, ship: Bool?)]] = []
        for document in documents {
            for tool in document.tools {
                var unit: [String: (Double?, Bool?)] = [:]
                for review in tool.reviews {
                    if !order.contains(review.persona) { order.append(review.persona) }
                    let backend = [review.backend, review.model].compactMap { $0 }.joined(separator: " · ")
                    let votes = review.votes
                    for key in [review.persona, "backend:" + (backend.isEmpty ? "unknown" : backend)] {
                        var distribution: Distribution
                        if key.hasPrefix("backend:") {
                            distribution = backends[key] ?? Distribution(name: String(key.dropFirst(8)))
                        } else {
                            distribution = personas[key] ?? Distribution(name: names[key] ?? key.capitalized)
                        }
                        distribution.scores += votes.map(\.score)
                        distribution.ships += votes.filter(\.ship).count
                        distribution.verdicts += votes.count
                        if let agreement = review.agreement, (review.samples?.count ?? 0) > 1 { distribution.flips.append(1 - agreement) }
                        if let claims = review.claims {
                            distribution.claims = distribution.claims + ClaimCounts(claims)
                            distribution.checkedReviews += 1
                        }
                        if key.hasPrefix("backend:") { backends[key] = distribution } else { personas[key] = distribution }
                    }
                    if review.status == .answered, let verdict = review.verdict {
                        unit[review.persona] = (review.scoreMedian ?? review.score.map(Double.init), verdict == .ship)
                    }
                }
                units.append(unit)
            }
        }
        for (key, distribution) in personas { personas[key]?.flipRate = Statistics.mean(distribution.flips) }
        for (key, distribution) in backends { backends[key]?.flipRate = Statistics.mean(distribution.flips) }
        let scoreUnits = units.map { unit in order.map { unit[$0]?.score } }
        let verdictUnits = units.map { unit in order.map { id in unit[id]?.ship.map { $0 ? 1.0 : 0.0 } } }
        var spearman = [[Double?]](repeating: [Double?](repeating: nil, count: order.count), count: order.count)
        var correlations: [Double] = []
        for i in order.indices {
            spearman[i][i] = 1
            for j in order.indices where j > i {
                let pairs = units.compactMap { unit -> (Double, Double)? in
                    guard let a = unit[order[i]]?.score, let b = unit[order[j]]?.score else { return nil }
                    return (a, b)
                }
                let rho = Statistics.spearman(pairs.map(\.0), pairs.map(\.1))
                spearman[i][j] = rho
                spearman[j][i] = rho
                if let rho { correlations.append(rho) }
            }
        }
        let mean = Statistics.mean(correlations)
        return PanelStats(
            documents: documents.count, tools: units.count, personas: order.compactMap { personas[$0] },
            backends: backends.keys.sorted().compactMap { backends[$0] }, personaIDs: order,
            alphaScores: Statistics.krippendorffAlpha(scoreUnits, metric: .interval),
            alphaVerdicts: Statistics.krippendorffAlpha(verdictUnits, metric: .nominal), spearman: spearman, meanCorrelation: mean,
            effectiveOpinions: mean.map { Statistics.effectiveOpinions(order.count, meanCorrelation: $0) })
    }

    // MARK: JSON

    static func number(_ value: Double?, _ places: Double = 10_000) -> JSONValue { .rounded(value, places) }

    static func json(_ distribution: Distribution) -> JSONValue {
        .object([
            "name": .string(distribution.name), "scores": .int(distribution.scores.count),
            "histogram": .array(distribution.histogram.map(JSONValue.int)), "on_multiple_of_5": number(distribution.onFive),
            "on_multiple_of_10": number(distribution.onTen), "mean": number(Statistics.mean(distribution.scores), 100),
            "median": number(Statistics.median(distribution.scores), 100),
            "sd": number(Statistics.standardDeviation(distribution.scores), 100),
            "ship_rate": number(distribution.shipRate), "flip_rate": number(distribution.flipRate),
            "claims": .object([
                "reviews_checked": .int(distribution.checkedReviews), "total": .int(distribution.claims.total),
                "unsupported": .int(distribution.claims.unsupported), "contradicted": .int(distribution.claims.contradicted),
                "unsupported_rate": number(distribution.unsupportedRate), "contradicted_rate": number(distribution.contradictedRate),
                "flagged_per_review": number(distribution.flaggedPerReview, 100),
            ]),
        ])
    }

    public func json() -> JSONValue {
        .object([
            "documents": .int(documents), "tools": .int(tools),
            "personas": .object(Dictionary(uniqueKeysWithValues: zip(personaIDs, personas).map { ($0.0, Self.json($0.1)) })),
            "backends": .array(backends.map(Self.json)),
            "agreement": .object([
                "krippendorff_alpha_scores": Self.number(alphaScores), "krippendorff_alpha_verdicts": Self.number(alphaVerdicts),
                "spearman": .object(
                    Dictionary(
                        uniqueKeysWithValues: personaIDs.enumerated().map { i, id in
                            (
                                id,
                                JSONValue.object(
                                    Dictionary(
                                        uniqueKeysWithValues: personaIDs.enumerated().map { j, other in (other, Self.number(spearman[i][j]))
                                        }))
                            )
                        })),
                "mean_correlation": Self.number(meanCorrelation), "effective_opinions": Self.number(effectiveOpinions, 100),
                "personas": .int(personaIDs.count),
            ]),
        ])
    }
}
