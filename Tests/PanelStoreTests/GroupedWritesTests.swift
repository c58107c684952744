import Foundation
import GRDB
import PanelEngine
import Synchronization
import Testing

@testable import PanelStore

/// The store's group commit: writes that come while a transaction runs are committed together in the next,
/// each in a savepoint of its own.
@Suite(.timeLimit(.minutes(1)))
struct GroupedWritesTests {
    struct Boom: Error, Equatable { var index: Int }
    final class Flag: Sendable { let raised = Mutex(false) }

    /// Runs a task on a thread of its own, so a transaction held open there blocks none of the
    /// concurrency pool's threads (two on a 2-core machine), which the writes that queue need.
    final class OwnThread: TaskExecutor {
        let queue = DispatchQueue(label: "grouped-writes-test")
        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    func store() throws -> PanelStore {
        let store = try PanelStore(
            path: FileManager.default.temporaryDirectory.appendingPathComponent("panel-grouped-\(UUID().uuidString)/panel.sqlite").path)
        try store.pool.write { db in try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY)") }
        return store
    }

    /// The writer keeps its savepoints' statement journal in memory (no temporary file written and read
    /// back); readers keep SQLite's default, where an export's large sort may spill to disk.
    @Test func theWriterJournalsSavepointsInMemory() throws {
        let store = try store()
        #expect(try store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") } == 2)
        #expect(try store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") } == 0)
    }

    /// A new store is made with 8 KiB pages (a listing's document on one page, fewer WAL frames a commit); a
    /// store made with SQLite's default 4 KiB pages opens, migrates and keeps them.
    @Test func newStoresHaveEightKilobytePagesAndOldOnesKeepTheirs() throws {
        let store = try store()
        #expect(try store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") } == 8192)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-pages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("old.sqlite").path
        let old = try DatabaseQueue(path: path)
        try old.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = 4096")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "CREATE TABLE kept (n INTEGER)")
        }
        try old.close()
        let reopened = try PanelStore(path: path)
        #expect(try reopened.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") } == 4096)
        #expect(try reopened.pool.read { db in try db.tableExists("batch_document") && db.tableExists("kept") })
    }

    /// Blocks the first write's transaction (on its thread, as a slow disk would) until `waiting` writes
    /// queue behind it, then runs `rest` concurrently; returns each of those writes' outcome by index.
    func contended(
        _ store: PanelStore, waiting: Int, rest: @escaping @Sendable (Int, Database) throws -> Void
    ) async throws -> [Int: Result<Int, Boom>] {
        let started = Flag()
        let ownThread = OwnThread()
        return try await withThrowingTaskGroup(of: (Int, Result<Int, Boom>)?.self) { group in
            group.addTask(executorPreference: ownThread) {
                try await store.grouped.write { db in
                    try db.execute(sql: "INSERT INTO t VALUES (0)")
                    started.raised.withLock { $0 = true }
                    let deadline = Date().addingTimeInterval(20)
                    while store.grouped.queuedCount < waiting, Date() < deadline { usleep(1_000) }
                }
                return nil
            }
            while !started.raised.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
            for index in 1...waiting {
                group.addTask {
                    do {
                        let value = try await store.grouped.write { db in
                            try rest(index, db)
                            return index
                        }
                        return (index, .success(value))
                    } catch let error as Boom {
                        return (index, .failure(error))
                    }
                }
            }
            var outcomes: [Int: Result<Int, Boom>] = [:]
            for try await outcome in group { if let (index, result) = outcome { outcomes[index] = result } }
            return outcomes
        }
    }

    func rows(_ store: PanelStore) throws -> [Int] {
        try store.pool.read { db in try Int.fetchAll(db, sql: "SELECT n FROM t ORDER BY n") }
    }

