import Foundation
import GRDB
import PanelEngine

@testable import PanelStore

struct NotClaimed: Error {}

extension PanelStore {
    /// Makes a job with nothing queued.
    func testJob(_ job: String) throws {
        _ = try enqueue(job: job, settings: nil, budgetUSD: nil, listings: [], retry: false)
    }

    /// Queues a listing (when it is not there) and claims that one for a test, as one process would.
    func testClaim(_ job: String, _ key: String, owner: String = "test", position: Int = 0) throws -> ItemClaim {
        _ = try enqueue(
            job: job, settings: nil, budgetUSD: nil, listings: [QueuedListing(key: key, position: position, listing: "{}")], retry: false)
        let claim = ItemClaim(job: job, key: key, token: UUID().uuidString)
        try pool.write { db in
            try db.execute(
                sql: "UPDATE batch_item SET lease_owner = ?, lease_token = ?, lease_expires = \(Self.epoch) + 60 WHERE job = ? AND key = ?",
                arguments: [owner, claim.token, job, key])
        }
        return claim
    }

    /// Saves a persona result under a fresh claim.
    func testSave(_ job: String, _ key: String, _ persona: String, _ review: String, cost: Double?) async throws {
        _ = try await saveResult(SavedResult(persona: persona, review: review, costUSD: cost), claim: testClaim(job, key), settling: nil)
    }

    /// Records a listing finished under a fresh claim; returns its document name.
    func testFinish(
        _ job: String, _ key: String, base: String, status: BatchItem.Status = .complete, outcome: BatchItem.Outcome = .init()
    )
        async throws -> String?
    {
        try await finishItem(
            testClaim(job, key), name: base, status: status, outcome: outcome, base: base, lastResult: nil, settling: nil,
            isTaken: { _ in false }, texts: ["md": "# \(base)"], documents: { ["\($0).md"] })
    }

    func items(job: String) throws -> [BatchItem] {
        var items: [BatchItem] = []
        try forEachItem(job: job) { items.append($0) }
        return items
    }
}
