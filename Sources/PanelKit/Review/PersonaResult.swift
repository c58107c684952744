public import ModelBackends

/// One persona's part in a review: what it said, or why it abstained, and what the call cost.
public struct PersonaResult: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case answered(ParsedReview)
        /// The persona could not answer; never a vote, never a default score.
        case abstained(reason: String)
    }

    public var persona: Persona
    public var outcome: Outcome
    /// Marks for editors, e.g. `verdict_contradicts_score`, `repaired`.
    public var flags: [String]
    public var backend: String?
    public var model: String?
    /// The answering backend's model family (``ModelFamily``), when the backend is configured.
    public var family: String?
    public var latencyMS: Int?
    public var ttftMS: Int?
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var costUSD: Double?
    /// Calls made for this persona (repairs and retries included); 0 if none reached a backend.
    public var attempts: Int
    /// How the router chose the backend of the last call, when routed.
    public var routing: RoutingTrace?
    /// Every sample's vote when the persona was asked more than once (`--samples K`); empty otherwise.
    public var samples: [SampleVote] = []
    /// It abstained because its backend could not be reached from here (a refused or cut connection, a
    /// timeout): a queue worker gives the listing back for another host to try, while attempts remain.
    /// Not part of the document.
    public var backendUnreachable = false

    public init(
        persona: Persona,
        outcome: Outcome,
        flags: [String] = [],
        backend: String? = nil,
        model: String? = nil,
        latencyMS: Int? = nil,
        ttftMS: Int? = nil,
        inputTokens: Int? = nil,
        outputTokens: Int? = nil,
        costUSD: Double? = nil,
        attempts: Int = 0
    ) {
        self.persona = persona
        self.outcome = outcome
        self.flags = flags
        self.backend = backend
        self.model = model
        self.latencyMS = latencyMS
        self.ttftMS = ttftMS
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.attempts = attempts
    }

    public var review: ParsedReview? {
        if case .answered(let review) = outcome { return review }
        return nil
    }

    public var abstentionReason: String? {
        if case .abstained(let reason) = outcome { return reason }
        return nil
    }

    /// Flag for a verdict its own score contradicts: ship below 50, or skip at 70 or above (the
    /// bands the prompt gives).
    public static func contradicts(_ review: ParsedReview) -> Bool {
        (review.verdict == .ship && review.score < 50) || (review.verdict == .skip && review.score >= 70)
    }

    public static let contradictionFlag = "verdict_contradicts_score"
    public static let repairedFlag = "repaired"
    public static let cachedFlag = "cached"
}

extension PersonaResult {
    /// Rebuilds a result from its document form (batch state stores results that way).
    public init(review: ReviewDocument.Review, persona: Persona) {
        let outcome: Outcome
        if review.status == .answered, let score = review.score, let verdict = review.verdict {
            outcome = .answered(ParsedReview(score: score, verdict: verdict, text: review.text ?? ""))
        } else {
            outcome = .abstained(reason: review.error ?? "abstained")
        }
        self.init(
            persona: persona, outcome: outcome, flags: review.flags, backend: review.backend, model: review.model,
            latencyMS: review.latencyMS, ttftMS: review.ttftMS, inputTokens: review.inputTokens, outputTokens: review.outputTokens,
            costUSD: review.costUSD, attempts: review.attempts)
        routing = review.routing
        family = review.family
        samples = review.samples ?? []
    }
}