    @Test func writesThatComeDuringATransactionCommitTogetherAndEachFailsAlone() async throws {
        let store = try store()
        let outcomes = try await contended(store, waiting: 7) { index, db in
            try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [index])
            if index % 2 == 1 { throw Boom(index: index) }
        }
        for index in 1...7 {
            #expect(outcomes[index] == (index % 2 == 1 ? .failure(Boom(index: index)) : .success(index)))
        }
        // The odd writes' rows were rolled back with their savepoints; the even ones and the first committed.
        #expect(try rows(store) == [0, 2, 4, 6])
        // The first write's transaction, then the seven that queued during it in one more.
        #expect(store.grouped.counts == (transactions: 2, writes: 8))
    }

    @Test func aWriteAloneThatFailsRollsBackWholly() async throws {
        let store = try store()
        await #expect(throws: Boom.self) {
            try await store.grouped.write { db in
                try db.execute(sql: "INSERT INTO t VALUES (1)")
                throw Boom(index: 1)
            }
        }
        #expect(try await store.grouped.write { db in try db.execute(sql: "INSERT INTO t VALUES (2)") } == ())
        #expect(try rows(store) == [2])
        #expect(store.grouped.counts == (transactions: 2, writes: 2))
    }

    @Test func whenSQLiteRollsTheWholeTransactionBackEveryWriteInItFails() async throws {
        let store = try store()
        // Write 2 ends the transaction itself, as SQLite does on a full disk or an I/O error, and fails:
        // write 1's row went with it, and write 3 never ran — all three learn it.
        let outcomes = try await contended(store, waiting: 3) { index, db in
            try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [index])
            if index == 2 {
                try db.execute(sql: "ROLLBACK")
                throw Boom(index: 2)
            }
        }
        #expect(outcomes.count == 3)
        for index in 1...3 { #expect(outcomes[index] == .failure(Boom(index: 2))) }
        #expect(try rows(store) == [0])
        // The store goes on writing.
        try await store.grouped.write { db in try db.execute(sql: "INSERT INTO t VALUES (9)") }
        #expect(try rows(store) == [0, 9])
    }

    /// A persona's result that takes the lead waits ``SaveGrouping/window`` (on the store's clock) for the
    /// other personas' saves, which join its transaction; any other write goes at once.
    @Test func aSaveThatLeadsWaitsTheWindowForCompany() async throws {
        let store = try store()
        let clock = ManualClock()
        let grouped = GroupedWrites(pool: store.pool, window: .milliseconds(10), clock: clock)
        try await grouped.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
        #expect(grouped.counts == (transactions: 1, writes: 1))
        #expect(clock.asked.isEmpty)

        let first = Task { try await grouped.write(waitingForCompany: true) { db in try db.execute(sql: "INSERT INTO t VALUES (2)") } }
        await clock.until { $0.deadlines == [.milliseconds(10)] }
        let second = Task { try await grouped.write(waitingForCompany: true) { db in try db.execute(sql: "INSERT INTO t VALUES (3)") } }
        let finish = Task { try await grouped.write { db in try db.execute(sql: "INSERT INTO t VALUES (4)") } }
        while grouped.queuedCount < 2 { await Task.yield() }
        #expect(try rows(store) == [1])
        clock.advance(by: .milliseconds(10))
        for task in [first, second, finish] { try await task.value }
        #expect(try rows(store) == [1, 2, 3, 4])
        #expect(grouped.counts == (transactions: 2, writes: 4))
        #expect(SaveGrouping.window == .milliseconds(10))
    }

    /// While the window is shut (the worker found nothing left to claim), a save that leads waits for no
    /// company: it commits at once, with what queued meanwhile; opened again, saves wait again.
    @Test func whileTheWindowIsShutASaveThatLeadsGoesAtOnce() async throws {
        let store = try store()
        let clock = ManualClock()
        let grouped = GroupedWrites(pool: store.pool, window: .milliseconds(10), clock: clock)
        grouped.window.setOpen(false)
        try await grouped.write(waitingForCompany: true) { db in try db.execute(sql: "INSERT INTO t VALUES (1)") }
        #expect(try rows(store) == [1])
        #expect(clock.asked.isEmpty)

        grouped.window.setOpen(true)
        let waiting = Task { try await grouped.write(waitingForCompany: true) { db in try db.execute(sql: "INSERT INTO t VALUES (2)") } }
        await clock.until { $0.deadlines == [.milliseconds(10)] }
        #expect(try rows(store) == [1])
        clock.advance(by: .milliseconds(10))
        try await waiting.value
        #expect(try rows(store) == [1, 2])
    }
}
