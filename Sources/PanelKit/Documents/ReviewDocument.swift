public import Foundation
public import ModelBackends

/// The versioned, documented JSON contract `panel.document/v1`: one review or a comparison.
///
/// Absent values encode as `null`, never invented. Reviews appear in persona order. This is also
/// what `panel render` reads back, so every renderer works from this type alone.
public struct ReviewDocument: Sendable, Hashable, Codable {
    public static let schemaVersion = "panel.document/v1"

    public enum Kind: String, Sendable, Hashable, Codable {
        case review, comparison
    }

    public struct PersonaInfo: Sendable, Hashable, Codable {
        public var id: String
        public var name: String
        public var weighs: String?
    }

    public struct Panel: Sendable, Hashable, Codable {
        public var verdict: PanelVerdict
        public var ship: Int
        public var skip: Int
        public var abstained: Int
        public var shipShare: Double?
        public var scoreMedian: Double?
        public var scoreMin: Int?
        public var scoreMax: Int?
        /// Bootstrap 95% intervals of the median score and the ship share, over personas × samples (an
        /// addition within v1; absent in documents written before it).
        public var interval: Interval?
        /// The ship-share interval holds 0.5: a close call, read it.
        public var closeCall: Bool?

        enum CodingKeys: String, CodingKey {
            case verdict, ship, skip, abstained, interval
            case shipShare = "ship_share"
            case scoreMedian = "score_median"
            case scoreMin = "score_min"
            case scoreMax = "score_max"
            case closeCall = "close_call"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(verdict, forKey: .verdict)
            try c.encode(ship, forKey: .ship)
            try c.encode(skip, forKey: .skip)
            try c.encode(abstained, forKey: .abstained)
            try c.encode(shipShare, forKey: .shipShare)
            try c.encode(scoreMedian, forKey: .scoreMedian)
            try c.encode(scoreMin, forKey: .scoreMin)
            try c.encode(scoreMax, forKey: .scoreMax)
            try c.encodeIfPresent(interval, forKey: .interval)
            try c.encodeIfPresent(closeCall, forKey: .closeCall)
        }

        /// `Ship · 3 ship / 1 skip`, with abstentions when there are any.
        public var headline: String { summary.headline }
        /// The votes without the verdict, beside a verdict badge.
        public var tally: String { summary.tally }

        var summary: PanelSummary {
            PanelSummary(
                verdict: verdict, ship: ship, skip: skip, abstained: abstained, shipShare: shipShare,
                scoreMedian: scoreMedian, scoreMin: scoreMin, scoreMax: scoreMax)
        }
    }

    public struct Review: Sendable, Hashable, Codable {
        public enum Status: String, Sendable, Hashable, Codable {
            case answered, abstained
        }

        public var persona: String
        public var status: Status
        public var score: Int?
        public var verdict: Verdict?
        public var text: String?
        public var error: String?
        public var flags: [String]
        public var backend: String?
        public var model: String?
        /// The answering backend's model family (``ModelFamily``); an addition within v1.
        public var family: String?
        public var latencyMS: Int?
        public var ttftMS: Int?
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var costUSD: Double?
        public var attempts: Int
        /// The router's explanation, for routed calls.
        public var routing: RoutingTrace?
        /// With `--samples K` (K > 1; additions within v1, absent otherwise): every sample's vote, the
        /// answered samples' exact median (`score` is it rounded), their spread, and the share agreeing
        /// with the majority verdict.
        public var samples: [SampleVote]?
        public var scoreMedian: Double?
        /// The score on the editors' scale (`--calibration`; an addition within v1, absent otherwise).
        public var calibratedScore: Double?
        public var spread: ReviewDocument.Spread?
        public var agreement: Double?
        /// The paragraph's checkable claims and what the listing says of each (an addition within v1; absent
        /// from documents made before claims were checked — `panel render` never computes them).
        public var claims: [Claim]?

        enum CodingKeys: String, CodingKey {
            case persona, status, score, verdict, text, error, flags, backend, model, family, attempts, routing, samples, spread, agreement
            case claims
            case scoreMedian = "score_median"
            case calibratedScore = "calibrated_score"
            case latencyMS = "latency_ms"
            case ttftMS = "ttft_ms"
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case costUSD = "cost_usd"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(persona, forKey: .persona)
            try c.encode(status, forKey: .status)
            try c.encode(score, forKey: .score)
            try c.encode(verdict, forKey: .verdict)
            try c.encode(text, forKey: .text)
            try c.encode(error, forKey: .error)
            try c.encode(flags, forKey: .flags)
            try c.encode(backend, forKey: .backend)
            try c.encode(model, forKey: .model)
            try c.encode(family, forKey: .family)
            try c.encode(latencyMS, forKey: .latencyMS)
            try c.encode(ttftMS, forKey: .ttftMS)
            try c.encode(inputTokens, forKey: .inputTokens)
            try c.encode(outputTokens, forKey: .outputTokens)
            try c.encode(costUSD, forKey: .costUSD)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(routing, forKey: .routing)
            try c.encodeIfPresent(samples, forKey: .samples)
            try c.encodeIfPresent(scoreMedian, forKey: .scoreMedian)
            try c.encodeIfPresent(spread, forKey: .spread)
            try c.encodeIfPresent(agreement, forKey: .agreement)
            try c.encodeIfPresent(calibratedScore, forKey: .calibratedScore)
            try c.encodeIfPresent(claims, forKey: .claims)
        }
    }

