import ModelBackends

/// A review asked of the team server is a job on the store's queue: job `review:<id>`, one queued item
/// (key ``itemKey``) holding the review's listings as a JSON array. The same queue, leases, fencing and
/// attempt counting as a batch's listings, so any server or `panel worker` on the store may work it.
extension TeamReview {
    /// The prefix of review jobs' names (batch names may not start with it).
    public static let jobPrefix = "review:"
    /// The key of a review job's one item.
    public static let itemKey = "review"

    /// The job that works this review.
    public var job: String { Self.job(id) }

    public static func job(_ id: String) -> String { jobPrefix + id }

    /// The review a job works, when it is a review job.
    public static func id(ofJob job: String) -> String? {
        job.hasPrefix(jobPrefix) ? String(job.dropFirst(jobPrefix.count)) : nil
    }
}

/// Which jobs a worker claims from.
public enum JobKinds: String, Sendable, Hashable {
    /// Batches and reviews (`panel worker`).
    case all
    /// Reviews asked of the team server only.
    case reviews
    /// Batch jobs only.
    case batches

    /// Whether a job of this name is one of these kinds.
    public func contains(_ job: String) -> Bool {
        switch self {
        case .all: true
        case .reviews: TeamReview.id(ofJob: job) != nil
        case .batches: TeamReview.id(ofJob: job) == nil
        }
    }
}

/// One event of a review as the store keeps it: its place in the review's log (1, 2, …), its SSE name and
/// its data (a JSON object as canonical text). Any server reading the log sends the same stream.
public struct ReviewEventRecord: Sendable, Hashable {
    public var seq: Int
    public var name: String
    public var data: String

    public init(seq: Int = 0, name: String, data: String) {
        self.seq = seq
        self.name = name
        self.data = data
    }
}

/// How a review job ends, in one step under its lease: the item finished, the review's status, document
/// and cost recorded, its token charged (its reservation given back), its last events appended.
public struct ReviewCompletion: Sendable, Hashable {
    public var review: String
    public var status: TeamReview.Status
    /// The v1 JSON document (nil when failed).
    public var document: String?
    public var verdicts: [String]
    public var costUSD: Double?
    public var error: String?
    public var lastResult: SavedResult?
    public var events: [ReviewEventRecord]

    public init(
        review: String, status: TeamReview.Status, document: String?, verdicts: [String], costUSD: Double?, error: String?,
        lastResult: SavedResult?, events: [ReviewEventRecord]
    ) {
        self.review = review
        self.status = status
        self.document = document
        self.verdicts = verdicts
        self.costUSD = costUSD
        self.error = error
        self.lastResult = lastResult
        self.events = events
    }
}

extension ReviewCompletion {
    /// A review whose job was given up on (claimed too many times without finishing): failed, its token
    /// charged what its saved results cost.
    public static func givenUp(_ review: String, error: String) -> ReviewCompletion {
        ReviewCompletion(
            review: review, status: .failed, document: nil, verdicts: [], costUSD: nil, error: error, lastResult: nil,
            events: [ReviewEventRecord.done(review, status: .failed, error: error)])
    }
}

extension ReviewEventRecord {
    /// The last event of every review's stream.
    public static func done(_ review: String, status: TeamReview.Status, error: String?) -> ReviewEventRecord {
        var data: [String: JSONValue] = ["id": .string(review), "status": .string(status.rawValue)]
        if let error { data["error"] = .string(error) }
        return ReviewEventRecord(name: "done", data: JSONValue.object(data).canonicalText())
    }
}
