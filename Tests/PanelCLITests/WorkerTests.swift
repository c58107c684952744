import Foundation
import MockProvider
import PanelEngine
import PanelPostgres
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `panel worker`s on a PostgreSQL store: a queue several processes drain, and what happens when one of
/// them dies, when the server restarts, when they race, and when they share a budget. Each test has a
/// database of its own on the test server (`PANEL_TEST_POSTGRES_URL`); the restart test a cluster of its own.
@Suite(
    .enabled(if: ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"] != nil, "needs PANEL_TEST_POSTGRES_URL"),
    .timeLimit(.minutes(5)))
struct WorkerTests {
    let cli = PanelCLITests()
    let batch = BatchTests()

    /// A `panel` process left running: its pid, and its outcome once it exits.
    struct Running {
        var pid: Int32
        var done: Task<PanelCLITests.Outcome, any Error>
        var stderrPath: URL

        var stderrSoFar: String { (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? "" }
    }

    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = PanelCLITests.binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = dir
        let (codes, continuation) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { continuation.yield($0.terminationStatus) }
        try process.run()
        let done = Task<PanelCLITests.Outcome, any Error> {
            var code: Int32 = -1
            for await status in codes {
                code = status
                break
            }
            return PanelCLITests.Outcome(
                code: code, stdout: try String(contentsOf: out, encoding: .utf8), stderr: try String(contentsOf: err, encoding: .utf8))
        }
        return Running(pid: process.processIdentifier, done: done, stderrPath: err)
    }

    /// Waits for a condition another process brings about (no fixed sleep: it looks every 20 ms).
    func eventually(within limit: Duration = .seconds(120), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    func counts(_ url: String, job: String) async throws -> (counts: [BatchItem.Status: Int], results: Int, documents: [String]) {
        let store = try await PostgresStore.open(url: url)
        let counts = try await store.itemCounts(job: job)
        let results = try await store.savedResultCount(job: job)
        var documents: [String] = []
        try await store.forEachDocument(job: job) { documents.append("\($0.name).\($0.fileExtension)") }
        await store.close()
        return (counts, results, documents)
    }

    /// Enqueue-only puts the listings on the queue once; two workers (one on each way of naming the
    /// store) drain it with each persona asked once; any machine exports the documents and summary; a
    /// worker waiting for work stops on SIGTERM with exit 0; no password is ever printed.
    @Test func workersDrainAQueueThatAnyMachineExports() async throws {
        let (url, dropDatabase) = try await batch.scratchPostgres()
        let password = URLComponents(string: url)?.password ?? "\u{0}"
        let (dir, input, _, _) = try batch.workspace("queue", listings: 12)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(30)
        try await MockProvider.withServer(configuration) { handle in
            let backend = ["--base-url", handle.baseURL, "--model", "m"]
            let enqueue = [
                "batch", input, "--store", url, "--job", "nightly", "--enqueue-only", "--format", "markdown", "--format", "json",
            ]
            let queued = try await cli.panel(enqueue + backend)
            #expect(queued.code == 0 && queued.stderr.contains("12 listing(s) queued"), "\(queued.stderr)")
            let again = try await cli.panel(enqueue + backend)
            #expect(again.code == 0 && again.stderr.contains("0 listing(s) queued"), "\(again.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 0)
            async let first = cli.panel(["worker", "--store", url, "--drain", "--concurrency", "4"] + backend)
            async let second = cli.panel(["worker", "--drain", "--concurrency", "4"] + backend, environment: ["PANEL_STORE": url])
            let (a, b) = try await (first, second)
            #expect(a.code == 0 && b.code == 0, "\(a.stderr)\n\(b.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 48)
            let out = dir.appendingPathComponent("exported")
            let exported = try await cli.panel(["jobs", "export", "nightly", "--out", out.path, "--store", url])
            #expect(exported.code == 0, "\(exported.stderr)")
            let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
            #expect(names.filter { $0.hasSuffix(".md") }.count == 12 && names.filter { $0.hasSuffix(".json") }.count == 13)
            #expect(try batch.summary(out)["complete"] as? Int == 12)
            // Another format is rendered from the kept JSON document with the job's templates.
            let html = dir.appendingPathComponent("html")
            let rendered = try await cli.panel(["jobs", "export", "nightly", "--out", html.path, "--format", "html", "--store", url])
            #expect(rendered.code == 0, "\(rendered.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: html.path).filter { $0.hasSuffix(".html") }.count == 12)
            let status = try await cli.panel(["jobs", "status", "nightly", "--json", "--store", url])
            #expect(status.stdout.contains("\"complete\" : 12"), "\(status.stdout)")
            let idle = try launch(["worker", "--store", url] + backend)
            #expect(await eventually { idle.stderrSoFar.contains("claiming from") })
            kill(idle.pid, SIGTERM)
            let stopped = try await idle.done.value
            #expect(stopped.code == 0, "\(stopped.stderr)")
            for outcome in [queued, a, b, exported, status, stopped] {
                #expect(!outcome.stderr.contains(password) && !outcome.stdout.contains(password))
            }
            let cancelled = try await cli.panel(["jobs", "cancel", "nightly", "--store", url])
            #expect(cancelled.code == 0 && cancelled.stderr.contains("cancelled"), "\(cancelled.stderr)")
        }
        try await dropDatabase()
    }

    /// `kill -9` of one of three workers mid-job: the other two take its listings over when its leases
    /// expire and finish the job. No listing is lost or finished twice, and the only persona calls made
    /// twice are those that were in flight on the killed worker (of the listings it held, the personas not
    /// yet saved).
    @Test func aKilledWorkersListingsAreTakenOver() async throws {
        let (url, dropDatabase) = try await batch.scratchPostgres()
        let (_, input, _, _) = try batch.workspace("killed", listings: 30)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(150)
        try await MockProvider.withServer(configuration) { handle in
            let backend = ["--base-url", handle.baseURL, "--model", "m"]
            let queued = try await cli.panel(["batch", input, "--store", url, "--job", "killed", "--enqueue-only"] + backend)
            #expect(queued.code == 0, "\(queued.stderr)")
            let concurrency = 4
            // One attempt per call: every request the mock sees beyond 120 is a persona asked again.
            let workers = try (0..<3).map { _ in
                try launch(
                    [
                        "worker", "--store", url, "--drain", "--concurrency", "\(concurrency)", "--lease-seconds", "5", "--poll-seconds",
                        "0.2", "--max-attempts", "1",
                    ]
                        + backend)
            }
            #expect(await eventually { handle.stats.snapshot.chatRequests >= 24 })
            kill(workers[0].pid, SIGKILL)
            _ = try await workers[0].done.value
            for worker in workers.dropFirst() {
                let outcome = try await worker.done.value
                #expect(outcome.code == 0, "\(outcome.stderr)")
            }
            let (counts, results, documents) = try await counts(url, job: "killed")
            #expect(counts[.complete] == 30 && counts.values.reduce(0, +) == 30, "\(counts)")
            #expect(results == 120)
            // One kept document a listing (the JSON; any other format is rendered from it on export).
            #expect(documents.count == 30 && Set(documents).count == 30 && documents.allSatisfy { $0.hasSuffix(".json") })
            // What was in flight on the killed worker: the personas of the listings it held (two, with
            // --concurrency 4) not yet saved — asked, or answered and not yet saved. Only those are asked again.
            let calls = handle.stats.snapshot.chatRequests
            #expect(calls >= 120 && calls <= 120 + 2 * 4, "\(calls) calls")
        }
        try await dropDatabase()
    }

    /// A worker paused (SIGSTOP) past its lease while its calls wait: another worker takes its listings
    /// over and finishes them; resumed, the paused one starts no paid call for a listing it no longer
    /// holds (it checks its lease as known locally before each call) and cancels what is in flight.
    @Test(.timeLimit(.minutes(5))) func aPausedWorkerPaysForNothingItNoLongerHolds() async throws {
        let (url, dropDatabase) = try await batch.scratchPostgres()
        let (_, input, _, _) = try batch.workspace("paused", listings: 2)
        var slowConfiguration = MockProviderConfiguration()
        slowConfiguration.latency = .seconds(4)
        try await MockProvider.withServer(slowConfiguration) { slow in
            try await MockProvider.withServer { fast in
                let queued = try await cli.panel(
                    ["batch", input, "--store", url, "--job", "paused", "--enqueue-only", "--base-url", slow.baseURL, "--model", "m"])
                #expect(queued.code == 0, "\(queued.stderr)")
                let options = [
                    "--store", url, "--drain", "--lease-seconds", "2", "--poll-seconds", "0.2", "--max-attempts", "3", "--model", "m",
                ]
                let paused = try launch(["worker", "--concurrency", "2", "--base-url", slow.baseURL] + options)
                #expect(await eventually { slow.stats.snapshot.chatRequests >= 2 })
                kill(paused.pid, SIGSTOP)
                let before = slow.stats.snapshot.chatRequests
                // Another worker takes the listings over once the paused one's leases expire, and finishes them.
                let other = try launch(["worker", "--concurrency", "8", "--base-url", fast.baseURL] + options)
                let finished = try await other.done.value
                #expect(finished.code == 0, "\(finished.stderr)")
                let (counts, _, _) = try await counts(url, job: "paused")
                #expect(counts[.complete] == 2, "\(counts)")
                kill(paused.pid, SIGCONT)
                let resumed = try await paused.done.value
                #expect(resumed.code == 0, "\(resumed.stderr)")
                #expect(
                    slow.stats.snapshot.chatRequests == before,
                    "the paused worker made \(slow.stats.snapshot.chatRequests - before) calls after it resumed")
            }
        }
        try await dropDatabase()
    }

    /// PostgreSQL restarted mid-job, on a cluster of the test's own: the workers ride out the outage
    /// (store steps retried, claims backed off, the listener reconnected) and finish; nothing is lost.
    @Test func theServerRestartingMidJobLosesNothing() async throws {
        let cluster = try await Self.cluster("start")
        let fields = Dictionary(
            uniqueKeysWithValues: cluster.split(separator: " ").compactMap { part -> (String, String)? in
                let pair = part.replacingOccurrences(of: "export ", with: "").split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { return nil }
                return (String(pair[0]), String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'\n")))
            })
        let url = try #require(fields["PANEL_TEST_POSTGRES_URL"])
        let folder = try #require(fields["PANEL_PG_DIR"])
        let (_, input, _, _) = try batch.workspace("restart", listings: 40)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(150)
        do {
            try await restartMidJob(url: url, folder: folder, input: input, configuration: configuration)
        } catch {
            _ = try? await Self.cluster("stop", folder)
            throw error
        }
        _ = try await Self.cluster("stop", folder)
    }

    func restartMidJob(url: String, folder: String, input: String, configuration: MockProviderConfiguration) async throws {
        try await MockProvider.withServer(configuration) { handle in
            let backend = ["--base-url", handle.baseURL, "--model", "m"]
            let queued = try await cli.panel(["batch", input, "--store", url, "--job", "restarted", "--enqueue-only"] + backend)
            #expect(queued.code == 0, "\(queued.stderr)")
            let workers = try (0..<2).map { _ in
                try launch(
                    ["worker", "--store", url, "--drain", "--concurrency", "4", "--lease-seconds", "5", "--poll-seconds", "0.2"] + backend)
            }
            #expect(await eventually { handle.stats.snapshot.chatRequests >= 24 })
            _ = try await Self.cluster("restart", folder)
            // The server came back while the job was still being worked on.
            #expect(handle.stats.snapshot.chatRequests < 160)
            // (A query issued while the server is down waits in the pool for a new connection; one cut off
            // mid-flight is retried by the driver or the claim loop.)
            for worker in workers {
                let outcome = try await worker.done.value
                #expect(outcome.code == 0, "\(outcome.stderr)")
            }
            let (counts, results, documents) = try await counts(url, job: "restarted")
            #expect(counts[.complete] == 40 && counts.values.reduce(0, +) == 40, "\(counts)")
            #expect(results == 160)
            #expect(Set(documents.filter { $0.hasSuffix(".json") }).count == 40 && documents.count == 40)
        }
    }

    /// Runs scripts/pg-test-cluster.sh; its standard output.
    static func cluster(_ arguments: String...) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [PanelCLITests.root.appendingPathComponent("scripts/pg-test-cluster.sh").path] + arguments
        // A file, not a pipe: the server the script starts must not hold the reading end open.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("panel-cluster-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        guard status == 0 else { throw ClusterError(status: status) }
        return try String(contentsOf: output, encoding: .utf8)
    }

    struct ClusterError: Error {
        var status: Int32
    }

    /// Three workers racing for one listing: exactly one result per persona, each persona asked once.
    @Test func workersRacingForOneListingAskEachPersonaOnce() async throws {
        let (url, dropDatabase) = try await batch.scratchPostgres()
        let (_, input, _, _) = try batch.workspace("race", listings: 1)
        try await MockProvider.withServer { handle in
            let backend = ["--base-url", handle.baseURL, "--model", "m"]
            _ = try await cli.panel(["batch", input, "--store", url, "--job", "one", "--enqueue-only"] + backend)
            async let a = cli.panel(["worker", "--store", url, "--drain"] + backend)
            async let b = cli.panel(["worker", "--store", url, "--drain"] + backend)
            async let c = cli.panel(["worker", "--store", url, "--drain"] + backend)
            let outcomes = try await [a, b, c]
            #expect(outcomes.allSatisfy { $0.code == 0 }, "\(outcomes.map(\.stderr))")
            let (counts, results, _) = try await counts(url, job: "one")
            #expect(counts[.complete] == 1 && results == 4)
            #expect(handle.stats.snapshot.chatRequests == 4)
        }
        try await dropDatabase()
    }

    /// A budget holds across three workers: spend stays within it (each call's cost ceiling is reserved
    /// in the store before the call), and the job stops with listings left queued.
    @Test func aBudgetHoldsAcrossThreeWorkers() async throws {
        let (url, dropDatabase) = try await batch.scratchPostgres()
        let (_, input, _, _) = try batch.workspace("budget", listings: 20)
        try await MockProvider.withServer { handle in
            let backend = ["--base-url", handle.baseURL, "--model", "m", "--price", "100,100"]
            let budget = 0.8
            let queued = try await cli.panel(
                ["batch", input, "--store", url, "--job", "budget", "--enqueue-only", "--budget-usd", "\(budget)"] + backend)
            #expect(queued.code == 0, "\(queued.stderr)")
            async let a = cli.panel(["worker", "--store", url, "--drain", "--concurrency", "4"] + backend)
            async let b = cli.panel(["worker", "--store", url, "--drain", "--concurrency", "4"] + backend)
            async let c = cli.panel(["worker", "--store", url, "--drain", "--concurrency", "4"] + backend)
            let outcomes = try await [a, b, c]
            #expect(outcomes.allSatisfy { $0.code == 0 }, "\(outcomes.map(\.stderr))")
            let store = try await PostgresStore.open(url: url)
            let spent = try await store.spent(job: "budget")
            let counts = try await store.itemCounts(job: "budget")
            await store.close()
            #expect(spent > 0 && spent <= budget, "spent \(spent)")
            #expect((counts[.pending] ?? 0) > 0, "\(counts)")
            #expect(handle.stats.snapshot.chatRequests < 80)
        }
        try await dropDatabase()
    }
}