    public struct Tool: Sendable, Hashable, Codable {
        public var name: String
        public var tagline: String?
        public var category: String?
        public var pricing: String?
        public var entry: String?
        public var bestFor: String?
        public var description: String
        public var url: String?
        public var community: String?
        public var panel: Panel
        public var reviews: [Review]
        /// How many claims the tool's reviews make and how many are flagged (with `claims`).
        public var claimCounts: ClaimCounts?
        /// Readers' votes on a published page (an addition within v1; `community` keeps the listing's text).
        public var communityVotes: CommunityVotes?

        /// The listing the tool was reviewed from, as the document keeps it.
        public var listing: Listing {
            Listing(
                name: name, description: description, tagline: tagline, category: category, pricing: pricing, entry: entry,
                bestFor: bestFor, url: url, community: community)
        }

        enum CodingKeys: String, CodingKey {
            case name, tagline, category, pricing, entry, description, url, community, panel, reviews
            case bestFor = "best_for"
            case claimCounts = "claim_counts"
            case communityVotes = "community_votes"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(tagline, forKey: .tagline)
            try c.encode(category, forKey: .category)
            try c.encode(pricing, forKey: .pricing)
            try c.encode(entry, forKey: .entry)
            try c.encode(bestFor, forKey: .bestFor)
            try c.encode(description, forKey: .description)
            try c.encode(url, forKey: .url)
            try c.encode(community, forKey: .community)
            try c.encode(panel, forKey: .panel)
            try c.encode(reviews, forKey: .reviews)
            try c.encodeIfPresent(claimCounts, forKey: .claimCounts)
            try c.encodeIfPresent(communityVotes, forKey: .communityVotes)
        }
    }

    public struct Totals: Sendable, Hashable, Codable {
        public var calls: Int
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var costUSD: Double?
        public var wallMS: Int

        enum CodingKeys: String, CodingKey {
            case calls
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case costUSD = "cost_usd"
            case wallMS = "wall_ms"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(calls, forKey: .calls)
            try c.encode(inputTokens, forKey: .inputTokens)
            try c.encode(outputTokens, forKey: .outputTokens)
            try c.encode(costUSD, forKey: .costUSD)
            try c.encode(wallMS, forKey: .wallMS)
        }
    }

    /// What produced the document, so two documents can be told apart by more than their dates: panel's
    /// version, each persona prompt's hash and each document template's hash (SHA-256 of the text).
    /// An addition within v1; absent (null) in documents written before it.
    public struct Provenance: Sendable, Hashable, Codable {
        public var panelVersion: String
        /// Persona id → SHA-256 of its prompt (the persona file and the request template).
        public var prompts: [String: String]
        /// Template file name → SHA-256 of its text.
        public var templates: [String: String]

        public init(panelVersion: String, prompts: [String: String], templates: [String: String]) {
            self.panelVersion = panelVersion
            self.prompts = prompts
            self.templates = templates
        }

        enum CodingKeys: String, CodingKey {
            case prompts, templates
            case panelVersion = "panel_version"
        }
    }

    public var schema: String
    public var kind: Kind
    public var generatedAt: String
    public var personas: [PersonaInfo]
    public var tools: [Tool]
    public var totals: Totals
    public var provenance: Provenance?
    /// What editors changed in the team server (`panel serve`); absent from documents nobody edited.
    /// An addition within v1: the model's own text, score and verdict stay where they are.
    public var editor: Editor?
    /// Every tool's claim counts summed (with `claims`).
    public var claimCounts: ClaimCounts?
    /// The model check of claims, when one ran (an addition within v1).
    public var claimCheck: ClaimCheckRecord?

    enum CodingKeys: String, CodingKey {
        case schema, kind, personas, tools, totals, provenance, editor
        case generatedAt = "generated_at"
        case claimCounts = "claim_counts"
        case claimCheck = "claim_check"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(kind, forKey: .kind)
        try c.encode(generatedAt, forKey: .generatedAt)
        try c.encode(personas, forKey: .personas)
        try c.encode(tools, forKey: .tools)
        try c.encode(totals, forKey: .totals)
        try c.encode(provenance, forKey: .provenance)
        try c.encodeIfPresent(editor, forKey: .editor)
        try c.encodeIfPresent(claimCounts, forKey: .claimCounts)
        try c.encodeIfPresent(claimCheck, forKey: .claimCheck)
    }

    /// The display name of a persona id.
    public func personaName(_ id: String) -> String {
        personas.first { $0.id == id }?.name ?? id.capitalized
    }

    /// Did every persona of every tool answer?
    public var allAnswered: Bool { tools.allSatisfy { $0.panel.abstained == 0 } }

