import PanelEngine

@testable import PanelStore

struct NotClaimed: Error {}

extension PanelStore {
    /// Claims a listing for a test, as one process would.
    func testClaim(_ job: String, _ key: String, owner: String = "test", position: Int = 0) throws -> ItemClaim {
        let results = try claim(job: job, listings: [(key, position)], owner: owner, lease: .seconds(60), settled: { _ in false })
        guard case .claimed(let claim, _)? = results.first else { throw NotClaimed() }
        return claim
    }

    /// Saves a persona result under a fresh claim.
    func testSave(_ job: String, _ key: String, _ persona: String, _ review: String, cost: Double?) throws {
        _ = try saveResult(SavedResult(persona: persona, review: review, costUSD: cost), claim: testClaim(job, key), settling: nil)
    }

    /// Records a listing finished under a fresh claim; returns its document name.
    func testFinish(
        _ job: String, _ key: String, base: String, status: BatchItem.Status = .complete, outcome: BatchItem.Outcome = .init()
    )
        throws -> String?
    {
        try finishItem(
            testClaim(job, key), name: base, status: status, outcome: outcome, base: base, lastResult: nil, settling: nil,
            isTaken: { _ in false }, documents: { ["out/\($0).md"] })
    }

    func items(job: String) throws -> [BatchItem] {
        var items: [BatchItem] = []
        try forEachItem(job: job) { items.append($0) }
        return items
    }
}
