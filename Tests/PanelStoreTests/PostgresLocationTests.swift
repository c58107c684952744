import Foundation
import PanelEngine
import PanelPostgres
import Testing

/// Store URLs read as libpq reads them, and a password never shown.
struct PostgresLocationTests {
    @Test func urlsPasswordsAndModes() throws {
        let full = try PostgresLocation(url: "postgres://panel:s%40cret@db.internal:6432/reviews?sslmode=require", environment: [:])
        #expect(full.user == "panel" && full.password == "s@cret" && full.host == "db.internal" && full.port == 6432)
        #expect(full.database == "reviews" && full.sslMode == .require)
        #expect(full.redacted == "postgres://panel@db.internal:6432/reviews" && !full.description.contains("cret"))
        let plain = try PostgresLocation(url: "postgresql://panel@localhost/reviews", environment: ["PGPASSWORD": "from-env"])
        #expect(plain.port == 5432 && plain.password == "from-env" && plain.sslMode == .prefer)
        #expect(PostgresLocation.redact("postgres://u:hunter2@h/d") == "postgres://u:***@h/d")
        #expect(PostgresLocation.isURL("POSTGRES://x") && !PostgresLocation.isURL(".panel/panel.sqlite"))
    }

    @Test func aPasswordFileIsRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)").path
        try "# comment\nother:5432:*:panel:wrong\ndb.internal:*:reviews:panel:pa\\:ss\n*:*:*:*:fallback\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let location = try PostgresLocation(url: "postgres://panel@db.internal/reviews", environment: ["PGPASSFILE": path])
        #expect(location.password == "pa:ss")
        let other = try PostgresLocation(url: "postgres://someone@elsewhere/x", environment: ["PGPASSFILE": path])
        #expect(other.password == "fallback")
    }

    @Test(arguments: [
        ("postgres://db.internal/reviews", "names no user"),
        ("postgres://panel@db.internal", "names no database"),
        ("postgres://panel:hunter2@db.internal/reviews?sslmode=sometimes", "sslmode must be"),
        ("postgres://panel:hunter2@db.internal/reviews?search_path=x", "unknown parameter"),
        ("mysql://panel@db/reviews", "is not a store URL"),
    ])
    func badURLsSayWhatToWrite(_ case_: (String, String)) {
        do {
            _ = try PostgresLocation(url: case_.0, environment: [:])
            Issue.record("accepted \(case_.0)")
        } catch {
            #expect(error.description.contains(case_.1), "\(error)")
            #expect(!error.description.contains("hunter2"), "\(error)")
        }
    }

    /// A wrong password or an unreachable server is a sentence that names the store, never its password.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func connectionFailuresAreSentences() async throws {
        let base = try #require(StoreKind.postgresURL)
        var components = try #require(URLComponents(string: base))
        components.password = "not-the-password-91f3"
        do {
            _ = try await PostgresStore.open(url: try #require(components.string), environment: [:])
            Issue.record("opened with a wrong password")
        } catch {
            let text = "\(error)"
            #expect(text.contains("password") && !text.contains("not-the-password-91f3"), "\(text)")
        }
        do {
            _ = try await PostgresStore.open(url: "postgres://panel:secret-77@127.0.0.1:9/none?sslmode=disable", environment: [:])
            Issue.record("opened a store nobody serves")
        } catch {
            let text = "\(error)"
            #expect(text.contains("cannot connect") && !text.contains("secret-77"), "\(text)")
        }
    }
}

/// Opening a PostgreSQL store: schema versions applied once when several processes start together, and a
/// store from a newer panel refused.
struct PostgresSchemaTests {
    @Test(.enabled(if: StoreKind.postgresURL != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func severalProcessesOpeningANewStoreAtOnce() async throws {
        let base = try #require(StoreKind.postgresURL)
        let database = "panel_schema_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await PostgresStore.administer(url: base, ["CREATE DATABASE \(database)"])
        let url = StoreKind.url(base, database: String(database))
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<6 { group.addTask { try await PostgresStore.open(url: url) } }
            return try await group.reduce(into: [PostgresStore]()) { $0.append($1) }
        }
        #expect(stores.count == 6)
        // Documents and answers are compressed with lz4 (pglz cost the server most of its time per listing).
        for (table, column) in [("batch_document", "text"), ("batch_result", "review"), ("team_review", "document")] {
            #expect(try await stores[0].compression(table: table, column: column) == "lz4", "\(table).\(column)")
        }
        _ = try await stores[0].enqueue(job: "j", settings: nil, budgetUSD: nil, listings: [], retry: false)
        #expect(try await stores[5].jobExists("j"))
        for store in stores { await store.close() }
        // A schema from a newer panel is refused, naming the store.
        try await PostgresStore.administer(url: url, ["INSERT INTO panel_schema (version) VALUES (999)"])
        do {
            _ = try await PostgresStore.open(url: url)
            Issue.record("opened a store of a newer schema")
        } catch {
            #expect("\(error)".contains("newer version of panel") && "\(error)".contains(String(database)), "\(error)")
        }
        try await PostgresStore.administer(url: base, ["DROP DATABASE IF EXISTS \(database) WITH (FORCE)"])
    }
}
