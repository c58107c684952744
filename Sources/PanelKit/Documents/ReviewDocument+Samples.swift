import ModelBackends

/// The trust additions to v1: a sampled review's spread, a panel's intervals, and the votes they read.
extension ReviewDocument {
    /// How far a persona's samples spread: lowest and highest score, interquartile range.
    public struct Spread: Sendable, Hashable, Codable {
        public var min: Int
        public var max: Int
        public var iqr: Double

        public init(min: Int, max: Int, iqr: Double) {
            self.min = min
            self.max = max
            self.iqr = iqr
        }
    }

    /// Bootstrap 95% intervals: `[low, high]` each, null where a figure has no value to resample.
    public struct Interval: Sendable, Hashable, Codable {
        public var scoreMedian: [Double]?
        public var shipShare: [Double]?

        public init(scoreMedian: [Double]?, shipShare: [Double]?) {
            self.scoreMedian = scoreMedian
            self.shipShare = shipShare
        }

        enum CodingKeys: String, CodingKey {
            case scoreMedian = "score_median"
            case shipShare = "ship_share"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(scoreMedian, forKey: .scoreMedian)
            try c.encode(shipShare, forKey: .shipShare)
        }
    }

    /// A panel's intervals from its personas' votes — every sample's where there are samples, else each
    /// persona's answer: the median score's and the ship share's, each from its exact bootstrap
    /// distribution (the same votes always give the same figures, with no resampling). Nil when no
    /// persona answered.
    public static func interval(_ results: [PersonaResult]) -> (Interval, closeCall: Bool)? {
        let votes = results.flatMap(\.votes)
        guard !votes.isEmpty else { return nil }
        func rounded(_ pair: (Double, Double)?, _ places: Double) -> [Double]? {
            pair.map { [($0.0 * places).rounded() / places, ($0.1 * places).rounded() / places] }
        }
        let median = Statistics.bootstrapMedianInterval(votes.map(\.score))
        let share = Statistics.bootstrapShareInterval(successes: votes.filter(\.ship).count, count: votes.count)
        let interval = Interval(scoreMedian: rounded(median, 10), shipShare: rounded(share, 10_000))
        let close = share.map { $0.0 <= 0.5 && 0.5 <= $0.1 } ?? false
        return (interval, close)
    }
}

/// A persona's votes, the one rule every trust figure reads them by: each answered sample's score and
/// verdict when it was asked more than once, else its answer; nothing when it abstained.
public struct ScoreVote: Sendable, Hashable {
    public var score: Double
    public var ship: Bool

    public init(score: Double, ship: Bool) {
        self.score = score
        self.ship = ship
    }

    static func from(samples: [SampleVote]) -> [ScoreVote] {
        samples.compactMap { sample in
            sample.score.flatMap { score in sample.verdict.map { ScoreVote(score: Double(score), ship: $0 == .ship) } }
        }
    }
}

extension PersonaResult {
    public var votes: [ScoreVote] {
        if samples.count > 1 { return ScoreVote.from(samples: samples) }
        return review.map { [ScoreVote(score: Double($0.score), ship: $0.verdict == .ship)] } ?? []
    }
}

extension ReviewDocument.Review {
    public var votes: [ScoreVote] {
        if let samples, samples.count > 1 { return ScoreVote.from(samples: samples) }
        guard status == .answered, let score, let verdict else { return [] }
        return [ScoreVote(score: Double(score), ship: verdict == .ship)]
    }
}