    /// "A vs B vs C", or the tool's name for a single review.
    public var title: String { tools.map(\.name).joined(separator: " vs ") }
}

extension ReviewDocument {
    /// Builds the document of a finished run.
    public init(run: ReviewRun, generatedAt: Date = Date(), provenance: Provenance? = nil) {
        schema = Self.schemaVersion
        self.provenance = provenance
        kind = run.tools.count == 1 ? .review : .comparison
        self.generatedAt = CFormat.iso8601(generatedAt)
        personas = run.personas.map { PersonaInfo(id: $0.id, name: $0.name, weighs: $0.weighs) }
        tools = run.tools.map { tool in
            let listing = tool.listing
            let checker = ClaimChecker(listing: listing)
            let reviews = tool.results.map { result -> Review in
                var review = Review(result: result)
                if let text = review.text { review.claims = checker.claims(in: text) }
                return review
            }
            let panel = tool.panel
            let interval = Self.interval(tool.results)
            return Tool(
                name: listing.name, tagline: listing.tagline, category: listing.category, pricing: listing.pricing,
                entry: listing.entry, bestFor: listing.bestFor, description: listing.description, url: listing.url,
                community: listing.community,
                panel: Panel(
                    verdict: panel.verdict, ship: panel.ship, skip: panel.skip, abstained: panel.abstained,
                    shipShare: panel.shipShare.map { ($0 * 10_000).rounded() / 10_000 }, scoreMedian: panel.scoreMedian,
                    scoreMin: panel.scoreMin, scoreMax: panel.scoreMax, interval: interval?.0, closeCall: interval?.closeCall),
                reviews: reviews, claimCounts: ClaimCounts(reviews.flatMap { $0.claims ?? [] }))
        }
        claimCounts = tools.reduce(ClaimCounts()) { $0 + ($1.claimCounts ?? ClaimCounts()) }
        let calls = tools.flatMap(\.reviews).filter { $0.attempts > 0 }
        // Token and cost totals are over the calls that were answered: a persona whose calls all failed
        // reported no usage (and is billed none), so it counts in `calls` but leaves the totals known.
        let answeredCalls = calls.filter {
            !($0.status == .abstained && $0.inputTokens == nil && $0.outputTokens == nil && $0.costUSD == nil)
        }
        // A total is unknown (null) when any answered call's figure is, or when it would not fit: figures
        // come from servers, and a server may report anything.
        func total(_ value: (Review) -> Int?) -> Int? {
            guard !answeredCalls.isEmpty else { return nil }
            var sum = 0
            for review in answeredCalls {
                guard let figure = value(review), let next = CheckedNumber.sum(sum, figure) else { return nil }
                sum = next
            }
            return sum
        }
        func total(_ value: (Review) -> Double?) -> Double? {
            let values = answeredCalls.map(value)
            guard !values.isEmpty, !values.contains(where: { $0 == nil }) else { return nil }
            let sum = values.compactMap { $0 }.reduce(0, +)
            return sum.isFinite ? sum : nil
        }
        totals = Totals(
            calls: calls.reduce(0) { CheckedNumber.sum($0, $1.attempts) ?? Int.max },
            inputTokens: total(\.inputTokens), outputTokens: total(\.outputTokens),
            costUSD: total(\.costUSD).map(Self.roundCost), wallMS: run.wallMS)
    }

    /// To 1e-8 USD; a figure too large to scale is left as it is (never made infinite).
    public static func roundCost(_ value: Double) -> Double {
        let scaled = value * 1e8
        return scaled.isFinite ? scaled.rounded() / 1e8 : value
    }
}

extension ReviewDocument.Review {
    public init(result: PersonaResult) {
        let review = result.review
        persona = result.persona.id
        status = review == nil ? .abstained : .answered
        score = review?.score
        verdict = review?.verdict
        text = review?.text
        error = result.abstentionReason
        flags = result.flags
        backend = result.backend
        model = result.model
        family = result.family
        latencyMS = result.latencyMS
        ttftMS = result.ttftMS
        inputTokens = result.inputTokens
        outputTokens = result.outputTokens
        costUSD = result.costUSD.map(ReviewDocument.roundCost)
        attempts = result.attempts
        routing = result.routing
        if result.samples.count > 1 {
            samples = result.samples
            let scores = result.samples.compactMap(\.score).map(Double.init)
            scoreMedian = Statistics.median(scores)
            if let low = scores.min(), let high = scores.max(), let q1 = Statistics.quantile(scores, 0.25),
                let q3 = Statistics.quantile(scores, 0.75)
            {
                spread = ReviewDocument.Spread(min: Int(low), max: Int(high), iqr: q3 - q1)
            }
            let verdicts = result.samples.compactMap(\.verdict)
            if !verdicts.isEmpty {
                let ship = verdicts.filter { $0 == .ship }.count
                agreement = (Double(max(ship, verdicts.count - ship)) / Double(verdicts.count) * 10_000).rounded() / 10_000
            }
        }
    }
}
