import Foundation

/// The panel's verdict on one tool.
public enum PanelVerdict: String, Sendable, Hashable, Codable, CaseIterable {
    case ship, skip, split, incomplete
}

/// The votes of one tool's panel, aggregated. Abstentions are counted, never voted.
public struct PanelSummary: Sendable, Hashable {
    public var verdict: PanelVerdict
    public var ship: Int
    public var skip: Int
    public var abstained: Int
    /// Ship votes over votes cast; `nil` when nobody voted.
    public var shipShare: Double?
    public var scoreMedian: Double?
    public var scoreMin: Int?
    public var scoreMax: Int?

    public init(
        verdict: PanelVerdict, ship: Int, skip: Int, abstained: Int,
        shipShare: Double?, scoreMedian: Double?, scoreMin: Int?, scoreMax: Int?
    ) {
        self.verdict = verdict
        self.ship = ship
        self.skip = skip
        self.abstained = abstained
        self.shipShare = shipShare
        self.scoreMedian = scoreMedian
        self.scoreMin = scoreMin
        self.scoreMax = scoreMax
    }

    /// Aggregates results. `quorum` is the number of answers needed for a verdict; by default a
    /// majority of the personas asked.
    public init(results: [PersonaResult], quorum: Int? = nil) {
        let reviews = results.compactMap(\.review)
        ship = reviews.filter { $0.verdict == .ship }.count
        skip = reviews.count - ship
        abstained = results.count - reviews.count
        shipShare = reviews.isEmpty ? nil : Double(ship) / Double(reviews.count)
        let scores = reviews.map(\.score).sorted()
        scoreMin = scores.first
        scoreMax = scores.last
        if scores.isEmpty {
            scoreMedian = nil
        } else if scores.count % 2 == 1 {
            scoreMedian = Double(scores[scores.count / 2])
        } else {
            scoreMedian = Double(scores[scores.count / 2 - 1] + scores[scores.count / 2]) / 2
        }
        let needed = quorum ?? Self.majority(of: results.count)
        if reviews.count < max(1, needed) {
            verdict = .incomplete
        } else if ship > skip {
            verdict = .ship
        } else if skip > ship {
            verdict = .skip
        } else {
            verdict = .split
        }
    }

    public static func majority(of count: Int) -> Int { count / 2 + 1 }

    /// `Ship · 3 ship / 1 skip`, with abstentions when there are any.
    public var headline: String { "\(verdict.rawValue.capitalized) · \(tally)" }

    /// `3 ship / 1 skip`, with abstentions when there are any: the votes without the verdict (beside a
    /// verdict badge).
    public var tally: String {
        var text = "\(ship) ship / \(skip) skip"
        if abstained > 0 { text += " · \(abstained) abstained" }
        return text
    }
}
