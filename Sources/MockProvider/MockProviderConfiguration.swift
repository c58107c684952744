public import Foundation

/// How the mock provider behaves: latency, faults and answers.
public struct MockProviderConfiguration: Sendable {
    /// Share of calls (0…1) answered with each fault. Faults are decided per request body and attempt,
    /// deterministically from the seed; one body gets at most `maxFaultsPerRequest` faults.
    public struct FaultRates: Sendable, Hashable {
        public var rateLimited: Double = 0
        public var serverError: Double = 0
        public var unavailable: Double = 0
        public var connectionReset: Double = 0
        public var malformedBody: Double = 0
        public var truncatedStream: Double = 0

        public init(
            rateLimited: Double = 0, serverError: Double = 0, unavailable: Double = 0,
            connectionReset: Double = 0, malformedBody: Double = 0, truncatedStream: Double = 0
        ) {
            self.rateLimited = rateLimited
            self.serverError = serverError
            self.unavailable = unavailable
            self.connectionReset = connectionReset
            self.malformedBody = malformedBody
            self.truncatedStream = truncatedStream
        }

        /// The same rate for every fault kind, `total` in all.
        public static func mixed(_ total: Double) -> FaultRates {
            let each = total / 6
            return FaultRates(
                rateLimited: each, serverError: each, unavailable: each, connectionReset: each,
                malformedBody: each, truncatedStream: each)
        }

        var total: Double { rateLimited + serverError + unavailable + connectionReset + malformedBody + truncatedStream }
    }

    /// How generated answers are written.
    public enum AnswerShape: String, Sendable, Hashable, CaseIterable {
        /// A JSON object (following the request's schema when it sends one).
        case json
        /// JSON inside a fenced block after a line of prose.
        case fenced
        /// `78/100 · ship`, then the paragraph.
        case scoreLine = "score-line"
        /// `**Score:** 78/100`, `**Verdict:** Ship`, then the paragraph.
        case labelled
        /// One of the four above, chosen per request.
        case mixed
        /// Prose with no score at all.
        case nonsense
    }

    /// A hand-written answer for one persona and tool, served verbatim.
    public struct CannedAnswer: Sendable, Hashable, Codable {
        public var persona: String
        public var tool: String
        public var text: String
        /// The answer to a repair request (a follow-up after an unreadable answer).
        public var repair: String?
        public var model: String?

        public init(persona: String, tool: String, text: String, repair: String? = nil, model: String? = nil) {
            self.persona = persona
            self.tool = tool
            self.text = text
            self.repair = repair
            self.model = model
        }
    }

    public var latency: Duration = .zero
    /// Extra latency, uniform in 0…jitter.
    public var jitter: Duration = .zero
    /// Share of calls (0…1) that take `slowFactor` times as long.
    public var slowRate: Double = 0
    public var slowFactor: Double = 10
    /// Decide slow calls per attempt at random (seeded, in order of arrival) instead of from the request
    /// body: a repeat of a slow request is then no more likely to be slow than any other call — what a
    /// hedged or retried call meets on a real server.
    public var slowPerAttempt = false
    public var faults = FaultRates()
    public var maxFaultsPerRequest = 2
    /// What 429s ask for in `retry-after` (seconds).
    public var retryAfterSeconds = 1
    public var shape: AnswerShape = .json
    public var canned: [CannedAnswer] = []
    /// The model the mock reports when the request names none.
    public var model = "mock-model"
    public var seed: UInt64 = 1
    /// Require `Authorization: Bearer <key>`; 401 otherwise (the 401 body echoes the key it got,
    /// as some providers do, so tests can prove clients redact it).
    public var requiredKey: String?
    /// `response_format` types the server rejects with a 400 naming the field, like servers that
    /// do not support them: e.g. `["json_schema"]` for an older llama.cpp.
    public var rejectedResponseFormats: Set<String> = []
    /// Request parameters the model refuses with a 400 naming them, in the provider's own words:
    /// `max_tokens` as OpenAI's reasoning models do ("Use 'max_completion_tokens' instead"),
    /// `max_completion_tokens` as older servers do, `temperature` as models that take only the default.
    public var rejectedParameters: Set<String> = []
    /// Answer a malformed request as the real API would (``MockRules``): missing required fields and
    /// headers, wrong types, unknown top-level parameters where the API is strict. On by default.
    public var strict = true
    /// Sees every chat request as it arrives: its path with the query, and its body (the conformance
    /// check captures panel's requests with it).
    public var onRequest: (@Sendable (_ path: String, _ body: Data) -> Void)?
    /// Sent as `x-ratelimit-remaining-requests` with OpenAI-style answers, when set.
    public var rateLimitRemaining: Int?
    /// In OpenAI-style streams, a pause after the first chunk: headers and a first token arrive at
    /// once, then the body stalls (what a call deadline that stops at the headers misses).
    public var streamStall: Duration = .zero
    /// What the OpenAI-compatible wire reports as usage: the honest counts, nothing at all (a server
    /// that omits `usage`), or this many completion tokens whatever was asked (a server that lies).
    public var usageReport: UsageReport = .honest

    public enum UsageReport: Sendable, Hashable {
        case honest, omitted
        case inflated(completionTokens: Int)
    }
    /// In OpenAI-style streams, a pause between chunks, as a model writing token by token (zero: the
    /// chunks go at once after the latency).
    public var streamChunkInterval: Duration = .zero
    /// Generated answers to a request seen before move their score by up to ± this much (each repeat
    /// differently, the same on every run): a model sampled more than once. The verdict follows the score.
    public var sampleSpread = 0
    /// Generated scores grow by this many points per 100 characters of the listing's description: a
    /// length-biased judge, for `panel audit`.
    public var lengthBias = 0.0

    public init() {}

    /// Loads canned answers from a JSON array of `{persona, tool, text, repair?, model?}`.
    public static func loadCanned(from url: URL) throws -> [CannedAnswer] {
        try JSONDecoder().decode([CannedAnswer].self, from: Data(contentsOf: url))
    }
}
