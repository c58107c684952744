import ModelBackends

/// One of a persona's repeated answers (`--samples K`): its score and verdict, or nothing when that ask
/// was not answered.
public struct SampleVote: Sendable, Hashable, Codable {
    public var score: Int?
    public var verdict: Verdict?

    public init(score: Int?, verdict: Verdict?) {
        self.score = score
        self.verdict = verdict
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(score, forKey: .score)
        try c.encode(verdict, forKey: .verdict)
    }

    enum CodingKeys: String, CodingKey { case score, verdict }
}

extension PersonaResult {
    /// Below this share of samples agreeing with the majority, a persona is flagged unstable (still a vote).
    public static let stableAgreement = 0.8
    public static let unstableFlag = "unstable"

    /// One persona's K answers made one result: the majority verdict (a tie abstains, "unstable"), the
    /// median score, the paragraph of the majority sample nearest that median, every sample's vote, and
    /// the calls' usage summed. A single sample is returned as it is.
    public static func combining(_ samples: [PersonaResult]) -> PersonaResult {
        precondition(!samples.isEmpty, "a persona is asked at least once")
        guard samples.count > 1, var result = samples.first else { return samples[0] }
        result.samples = samples.map { SampleVote(score: $0.review?.score, verdict: $0.review?.verdict) }
        for other in samples.dropFirst() {
            result.attempts += other.attempts
            result.latencyMS = result.latencyMS.flatMap { total in other.latencyMS.map { max(total, $0) } } ?? other.latencyMS
            // A total is unknown when any sample's is; it never overflows into nonsense.
            result.inputTokens = result.inputTokens.flatMap { total in other.inputTokens.flatMap { CheckedNumber.sum(total, $0) } }
            result.outputTokens = result.outputTokens.flatMap { total in other.outputTokens.flatMap { CheckedNumber.sum(total, $0) } }
            result.costUSD = result.costUSD.flatMap { total in other.costUSD.map { total + $0 } }.flatMap { $0.isFinite ? $0 : nil }
            for flag in other.flags where !result.flags.contains(flag) { result.flags.append(flag) }
        }
        let answered = samples.compactMap(\.review)
        let ship = answered.filter { $0.verdict == .ship }.count
        let skip = answered.count - ship
        guard !answered.isEmpty else {
            result.outcome = .abstained(reason: "no sample answered: \(samples.compactMap(\.abstentionReason).first ?? "not answered")")
            result.backendUnreachable = samples.allSatisfy(\.backendUnreachable)
            return result
        }
        guard ship != skip else {
            result.outcome = .abstained(reason: "unstable: the samples split \(ship) ship / \(skip) skip")
            result.flags.removeAll { $0 == contradictionFlag }
            if !result.flags.contains(unstableFlag) { result.flags.append(unstableFlag) }
            return result
        }
        let majority: Verdict = ship > skip ? .ship : .skip
        let median = Statistics.median(answered.map { Double($0.score) }) ?? 0
        let chosen = answered.filter { $0.verdict == majority }.min { abs(Double($0.score) - median) < abs(Double($1.score) - median) }!
        result.outcome = .answered(ParsedReview(score: Int(median.rounded()), verdict: majority, text: chosen.text))
        result.flags.removeAll { $0 == contradictionFlag }
        if contradicts(ParsedReview(score: Int(median.rounded()), verdict: majority, text: "")) { result.flags.append(contradictionFlag) }
        if Double(max(ship, skip)) / Double(answered.count) < stableAgreement, !result.flags.contains(unstableFlag) {
            result.flags.append(unstableFlag)
        }
        return result
    }

    /// The answered samples' median score (x.5 for an even count); nil without samples.
    public var sampleMedian: Double? {
        let scores = samples.compactMap(\.score).map(Double.init)
        return samples.count > 1 ? Statistics.median(scores) : nil
    }
}
