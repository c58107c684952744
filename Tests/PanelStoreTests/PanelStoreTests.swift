import Foundation
import GRDB
import ModelBackends
import Synchronization
import Testing

@testable import PanelStore

struct PanelStoreTests {
    func temporaryStore() throws -> PanelStore {
        try PanelStore(
            path: FileManager.default.temporaryDirectory.appendingPathComponent("panel-store-\(UUID().uuidString)/panel.sqlite").path)
    }

    @Test func cacheRoundTrip() async throws {
        let store = try temporaryStore()
        let response = ChatResponse(
            text: "answer", model: "m-1", backend: "b", usage: TokenUsage(inputTokens: 10, outputTokens: 4), costUSD: 0.002,
            latency: .milliseconds(812), timeToFirstToken: .milliseconds(90), finishReason: "stop")
        try await store.store(response, for: "k1")
        let hit = try #require(try await store.cachedResponse(for: "k1"))
        #expect(hit.text == "answer" && hit.model == "m-1" && hit.backend == "b")
        #expect(hit.usage == response.usage)
        #expect(hit.latency == .milliseconds(812) && hit.timeToFirstToken == .milliseconds(90))
        #expect(try await store.cachedResponse(for: "other") == nil)
        #expect(try store.cachedResponseCount() == 1)
    }

