/// Why a routed call went where it went: the constraints, every candidate with the filter that
/// removed it or its score terms, the pick and the rule that picked it, then each attempt.
public struct RoutingTrace: Sendable, Hashable, Codable {
    public struct Candidate: Sendable, Hashable, Codable {
        public var backend: String
        /// The filter that removed it (`capability`, `quality`, `cost cap`, `latency cap`,
        /// `cooling down`, `at capacity`, `local-only`), or nil when it qualified.
        public var excludedBy: String?
        public var detail: String?
        public var estimatedCostUSD: Double?
        public var p90MS: Int?
        public var quality: Int?
        public var family: String?
        /// Position in the ranking (1 is the pick), for qualifying candidates.
        public var rank: Int?

        /// Inlinable: the router builds one per candidate per decision straight into its trace (called across
        /// the module boundary, each was built, copied in and destroyed).
        @inlinable
        public init(
            backend: String, excludedBy: String? = nil, detail: String? = nil, estimatedCostUSD: Double? = nil, p90MS: Int? = nil,
            quality: Int? = nil, family: String? = nil, rank: Int? = nil
        ) {
            self.backend = backend
            self.excludedBy = excludedBy
            self.detail = detail
            self.estimatedCostUSD = estimatedCostUSD
            self.p90MS = p90MS
            self.quality = quality
            self.family = family
            self.rank = rank
        }

        enum CodingKeys: String, CodingKey {
            case backend, detail, quality, family, rank
            case excludedBy = "excluded_by"
            case estimatedCostUSD = "estimated_cost_usd"
            case p90MS = "p90_ms"
        }
    }

    public struct Attempt: Sendable, Hashable, Codable {
        public var backend: String
        /// `answered`, `failed`, `cancelled` (a hedge that lost).
        public var outcome: String
        public var errorClass: String?
        public var retryAfterMS: Int?
        public var hedge: Bool

        public init(backend: String, outcome: String, errorClass: String? = nil, retryAfterMS: Int? = nil, hedge: Bool = false) {
            self.backend = backend
            self.outcome = outcome
            self.errorClass = errorClass
            self.retryAfterMS = retryAfterMS
            self.hedge = hedge
        }

        enum CodingKeys: String, CodingKey {
            case backend, outcome, hedge
            case errorClass = "error_class"
            case retryAfterMS = "retry_after_ms"
        }
    }

    public var constraints: String
    public var candidates: [Candidate]
    public var pick: String?
    public var rule: String
    public var attempts: [Attempt]

    public init(constraints: String, candidates: [Candidate], pick: String?, rule: String, attempts: [Attempt] = []) {
        self.constraints = constraints
        self.candidates = candidates
        self.pick = pick
        self.rule = rule
        self.attempts = attempts
    }
}
