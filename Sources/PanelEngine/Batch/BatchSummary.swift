import Foundation
import ModelBackends

/// One listing's line in a batch summary.
public struct BatchRowSummary: Sendable, Encodable {
    public var key: String
    public var name: String?
    public var status: String
    public var verdict: String?
    public var shipShare: Double?
    public var scoreMedian: Double?
    public var costUSD: Double?
    public var documents: [String]
    public var error: String?
    public var answered: Int?

    enum CodingKeys: String, CodingKey {
        case key, name, status, verdict, documents, error, answered
        case shipShare = "ship_share"
        case scoreMedian = "score_median"
        case costUSD = "cost_usd"
    }

    /// The row as compact JSON, field by field (keys sorted; the absent ones left out, as `Encodable`'s
    /// `encodeIfPresent` does — a test holds the two to the same bytes): a summary has a row per listing.
    public var canonicalText: String {
        var json = JSONTextWriter(pretty: false, capacity: 256)
        json.object { json in
            json.field("answered", ifPresent: answered)
            json.field("cost_usd", ifPresent: costUSD)
            json.key("documents")
            json.array(documents) { json, document in json.string(document) }
            json.field("error", ifPresent: error)
            json.field("key", key)
            json.field("name", ifPresent: name)
            json.field("score_median", ifPresent: scoreMedian)
            json.field("ship_share", ifPresent: shipShare)
            json.field("status", status)
            json.field("verdict", ifPresent: verdict)
        }
        return json.text
    }

    public init(_ item: BatchItem) {
        key = item.key
        name = item.name
        status = item.status == .pending ? "not_started" : item.status.rawValue
        verdict = item.outcome.verdict
        shipShare = item.outcome.shipShare
        scoreMedian = item.outcome.scoreMedian
        costUSD = item.outcome.costUSD
        documents = item.documents
        error = item.error
        answered = item.outcome.answered
    }
}

/// A batch job's counts at the end of a run.
public struct BatchSummary: Sendable {
    public var complete: Int
    public var partial: Int
    public var failed: Int
    public var notStarted: Int
    public var spentUSD: Double
    public var budgetStopped: Bool

    /// Every listing of the job complete, and nothing left for a later run.
    public var allComplete: Bool { !budgetStopped && partial == 0 && failed == 0 && notStarted == 0 }
}

extension BatchDriver {
    /// The summary file's name in the sink.
    public static let summaryFile = "summary.json"

    /// Document names a listing never gets, whatever its name: `summary` would be `summary.json` in
    /// JSON, the batch's own summary.
    static let reservedNames: Set<String> = ["summary"]

    /// Checks before any call that the summary can be written without destroying a file panel did not
    /// write: a `summary.json` already in the sink must be a batch summary.
    public func checkSummaryFile() throws {
        guard let sink else { return }
        try Self.checkSummaryFile(in: sink)
    }

    /// Checks that `summary.json` in the sink, if there, is a batch summary panel may replace.
    public static func checkSummaryFile(in sink: any DocumentSink) throws {
        let address = sink.address(file: Self.summaryFile)
        guard sink.exists(address) else { return }
        guard let handle = FileHandle(forReadingAtPath: address) else { return }
        defer { try? handle.close() }
        let head = String(decoding: (try? handle.read(upToCount: 4096)) ?? Data(), as: UTF8.self)
        guard head.hasPrefix("{\n  \"job\": ") else {
            throw SinkError(
                description:
                    "\(address) exists and is not a panel batch summary; panel writes summary.json there and never overwrites a file it did not write — move it, or choose another --out"
            )
        }
    }

    /// Writes `summary.json` to the sink (whole or not at all), streamed from the store in input order,
    /// handing each row to `onRow` as well (for a table on a terminal).
    public func writeSummary(budgetStopped: Bool, onRow: (BatchRowSummary) -> Void = { _ in }) async throws -> BatchSummary {
        guard let sink else { throw SinkError(description: "job \(job): no directory to write the summary to") }
        // The run's writes are over: the store folds its log into the database beside the summary's reads.
        async let settled: Void = store.settle()
        let summary = try await Self.writeSummary(
            store: store, job: job, budgetUSD: options.budgetUSD, budgetStopped: budgetStopped, to: sink, onRow: onRow)
        await settled
        return summary
    }

    /// Writes a job's `summary.json` to a sink — after a run, or when a job is exported.
    public static func writeSummary(
        store: any QueueStore & BudgetStore, job: String, budgetUSD: Double?, budgetStopped: Bool, to sink: any DocumentSink,
        onRow: (BatchRowSummary) -> Void = { _ in }
    ) async throws -> BatchSummary {
        let counts = try await store.itemCounts(job: job)
        let spent = try await store.spent(job: job)
        let summary = BatchSummary(
            complete: counts[.complete] ?? 0, partial: counts[.partial] ?? 0, failed: counts[.failed] ?? 0,
            notStarted: counts[.pending] ?? 0, spentUSD: spent, budgetStopped: budgetStopped)
        let budget = budgetUSD
        try await sink.write(to: sink.address(file: Self.summaryFile)) { file in
            var buffer = "{\n"
            buffer += "  \"job\": \(JSONValue.string(job).canonicalText()),\n"
            buffer +=
                "  \"complete\": \(summary.complete), \"partial\": \(summary.partial), \"failed\": \(summary.failed), \"not_started\": \(summary.notStarted),\n"
            buffer += "  \"spent_usd\": \(JSONValue.double((spent * 1e8).rounded() / 1e8).canonicalText()), "
            buffer += "\"budget_usd\": \(budget.map { JSONValue.double($0).canonicalText() } ?? "null"), "
            buffer += "\"budget_stopped\": \(budgetStopped),\n  \"listings\": ["
            var first = true
            // Streamed from the store in input order, 64 KiB at a time: constant memory whatever the job's size.
            try await store.forEachItem(job: job) { item in
                let row = BatchRowSummary(item)
                buffer += (first ? "\n    " : ",\n    ") + row.canonicalText
                first = false
                if buffer.utf8.count > 1 << 16 {
                    try file.append(buffer)
                    buffer = ""
                }
                onRow(row)
            }
            try file.append(buffer + "\n  ]\n}\n")
        }
        return summary
    }
}
