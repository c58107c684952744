/// Token counts as the provider reported them; `nil` when it did not.
public struct TokenUsage: Sendable, Hashable, Codable {
    public var inputTokens: Int?
    public var outputTokens: Int?

    /// Negative counts (which some servers report for unknown) are taken as unknown.
    public init(inputTokens: Int? = nil, outputTokens: Int? = nil) {
        self.inputTokens = CheckedNumber.tokenCount(inputTokens)
        self.outputTokens = CheckedNumber.tokenCount(outputTokens)
    }
}

/// USD per million tokens. An explicit 0 means free (a local model).
public struct Price: Sendable, Hashable, Codable {
    public var inputPerMTok: Double
    public var outputPerMTok: Double

    public init(inputPerMTok: Double, outputPerMTok: Double) {
        self.inputPerMTok = inputPerMTok
        self.outputPerMTok = outputPerMTok
    }

    /// The cost of a call, or `nil` when the usage it needs is unknown.
    public func cost(of usage: TokenUsage) -> Double? {
        guard let input = usage.inputTokens, let output = usage.outputTokens else { return nil }
        let cost = (Double(input) * inputPerMTok + Double(output) * outputPerMTok) / 1_000_000
        // Absurd counts or prices give no figure rather than an infinite one.
        return cost.isFinite ? cost : nil
    }

    /// The most a price may say, in USD per million tokens: well above any model's, far below where
    /// costs stop being finite numbers.
    public static let maxPerMTok = 1_000_000.0
}

/// A model's answer, and everything about how it was obtained.
public struct ChatResponse: Sendable, Hashable {
    /// The answer text exactly as the model wrote it (untrusted).
    public var text: String
    /// The model the server says answered (Azure's router, for one, reports the model it picked).
    public var model: String?
    /// The configured backend that produced the answer.
    public var backend: String
    public var usage: TokenUsage
    /// What the answer cost, set by ``BillingBackend`` from the billed usage and the backend's price.
    public var costUSD: Double?
    public var latency: Duration
    /// Time to first token, when the answer was streamed.
    public var timeToFirstToken: Duration?
    /// Calls made to obtain this answer (1 without retries).
    public var attempts: Int
    public var finishReason: String?
    /// True when the answer came from a recording rather than a live call.
    public var replayed: Bool
    /// True when the answer came from the response cache.
    public var cached: Bool = false
    /// How the router chose the backend, when a router chose it.
    public var routing: RoutingTrace?
    /// Requests left in the provider's current rate-limit window (`x-ratelimit-remaining-requests`),
    /// when it says.
    public var rateLimitRemaining: Int?
    /// Review flags the answer earns on its way: what the backend changed in the request to get it
    /// (`temperature_dropped`: the model refuses a temperature, so none was sent), and how it was billed
    /// (`usage_estimated`, `usage_suspect`: see ``BillingBackend``).
    public var adjustments: [String] = []

    public init(
        text: String,
        model: String?,
        backend: String,
        usage: TokenUsage = TokenUsage(),
        costUSD: Double? = nil,
        latency: Duration = .zero,
        timeToFirstToken: Duration? = nil,
        attempts: Int = 1,
        finishReason: String? = nil,
        replayed: Bool = false
    ) {
        self.text = text
        self.model = model
        self.backend = backend
        self.usage = usage
        self.costUSD = costUSD
        self.latency = latency
        self.timeToFirstToken = timeToFirstToken
        self.attempts = attempts
        self.finishReason = finishReason
        self.replayed = replayed
    }
}

extension Duration {
    /// Whole milliseconds, for documents and logs.
    public var milliseconds: Int {
        let (seconds, attoseconds) = components
        // Clamped, not trapping, for durations beyond what an Int of milliseconds holds.
        let (whole, overflow) = Int(seconds).multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? Int.min : Int.max }
        return whole &+ Int(attoseconds / 1_000_000_000_000_000)
    }

    /// Seconds as a floating-point number.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
