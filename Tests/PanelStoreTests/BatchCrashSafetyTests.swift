import Foundation
import GRDB
import PanelEngine
import Testing

@testable import PanelStore

/// The store's crash safety: a process killed in the middle of a write transaction leaves the job
/// exactly as it was after the last commit — SQLite's WAL recovery ignores frames no commit closed.
///
/// The "kill" is taken as a snapshot of the files on disk while the transaction is open, with the
/// page cache made small enough that the transaction's pages have already spilled into the WAL:
/// what a SIGKILL at that instant would leave (the kernel keeps what was written; nothing else is).
struct BatchCrashSafetyTests {
    let personas = ["builder", "skeptic", "founder", "futurist"]

    func review(_ persona: String) -> String {
        #"{"persona":"\#(persona)","status":"answered","score":70,"verdict":"ship","text":"ok","flags":[],"attempts":1}"#
    }

    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Settling folds the write-ahead log into the database file: a copy of that file alone holds what
    /// was committed (before, the job's rows were in the log only).
    @Test func settlingFoldsTheLogIntoTheDatabaseFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-settle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("panel.sqlite").path
        let store = try PanelStore(path: path)
        try store.testJob("j")
        for persona in personas { try await store.testSave("j", "a", persona, review(persona), cost: 0.001) }
        func resultsInFileAlone(_ name: String) throws -> Int {
            let copy = directory.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            // Before, not even the schema is in the file alone: no table, no results.
            return try DatabaseQueue(path: copy).read { db in (try? Int.fetchOne(db, sql: "SELECT COUNT(*) FROM batch_result")) ?? 0 }
        }
        #expect(try resultsInFileAlone("before.sqlite") == 0)
        await store.settle()
        #expect(try resultsInFileAlone("after.sqlite") == 4)
    }

    @Test func aWriteKilledMidTransactionLeavesTheLastCommittedJob() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-crash-\(UUID().uuidString)")
        let crashed = directory.appendingPathComponent("after-kill")
        try FileManager.default.createDirectory(at: crashed, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("panel.sqlite").path
        let store = try PanelStore(path: path)
        try store.testJob("j")
        // Committed: listing a complete (four results, a name, its outcome); listing b half done.
        for persona in personas { try await store.testSave("j", "a", persona, review(persona), cost: 0.001) }
        #expect(
            try await store.testFinish(
                "j", "a", base: "tool", outcome: .init(verdict: "ship", shipShare: 1, scoreMedian: 70, costUSD: 0.004, answered: 4))
                == "tool")
        for persona in personas.prefix(2) {
            try await store.testSave("j", "b", persona, review(persona), cost: 0.001)
        }
        let walBefore = fileSize(path + "-wal")

        // The interrupted transaction: b's last results, its name and its completion, plus enough rows
        // to push pages out to the WAL before any commit.
        let walDuring = try await store.pool.writeWithoutTransaction { db in
            var walDuring = 0
            try db.execute(sql: "PRAGMA cache_size = 10")
            defer { try? db.execute(sql: "PRAGMA cache_size = -2000") }
            try db.inTransaction {
                for persona in personas.dropFirst(2) {
                    try db.execute(
                        sql: "INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: ["j", "b", persona, review(persona), 0.001, Date()])
                }
                try db.execute(sql: "INSERT INTO batch_name (job, name, key) VALUES ('j', 'tool-2', 'b')")
                try db.execute(
                    sql: """
                        UPDATE batch_item SET name = 'Tool', status = 'complete', documents = '["out/tool-2.md"]', verdict = 'ship',
                          updated_at = ? WHERE job = 'j' AND key = 'b'
                        """, arguments: [Date()])
                let filler = String(repeating: "x", count: 4000)
                for index in 0..<600 {
                    try db.execute(
                        sql: "INSERT INTO batch_result (job, key, persona, review, created_at) VALUES ('j', ?, 'builder', ?, ?)",
                        arguments: ["filler-\(index)", filler, Date()])
                }
                // SIGKILL here: copy what is on disk.
                walDuring = fileSize(path + "-wal")
                for suffix in ["", "-wal"] {
                    try FileManager.default.copyItem(
                        atPath: path + suffix, toPath: crashed.appendingPathComponent("panel.sqlite" + suffix).path)
                }
                return .rollback
            }
            return walDuring
        }
        #expect(walDuring > walBefore + 1_000_000, "the open transaction's pages must be on disk for this test to mean anything")

        let recovered = try PanelStore(path: crashed.appendingPathComponent("panel.sqlite").path)
        #expect(try recovered.integrityCheck() == "ok")
        #expect(try recovered.savedResultCount(job: "j") == 6)
        #expect(Set(try recovered.results(job: "j", key: "b").keys) == ["builder", "skeptic"])
        let items = try recovered.items(job: "j")
        #expect(items.map(\.key) == ["a", "b"])
        #expect(items.last?.status == .pending)
        #expect(items.first?.status == .complete && items.first?.documents == ["tool.md"] && items.first?.outcome.answered == 4)
        #expect(abs(try recovered.spent(job: "j") - 0.006) < 1e-12)
        // The job goes on from there: b gets the next free name, a keeps its own.
        #expect(try await recovered.testFinish("j", "b", base: "tool") == "tool-2")
        #expect(try await recovered.testFinish("j", "a", base: "tool") == "tool")
        // The original store rolled back too and is still usable.
        #expect(try store.savedResultCount(job: "j") == 6)
        #expect(try store.integrityCheck() == "ok")
    }
}
