import Foundation
import MockProvider
import PanelEngine
import PanelPostgres
import PanelStore
import Testing

@Suite(.timeLimit(.minutes(5)))
struct BatchTests {
    let cli = PanelCLITests()

    func directory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("panel-batch-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// N distinct listings as a JSON Lines file.
    func listings(_ count: Int, in dir: URL, duplicateNames: Bool = false) throws -> String {
        let lines = (0..<count).map { index in
            #"{"name": "Tool \#(duplicateNames ? 0 : index)", "description": "Tool number \#(index) does a thing."}"#
        }
        let path = dir.appendingPathComponent("listings.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A directory with `count` listings in a JSON Lines file, and where a batch over them writes.
    func workspace(_ name: String, listings count: Int) throws -> (dir: URL, input: String, out: URL, store: String) {
        let dir = try directory(name)
        return (dir, try listings(count, in: dir), dir.appendingPathComponent("out"), dir.appendingPathComponent("s.sqlite").path)
    }

    /// A database of its own on the test server (`PANEL_TEST_POSTGRES_URL`): its URL, and how to drop it.
    func scratchPostgres() async throws -> (url: String, drop: @Sendable () async throws -> Void) {
        let base = try #require(ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"])
        let database = "panel_cli_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try await PostgresStore.administer(url: base, ["CREATE DATABASE \(database)"])
        var components = try #require(URLComponents(string: base))
        components.path = "/" + database
        let url = try #require(components.string)
        return (url, { try await PostgresStore.administer(url: base, ["DROP DATABASE IF EXISTS \(database) WITH (FORCE)"]) })
    }

    func summary(_ out: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as? [String: Any])
    }

    @Test func badRowsAreReportedAndTheBatchGoesOn() async throws {
        let dir = try directory("bad")
        let rows = dir.appendingPathComponent("rows.jsonl").path
        try """
        {"name": "Acme Relay", "description": "Webhooks."}
        {"name": 5, "description": "x"}
        not json

        {"name": "Acme Relay", "description": "Same name, other tool."}
        """.write(toFile: rows, atomically: true, encoding: .utf8)
        try await MockProvider.withServer { handle in
            let out = dir.appendingPathComponent("out")
            let result = try await cli.panel([
                "batch", rows, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--store",
                dir.appendingPathComponent("s.sqlite").path,
            ])
            #expect(result.code == 3)
            #expect(result.stderr.contains("rows.jsonl:2: field 'name': must be text"))
            #expect(result.stderr.contains("rows.jsonl:3: is not valid JSON"))
            let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(files == ["acme-relay-2.md", "acme-relay.md", "summary.json"])
            let summary = try summary(out)
            #expect(summary["complete"] as? Int == 2 && summary["failed"] as? Int == 2)
            // `panel jobs` reads the same state back from the store.
            let store = dir.appendingPathComponent("s.sqlite").path
            let list = try await cli.panel(["jobs", "list", "--store", store, "--json"])
            let jobs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            #expect(jobs.count == 1 && jobs[0]["complete"] as? Int == 2 && jobs[0]["failed"] as? Int == 2, "\(list.stdout)")
            let name = try #require(jobs[0]["name"] as? String)
            let status = try await cli.panel(["jobs", "status", name, "--store", store])
            #expect(status.code == 0 && status.stdout.contains("complete 2 · partial 0 · failed 2"), "\(status.stdout)")
            #expect(status.stdout.contains("rows.jsonl:2: field 'name': must be text"), "\(status.stdout)")
            #expect(status.stdout.contains("rows.jsonl:3: is not valid JSON"), "\(status.stdout)")
            let missing = try await cli.panel(["jobs", "status", "no-such-job", "--store", store])
            #expect(missing.code == 2 && missing.stderr.contains("panel jobs list"))
            // Reading never makes a store.
            let nowhere = dir.appendingPathComponent("none/s.sqlite").path
            let absent = try await cli.panel(["jobs", "list", "--store", nowhere])
            #expect(absent.code == 2 && absent.stderr.contains("no such store") && !FileManager.default.fileExists(atPath: nowhere))
        }
    }

    /// A batch killed with SIGKILL resumes: every listing ends complete, nothing is written twice or
    /// half-written, and no persona call that had completed is made again. Killed at several points:
    /// at start-up (before any result), early, midway, and near the end (while documents are written).
    @Test(arguments: [0, 3, 20, 44])
    func resumesAfterKill9WithoutRepeatingPaidCalls(killAfterSaved: Int) async throws {
        let (dir, input, out, store) = try workspace("kill-\(killAfterSaved)", listings: 12)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(150)
        try await MockProvider.withServer(configuration) { handle in
            let arguments = [
                "batch", input, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--store", store, "--concurrency", "4",
                "--job", "k",
            ]
            let requestsBefore = handle.stats.snapshot.chatRequests
            let process = Process()
            process.executableURL = PanelCLITests.binary
            process.arguments = arguments
            process.currentDirectoryURL = dir
            process.standardError = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // Kill it once the wanted number of results is saved (0: as soon as it has started).
            let database = try PanelStore(path: store)
            for _ in 0..<400 {
                if killAfterSaved == 0 || (try? database.savedResultCount(job: "k")) ?? 0 >= killAfterSaved { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let saved = try database.savedResultCount(job: "k")
            // Requests the killed process had already sent may still reach the mock: wait until the
            // count stops moving before taking it.
            var before = handle.stats.snapshot.chatRequests
            var stable = 0
            while stable < 3 {
                try await Task.sleep(for: .milliseconds(100))
                let now = handle.stats.snapshot.chatRequests
                stable = now == before ? stable + 1 : 0
                before = now
            }
            #expect(saved >= killAfterSaved && saved < 48)
            // What the killed run loses is what was in flight on it: the personas of the listings it held
            // (two, with --concurrency 4) not yet saved — asked, or answered and not yet saved (a call's slot
            // is given back when its answer arrives, before the save). Only those are asked again.
            #expect(before - requestsBefore - saved <= 2 * 4)
            // Rerunning the job (no --resume needed) continues it.
            let resumed = try await cli.panel(arguments)
            #expect(resumed.code == 0, "\(resumed.stderr)")
            #expect(try database.savedResultCount(job: "k") == 48)
            // The rerun asked only what had not been saved.
            #expect(handle.stats.snapshot.chatRequests - before == 48 - saved)
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(names == ((0..<12).map { "tool-\($0).md" } + ["summary.json"]).sorted())  // no stray or temporary files
            for name in names where name.hasSuffix(".md") {
                let text = try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
                #expect(text.hasPrefix("# Tool ") && text.hasSuffix("_\n"))  // whole documents only
            }
            let summary = try summary(out)
            #expect(summary["complete"] as? Int == 12)
            // Listed in input order (line 10 after line 9, not after line 1), whatever order they finished in.
            let listed = (summary["listings"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(listed == (0..<12).map { "Tool \($0)" })
            #expect(try database.integrityCheck() == "ok")
        }
    }

    /// Two `panel batch` processes started at once on the same store and job share the work through the
    /// store's claims: every persona call is made once in all, both exit 0, and both summaries are whole.
    /// (Before, each did all of it — twice the calls — and a new store opened by both at once could fail
    /// with "database is locked" or a migration conflict.)
    @Test func twoBatchesOnOneJobShareTheWork() async throws {
        let (_, input, out, store) = try workspace("shared", listings: 16)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(40)
        try await MockProvider.withServer(configuration) { handle in
            let arguments = [
                "batch", input, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--store", store, "--concurrency", "4",
                "--job", "shared",
            ]
            async let first = cli.panel(arguments)
            async let second = cli.panel(arguments)
            let (a, b) = try await (first, second)
            #expect(a.code == 0, "\(a.stderr)")
            #expect(b.code == 0, "\(b.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 64)
            let database = try PanelStore(path: store)
            #expect(try database.savedResultCount(job: "shared") == 64)
            #expect(try summary(out)["complete"] as? Int == 16)
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".md") }
            #expect(names.count == 16)
        }
    }

    /// The same on a PostgreSQL store (`--store postgres://…` for one process, `PANEL_STORE` for the
    /// other), when the tests have a server (`PANEL_TEST_POSTGRES_URL`).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"] != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func twoBatchesShareTheWorkOnPostgres() async throws {
        let (url, dropDatabase) = try await scratchPostgres()
        let password = URLComponents(string: url)?.password ?? "\u{0}"
        let (_, input, out, _) = try workspace("shared-pg", listings: 16)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(40)
        try await MockProvider.withServer(configuration) { handle in
            let arguments = [
                "batch", input, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--concurrency", "4", "--job", "shared",
            ]
            async let first = cli.panel(arguments + ["--store", url])
            async let second = cli.panel(arguments, environment: ["PANEL_STORE": url])
            let (a, b) = try await (first, second)
            #expect(a.code == 0, "\(a.stderr)")
            #expect(b.code == 0, "\(b.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 64)
            let store = try await PostgresStore.open(url: url)
            #expect(try await store.savedResultCount(job: "shared") == 64)
            await store.close()
            #expect(try summary(out)["complete"] as? Int == 16)
            // Run again: everything is settled, nothing is asked again.
            let again = try await cli.panel(arguments + ["--store", url])
            #expect(again.code == 0 && handle.stats.snapshot.chatRequests == 64, "\(again.stderr)")
            #expect(!a.stderr.contains(password) && !again.stderr.contains(password))
        }
        try await dropDatabase()
    }

    /// A job run on SQLite, copied into PostgreSQL with `panel store copy`, continues there without a
    /// single call: every result came across. A second copy adds nothing.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"] != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func aCopiedStoreContinuesOnPostgres() async throws {
        let (url, dropDatabase) = try await scratchPostgres()
        let (_, input, out, store) = try workspace("copy", listings: 5)
        try await MockProvider.withServer { handle in
            let arguments = ["batch", input, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--job", "moved"]
            let first = try await cli.panel(arguments + ["--store", store])
            #expect(first.code == 0, "\(first.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 20)
            let copied = try await cli.panel(["store", "copy", "--from", store, "--to", url])
            #expect(copied.code == 0, "\(copied.stderr)")
            #expect(copied.stderr.contains("batch_result: 20 copied") && copied.stderr.contains("batch_item: 5 copied"), "\(copied.stderr)")
            let again = try await cli.panel(["store", "copy", "--from", store, "--to", url])
            #expect(again.stderr.contains("batch_result: 0 copied, 20 already there"), "\(again.stderr)")
            let continued = try await cli.panel(arguments + ["--store", url])
            #expect(continued.code == 0, "\(continued.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 20)  // nothing asked again
        }
        try await dropDatabase()
    }

    /// A listing named "Summary" never takes the batch summary's name in JSON, and a summary.json panel
    /// did not write is never overwritten: the batch refuses to start (exit 2) and leaves it alone.
    @Test func theSummaryNeverOverwritesAnotherFile() async throws {
        let dir = try directory("summary")
        let rows = dir.appendingPathComponent("rows.jsonl").path
        try #"{"name": "Summary", "description": "A tool called Summary."}"#.write(toFile: rows, atomically: true, encoding: .utf8)
        try await MockProvider.withServer { handle in
            let out = dir.appendingPathComponent("out")
            let arguments = [
                "batch", rows, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--format", "json", "--store",
                dir.appendingPathComponent("s.sqlite").path,
            ]
            let first = try await cli.panel(arguments)
            #expect(first.code == 0, "\(first.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["summary-2.json", "summary.json"])
            #expect(try summary(out)["complete"] as? Int == 1)
            // A file of the user's own where the summary goes.
            let other = dir.appendingPathComponent("other")
            try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
            let mine = other.appendingPathComponent("summary.json")
            try #"{"mine": true}"#.write(to: mine, atomically: true, encoding: .utf8)
            var second = arguments
            second[3] = other.path
            let refused = try await cli.panel(second)
            #expect(refused.code == 2)
            #expect(refused.stderr.contains("not a panel batch summary"))
            #expect(try String(contentsOf: mine, encoding: .utf8) == #"{"mine": true}"#)
            #expect(handle.stats.snapshot.chatRequests == 4)  // refused before any call
        }
    }

    /// Invocations that cannot work are refused before anything starts, with a message (exit 2): an input
    /// that is not there (it exited 3), an --out that is a file (a raw system error), a quorum above the
    /// panel, a configuration naming a persona the panel does not have.
    @Test func badInvocationsExitTwoBeforeAnyCall() async throws {
        let dir = try directory("usage")
        let input = try listings(1, in: dir)
        let file = dir.appendingPathComponent("a-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("panel.yaml").path
        try
            "backends:\n  - {name: a, kind: openai, model: m, base_url: \"http://127.0.0.1:9/v1\"}\npanel:\n  personas: {critic: {backend: a}}\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let store = dir.appendingPathComponent("s.sqlite").path
        let out = dir.appendingPathComponent("out").path
        let cases: [([String], String)] = [
            (["batch", "/nonexistent/listings", "--out", out, "--replay", PanelCLITests.recordings], "no such file"),
            (["batch", input, "--out", file.path, "--replay", PanelCLITests.recordings, "--store", store], "is a file, not a directory"),
            (["batch", input, "--out", out, "--replay", PanelCLITests.recordings, "--store", store, "--quorum", "5"], "quorum 5"),
            (["batch", input, "--out", out, "--config", config, "--store", store], "panel.personas.critic"),
            (["batch", input, "--out", out, "--replay", PanelCLITests.recordings, "--budget-usd", "inf"], "finite"),
        ]
        for (arguments, message) in cases {
            let result = try await cli.panel(arguments)
            #expect(result.code == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    /// A listing is recorded finished before its documents are renamed into place; a crash in between
    /// leaves it recorded with a document missing. The rerun writes that document again from the stored
    /// JSON document, under the same name, without asking any persona again — byte for byte the file the
    /// first run rendered from the document in memory (the store keeps the JSON alone).
    @Test func aMissingDocumentIsWrittenAgainWithoutCalls() async throws {
        let (_, input, out, store) = try workspace("missing-doc", listings: 3)
        try await MockProvider.withServer { handle in
            let arguments = [
                "batch", input, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--store", store, "--job", "m",
                "--format", "markdown", "--format", "html", "--format", "json",
            ]
            let first = try await cli.panel(arguments)
            #expect(first.code == 0, "\(first.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 12)
            let files = ["tool-1.md", "tool-1.html"].map { out.appendingPathComponent($0) }
            let originals = try files.map { try String(contentsOf: $0, encoding: .utf8) }
            for file in files { try FileManager.default.removeItem(at: file) }
            let rerun = try await cli.panel(arguments)
            #expect(rerun.code == 0, "\(rerun.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 12)
            for (file, original) in zip(files, originals) {
                #expect(try String(contentsOf: file, encoding: .utf8) == original, "\(file.lastPathComponent) differs")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
            #expect(names == ["summary.json"] + (0..<3).flatMap { ["tool-\($0).html", "tool-\($0).json", "tool-\($0).md"] })
            #expect(try summary(out)["complete"] as? Int == 3)
            var kept: [String] = []
            let opened = try PanelStore(path: store)
            try opened.forEachDocument(job: "m", wanted: { _, _ in true }) { kept.append("\($0.name).\($0.fileExtension)") }
            #expect(kept == ["tool-0.json", "tool-1.json", "tool-2.json"])
        }
    }

    @Test func budgetStopsSchedulingAndAResumeWithMoreBudgetFinishes() async throws {
        let (_, input, out, store) = try workspace("budget", listings: 6)
        try await MockProvider.withServer { handle in
            let base = [
                "batch", input, "--out", out.path, "--base-url", handle.baseURL, "--model", "m", "--store", store, "--price", "100,100",
                "--concurrency", "2", "--job", "b",
            ]
            let limited = try await cli.panel(base + ["--budget-usd", "0.5"])
            #expect(limited.code == 3)
            #expect(limited.stderr.contains("budget reached"))
            let first = try summary(out)
            #expect(first["budget_stopped"] as? Bool == true)
            #expect((first["spent_usd"] as? Double ?? 99) <= 0.5)
            let callsBefore = handle.stats.snapshot.chatRequests
            #expect(callsBefore < 24)
            let finished = try await cli.panel(base + ["--budget-usd", "100"])
            #expect(finished.code == 0, "\(finished.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 24)  // nothing asked twice
            #expect(try summary(out)["complete"] as? Int == 6)
        }
    }

    /// The model check of claims in a batch (`panel.claims: {check: model, backend: …}`): one more call per
    /// listing, under its lease and within the budget, its answer saved with the listing's results; the
    /// document carries what it decided. `--claims-check rules` turns it off.
    @Test(.timeLimit(.minutes(3))) func aBatchChecksClaimsWithAModel() async throws {
        let dir = try directory("claims")
        let rows = dir.appendingPathComponent("rows.jsonl").path
        try #"{"name": "Relay", "description": "Relay's cache triples throughput.", "pricing": "$10 per month"}"#.write(
            toFile: rows, atomically: true, encoding: .utf8)
        var mock = MockProviderConfiguration()
        let paragraph = #"{"score": 70, "verdict": "ship", "rationale": "It is 3x faster and costs $5 per month."}"#
        mock.canned = ["builder", "skeptic", "founder", "futurist"].map {
            MockProviderConfiguration.CannedAnswer(persona: $0, tool: "Relay", text: paragraph)
        }
        let decisions = (1...4).map { #"{"id": \#($0), "status": "supported", "quote": "triples throughput"}"# }
        mock.canned.append(
            MockProviderConfiguration.CannedAnswer(
                persona: "reviewer", tool: "Relay", text: #"{"claims": [\#(decisions.joined(separator: ", "))]}"#))
        try await MockProvider.withServer(mock) { handle in
            let config = dir.appendingPathComponent("panel.yaml").path
            try """
            backends:
              - {name: mock, kind: openai, base_url: "\(handle.baseURL)", model: m, price: {input_per_mtok: 1, output_per_mtok: 2}}
              - {name: checker, kind: openai, base_url: "\(handle.baseURL)", model: c, price: {input_per_mtok: 1, output_per_mtok: 2}}
            panel:
              claims: {check: model, backend: checker}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let arguments = [
                "batch", rows, "--out", out.path, "--config", config, "--format", "json", "--budget-usd", "1", "--store",
                dir.appendingPathComponent("s.sqlite").path, "--quiet",
            ]
            let result = try await cli.panel(arguments)
            #expect(result.code == 0, "\(result.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 5)
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("relay.json"))) as? [String: Any])
            let check = try #require(document["claim_check"] as? [String: Any])
            #expect(check["decided"] as? Int == 4 && check["backend"] as? String == "checker" && check["calls"] as? Int == 1)
            let tools = try #require(document["tools"] as? [[String: Any]])
            let claims = try #require((tools.first?["reviews"] as? [[String: Any]])?.first?["claims"] as? [[String: Any]])
            #expect(claims.map { $0["status"] as? String } == ["supported", "contradicted"])
            #expect(claims.map { $0["source"] as? String } == ["model", "rules"])
            // The same input again: nothing is asked again, the check included.
            #expect(try await cli.panel(arguments).code == 0)
            #expect(handle.stats.snapshot.chatRequests == 5)
            // Turned off by the flag: the rules alone.
            let rulesOnly = [
                "batch", rows, "--out", dir.appendingPathComponent("rules").path, "--config", config, "--format", "json",
                "--claims-check", "rules", "--store", dir.appendingPathComponent("r.sqlite").path, "--quiet",
            ]
            #expect(try await cli.panel(rulesOnly).code == 0)
            #expect(handle.stats.snapshot.chatRequests == 9)
        }
    }
}