    /// A claim bound to one job reads the job's queued listings in claim order from an index and stops at
    /// its limit (it sorted every queued listing at each claim: a batch's claims grew with its queue); a
    /// claim naming no job still orders by job age, with a sort.
    @Test func aOneJobClaimReadsItsQueueInOrderFromAnIndex() async throws {
        let store = try temporaryStore()
        func plan(_ sql: String, _ arguments: StatementArguments) async throws -> String {
            try await store.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }.joined(separator: "; ")
        }
        let oneJob = try await plan(PanelStore.claimOneJobSQL, ["j", "all", "all", "[]", 0, 8])
        #expect(oneJob.contains("batch_item_queued_order (job=?)"), "\(oneJob)")
        #expect(!oneJob.contains("TEMP B-TREE"), "\(oneJob)")
        let anyJob = try await plan(PanelStore.claimAnyJobSQL, [nil, nil, "all", "all", "[]", 0, 8])
        #expect(anyJob.contains("TEMP B-TREE FOR ORDER BY"), "\(anyJob)")
    }

    /// A cached answer older than the maximum age asked for is not served; without one, any age is.
    @Test func cachedAnswersHonourAMaximumAge() async throws {
        let store = try temporaryStore()
        try await store.store(ChatResponse(text: "old", model: "m", backend: "b"), for: "k")
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE response_cache SET created_at = '2020-01-01 00:00:00.000' WHERE key = 'k'")
        }
        #expect(try await store.cachedResponse(for: "k", maxAge: .seconds(3600)) == nil)
        #expect(try await store.cachedResponse(for: "k", maxAge: nil)?.text == "old")
        try await store.store(ChatResponse(text: "new", model: "m", backend: "b"), for: "k")
        #expect(try await store.cachedResponse(for: "k", maxAge: .seconds(3600))?.text == "new")
    }

    /// A store written by a newer panel, or missing a table, is refused with a message naming it — not
    /// used as if it were whole.
    @Test func newerOrDamagedStoresAreRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("panel-store-\(UUID().uuidString)/panel.sqlite").path
        _ = try PanelStore(path: path)
        let raw = try DatabaseQueue(path: path)
        try raw.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        #expect {
            try PanelStore(path: path)
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("newer version")
        }
        try raw.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v99-from-the-future'")
            try db.execute(sql: "DROP TABLE batch_name")
        }
        #expect {
            try PanelStore(path: path)
        } throws: { error in
            "\(error)".contains("batch_name") && "\(error)".contains("damaged")
        }
    }

    /// A write that fails part-way leaves nothing behind and no transaction open; timestamps are
    /// written in GRDB's own date form, so they read back as dates.
    @Test func aFailedWriteRollsBackWholly() async throws {
        struct Boom: Error {}
        let store = try temporaryStore()
        try store.testJob("j")
        #expect(throws: Boom.self) {
            try store.writeTransaction { db in
                try db.execute(sql: "INSERT INTO batch_result (job, key, persona, review, created_at) VALUES ('j', 'a', 'p', '{}', 0)")
                throw Boom()
            }
        }
        #expect(try store.savedResultCount(job: "j") == 0)
        try await store.testSave("j", "a", "p", "{}", cost: 0.5)
        #expect(try store.savedResultCount(job: "j") == 1)
        #expect(try store.spent(job: "j") == 0.5)
        let created = try await store.pool.read { db in try Date.fetchOne(db, sql: "SELECT created_at FROM batch_result") }
        #expect(abs(try #require(created).timeIntervalSinceNow) < 600)
    }

    /// A new store is made from the squashed schema in one step; it is the schema the migrations make
    /// one by one, with the same migrations recorded (a later migration then runs on it as usual).
    @Test func aNewStoreHasTheSchemaItsMigrationsMake() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("panel-store-\(UUID().uuidString)/panel.sqlite").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let store = try PanelStore(path: path)
        let migrated = try DatabaseQueue()
        try PanelStore.migrator.migrate(migrated)
        func schema(_ reader: any DatabaseReader) throws -> [String] {
            try reader.read { db in
                try Row.fetchAll(db, sql: "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").map {
                    [$0[0], $0[1], $0[2], $0[3] ?? "(none)"].joined(separator: " | ")
                }
            }
        }
        func applied(_ reader: any DatabaseReader) throws -> [String] {
            try reader.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier") }
        }
        let script = try migrated.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        }
        #expect(try schema(store.pool) == schema(migrated), "PanelStore.squashedSchema, remade:\n\(script.joined(separator: ";\n"))")
        #expect(try applied(store.pool) == applied(migrated))
        #expect(try store.integrityCheck() == "ok")
        // SQLite keeps the script's statements as they are written, in its order.
        #expect(
            try store.pool.read { db in try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid") }
                == PanelStore.squashedSchema)
    }

    /// A store written before results moved to a WITHOUT ROWID table (v4), and back to a rowid table
    /// with documents (v15), keeps every result and document, and its keys stay unique.
    @Test func resultsAndDocumentsSurviveTheirTablesBeingRebuilt() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("panel-store-\(UUID().uuidString)/panel.sqlite").path
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        do {
            let old = try DatabasePool(path: path)
            try PanelStore.migrator.migrate(old, upTo: "v3-batch-outcome")
            try await old.write { db in
                try db.execute(sql: "INSERT INTO batch_job (name, created_at) VALUES ('j', '2026-01-01 00:00:00.000')")
                for persona in ["builder", "skeptic"] {
                    try db.execute(
                        sql:
                            "INSERT INTO batch_result VALUES ('j', 'a', ?, '{\"persona\":\"' || ? || '\"}', 0.25, '2026-01-01 00:00:00.000')",
                        arguments: [persona, persona])
                }
            }
            try PanelStore.migrator.migrate(old, upTo: "v14-claim-order")
            try await old.write { db in
                #expect(
                    try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'batch_result'")?.contains("WITHOUT ROWID")
                        == true)
                for (key, fileExtension) in [("a", "md"), ("a", "json"), ("b", "md")] {
                    try db.execute(
                        sql: "INSERT INTO batch_document VALUES ('j', ?, ?, ?)", arguments: [key, fileExtension, "\(key).\(fileExtension)"])
                }
            }
        }
        let store = try PanelStore(path: path)
        #expect(try store.results(job: "j", key: "a") == ["builder": #"{"persona":"builder"}"#, "skeptic": #"{"persona":"skeptic"}"#])
        #expect(try store.spent(job: "j") == 0.5)
        for table in ["batch_result", "batch_document"] {
            let (sql, indexes) = try await store.pool.read { db in
                (
                    try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [table]) ?? "",
                    try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE tbl_name = ? AND type = 'index'", arguments: [table])
                )
            }
            #expect(!sql.contains("WITHOUT ROWID"))
            // The key is a UNIQUE constraint's index, the only index on the table.
            #expect(indexes == ["sqlite_autoindex_\(table)_1"])
        }
        let documents = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT key, extension, text FROM batch_document ORDER BY rowid").map {
                "\($0[0] as String)/\($0[1] as String)=\($0[2] as String)"
            }
        }
        #expect(documents == ["a/json=a.json", "a/md=a.md", "b/md=b.md"])
        let duplicate = await #expect(throws: DatabaseError.self) {
            try await store.pool.write { db in try db.execute(sql: "INSERT INTO batch_document VALUES ('j', 'a', 'md', 'again')") }
        }
        #expect(duplicate?.resultCode == .SQLITE_CONSTRAINT)
        try await store.testSave("j", "a", "builder", "{}", cost: nil)
        #expect(try store.results(job: "j", key: "a") == ["builder": "{}", "skeptic": #"{"persona":"skeptic"}"#])
        #expect(try store.savedResultCount(job: "j") == 2)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func twoHandlesShareOneFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("panel-store-\(UUID().uuidString)/panel.sqlite").path
        let first = try PanelStore(path: path)
        let second = try PanelStore(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                let store = index % 2 == 0 ? first : second
                group.addTask {
                    try await store.store(ChatResponse(text: "t\(index)", model: "m", backend: "b"), for: "k\(index)")
                }
            }
            try await group.waitForAll()
        }
        #expect(try first.cachedResponseCount() == 50)
        #expect(try await second.cachedResponse(for: "k7")?.text == "t7")
    }

    @Test func cachingBackendSkipsUncacheableAnswersAndCountsNoCallsOnHits() async throws {
        let store = try temporaryStore()
        let counter = Counter()
        struct Counting: ModelBackend {
            let counter: Counter
            let name = "counting"
            func complete(_ request: ChatRequest) async throws -> ChatResponse {
                counter.increment()
                return ChatResponse(text: request.messages.last?.content ?? "", model: "m", backend: name, costUSD: 0.01)
            }
        }
        let caching = CachingBackend(Counting(counter: counter), cache: store, model: "m", isCacheable: { $0.text != "bad" })
        _ = try await caching.complete(ChatRequest(messages: [.user("good")]))
        let hit = try await caching.complete(ChatRequest(messages: [.user("good")]))
        #expect(counter.value == 1)
        #expect(hit.cached && hit.attempts == 0 && hit.costUSD == 0)
        _ = try await caching.complete(ChatRequest(messages: [.user("bad")]))
        _ = try await caching.complete(ChatRequest(messages: [.user("bad")]))
        #expect(counter.value == 3)
        let refreshing = CachingBackend(Counting(counter: counter), cache: store, model: "m", mode: .refresh)
        _ = try await refreshing.complete(ChatRequest(messages: [.user("good")]))
        #expect(counter.value == 4)
        let otherModel = CachingBackend(Counting(counter: counter), cache: store, model: "m2")
        _ = try await otherModel.complete(ChatRequest(messages: [.user("good")]))
        #expect(counter.value == 5)  // the model is part of the key
    }
}

final class Counter: Sendable {
    private let state = Mutex(0)
    func increment() { state.withLock { $0 += 1 } }
    var value: Int { state.withLock { $0 } }
}
