public import ModelBackends

/// A checkable statement in a persona's paragraph — a figure, a price, a licence, a date or a version —
/// and whether the listing backs it.
///
/// Spans are Unicode scalar offsets into the text as stored, end-exclusive (`[start, end)`), so any
/// language can slice the document's text with them.
public struct Claim: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A time: latency, a duration (normalised to seconds).
        case duration
        /// A model's size in parameters.
        case parameters
        /// A count of tokens: a context window, a limit.
        case tokens
        /// A size in bytes: memory, a download.
        case bytes
        case percent
        /// A multiple: "3×", "twice as fast".
        case multiple
        /// A price: an amount per unit ("USD/token", "USD/month", "USD/seat/month"), or a free tier.
        case money
        case licence
        case year
        case version
    }

    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// The listing states a compatible value.
        case supported
        /// The listing states a different value of the same kind for the same thing.
        case contradicted
        /// The listing says nothing of it.
        case unsupported
    }

    public enum Source: String, Sendable, Hashable, Codable {
        case rules
        case model
    }

    /// The normalised value: a range in `unit` (`min == max` for an exact figure; a bound leaves one side
    /// open), or an identifier (a licence's SPDX-like id, a version's text).
    public struct Value: Sendable, Hashable, Codable {
        public var unit: String
        public var min: Double?
        public var max: Double?
        public var id: String?
        /// A figure given roughly ("~7B", "about 300 ms").
        public var approximate: Bool?

        public init(unit: String, min: Double? = nil, max: Double? = nil, id: String? = nil, approximate: Bool? = nil) {
            self.unit = unit
            self.min = min
            self.max = max
            self.id = id
            self.approximate = approximate
        }
    }

    public var text: String
    public var span: [Int]
    public var kind: Kind
    public var value: Value
    public var status: Status
    /// The listing's words that back or contradict the claim, with their field and span in that field.
    public var quote: String?
    public var field: String?
    public var quoteSpan: [Int]?
    public var source: Source

    enum CodingKeys: String, CodingKey {
        case text, span, kind, value, status, quote, field, source
        case quoteSpan = "quote_span"
    }

    public init(
        text: String, span: [Int], kind: Kind, value: Value, status: Status, quote: String? = nil, field: String? = nil,
        quoteSpan: [Int]? = nil, source: Source = .rules
    ) {
        self.text = text
        self.span = span
        self.kind = kind
        self.value = value
        self.status = status
        self.quote = quote
        self.field = field
        self.quoteSpan = quoteSpan
        self.source = source
    }

    /// Unsupported or contradicted: what an editor must look at.
    public var isFlagged: Bool { status != .supported }

    /// The claim as JSON text, field by field, keys in sorted order: the bytes its `Encodable`
    /// conformance gives (tested) — a batch saves every review's claims and writes them in its document.
    public func write(to json: inout JSONTextWriter) {
        json.object { json in
            json.field("field", ifPresent: field)
            json.field("kind", kind.rawValue)
            json.field("quote", ifPresent: quote)
            if let quoteSpan {
                json.key("quote_span")
                json.array(quoteSpan) { json, offset in json.int(offset) }
            }
            json.field("source", source.rawValue)
            json.key("span")
            json.array(span) { json, offset in json.int(offset) }
            json.field("status", status.rawValue)
            json.field("text", text)
            json.key("value")
            json.object { json in
                json.field("approximate", ifPresent: value.approximate)
                json.field("id", ifPresent: value.id)
                json.field("max", ifPresent: value.max)
                json.field("min", ifPresent: value.min)
                json.field("unit", value.unit)
            }
        }
    }
}

/// The model check of claims a document had (`panel.claims.check: model`): which backend and model
/// answered, its calls and their cost (also in the document's totals), how many claims it was asked
/// about, decided with a quote from the listing, and discarded for a quote that is not in it.
public struct ClaimCheckRecord: Sendable, Hashable, Codable {
    public var backend: String?
    public var model: String?
    public var calls: Int
    /// Calls that answered (their usage and cost are the figures below).
    public var answered: Int
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var costUSD: Double?
    public var asked: Int
    public var decided: Int
    public var discarded: Int
    /// Why a call gave no answer (the claims it was about stay unsupported).
    public var errors: [String]

    enum CodingKeys: String, CodingKey {
        case backend, model, calls, answered, asked, decided, discarded, errors
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case costUSD = "cost_usd"
    }

    public init(
        backend: String? = nil, model: String? = nil, calls: Int = 0, answered: Int = 0, inputTokens: Int? = nil, outputTokens: Int? = nil,
        costUSD: Double? = nil, asked: Int = 0, decided: Int = 0, discarded: Int = 0, errors: [String] = []
    ) {
        self.backend = backend
        self.model = model
        self.calls = calls
        self.answered = answered
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.asked = asked
        self.decided = decided
        self.discarded = discarded
        self.errors = errors
    }
}

/// How many claims a tool's reviews (or a whole document) make, and how many are flagged.
public struct ClaimCounts: Sendable, Hashable, Codable {
    public var total: Int
    public var supported: Int
    public var unsupported: Int
    public var contradicted: Int

    public init(total: Int = 0, supported: Int = 0, unsupported: Int = 0, contradicted: Int = 0) {
        self.total = total
        self.supported = supported
        self.unsupported = unsupported
        self.contradicted = contradicted
    }

    public init(_ claims: some Sequence<Claim>) {
        self.init()
        for claim in claims { add(claim.status) }
    }

    public mutating func add(_ status: Claim.Status) {
        total += 1
        switch status {
        case .supported: supported += 1
        case .unsupported: unsupported += 1
        case .contradicted: contradicted += 1
        }
    }

    public static func + (a: ClaimCounts, b: ClaimCounts) -> ClaimCounts {
        ClaimCounts(
            total: a.total + b.total, supported: a.supported + b.supported, unsupported: a.unsupported + b.unsupported,
            contradicted: a.contradicted + b.contradicted)
    }
}

/// Readers' votes on a tool of a published review: how many readers voted, and how.
public struct CommunityVotes: Sendable, Hashable, Codable {
    public var readers: Int
    public var ship: Int
    public var skip: Int

    public init(readers: Int = 0, ship: Int = 0, skip: Int = 0) {
        self.readers = readers
        self.ship = ship
        self.skip = skip
    }

    /// "12 readers · 9 ship / 3 skip".
    public var line: String { "\(readers) \(readers == 1 ? "reader" : "readers") · \(ship) ship / \(skip) skip" }
}
