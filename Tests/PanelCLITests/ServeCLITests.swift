import Foundation
import MockProvider
import PanelEngine
import PanelPostgres
import PanelStore
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `panel serve` and `panel tokens` as processes: tokens printed once, a server stopped by SIGTERM
/// finishing the reviews it runs, and two servers sharing a PostgreSQL store.
@Suite(.timeLimit(.minutes(5)))
struct ServeCLITests {
    let cli = PanelCLITests()
    let workers = WorkerTests()
    let batch = BatchTests()

    /// Starts `panel serve` on a free port; returns it running and its base URL.
    func serve(store: String, mock: String, extra: [String] = []) async throws -> (WorkerTests.Running, String) {
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("panel-serve-port-\(UUID().uuidString)").path
        let running = try workers.launch(
            ["serve", "--listen", "127.0.0.1:0", "--ready-file", ready, "--store", store, "--base-url", mock, "--model", "m"] + extra)
        var port: String?
        _ = await workers.eventually(within: .seconds(120)) {
            port = (try? String(contentsOfFile: ready, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return !(port ?? "").isEmpty
        }
        return (running, "http://127.0.0.1:\(try #require(port))")
    }

    func request(_ method: String, _ url: String, token: String, body: String? = nil) async throws -> (Int, JSONValueBox) {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, JSONValueBox(data))
    }

    /// A JSON answer, read loosely.
    struct JSONValueBox {
        let object: [String: Any]
        let text: String
        init(_ data: Data) {
            text = String(decoding: data, as: UTF8.self)
            object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        }
        subscript(key: String) -> Any? { object[key] }
    }

    @Test func tokensArePrintedOnceListedWithoutSecretsAndRevoked() async throws {
        let store = try batch.directory("tokens").appendingPathComponent("s.sqlite").path
        let made = try await cli.panel(["tokens", "create", "--role", "editor", "--name", "ann", "--budget-usd", "2", "--store", store])
        #expect(made.code == 0, "\(made.stderr)")
        let secret = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("panel_") && !secret.contains(" "))
        #expect(made.stderr.contains("'ann' (editor, budget $2.00)") && !made.stderr.contains(secret))
        let again = try await cli.panel(["tokens", "create", "--role", "viewer", "--name", "ann", "--store", store])
        #expect(again.code == 2 && again.stderr.contains("a token named 'ann' exists"))
        let list = try await cli.panel(["tokens", "list", "--store", store])
        #expect(list.code == 0 && list.stdout.contains("ann") && list.stdout.contains("editor") && !list.stdout.contains(secret))
        let json = try await cli.panel(["tokens", "list", "--json", "--store", store])
        #expect(json.stdout.contains("\"budget_usd\" : 2") && !json.stdout.contains(secret))
        #expect(try await cli.panel(["tokens", "revoke", "ann", "--store", store]).code == 0)
        let twice = try await cli.panel(["tokens", "revoke", "ann", "--store", store])
        #expect(twice.code == 2 && twice.stderr.contains("no live token 'ann'"))
        let bad = try await cli.panel(["tokens", "create", "--role", "owner", "--store", store])
        #expect(bad.code != 0)
    }

    @Test func aStoppedServerFinishesTheReviewsItRuns() async throws {
        let store = try batch.directory("serve-stop").appendingPathComponent("s.sqlite").path
        let secret = try await cli.panel(["tokens", "create", "--role", "editor", "--store", store]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(1500)
        try await MockProvider.withServer(configuration) { mock in
            let (running, url) = try await serve(store: store, mock: mock.baseURL)
            let (status, created) = try await request(
                "POST", "\(url)/v1/reviews", token: secret, body: #"{"listings": [{"name": "Slow", "description": "Takes a while."}]}"#)
            #expect(status == 202, "\(created.text)")
            let id = try #require(created["id"] as? String)
            #expect(await workers.eventually(within: .seconds(120)) { mock.stats.snapshot.chatRequests >= 4 })
            kill(running.pid, SIGTERM)
            let outcome = try await running.done.value
            #expect(outcome.code == 0, "\(outcome.stderr)")
            #expect(!outcome.stderr.contains(secret))
            let reopened = try PanelStore(path: store)
            let review = try #require(try await reopened.review(id: id))
            #expect(review.status == .done)
            #expect(review.document?.contains("panel.document/v1") == true)
        }
    }

    /// Two servers on one store; the one that accepted a review and runs it is killed (-9) mid-way: the
    /// review finishes on the other once its lease lapses, a watcher connected to the survivor sees its
    /// events through `done`, and the personas answered before the kill are not asked again.
    func theReviewOutlivesTheServerRunningIt(store: String) async throws {
        let secret = try await cli.panel(["tokens", "create", "--role", "editor", "--store", store]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(1500)
        // Which persona each call asked for, counted as the mock receives it.
        let asks = Mutex([String: Int]())
        configuration.onRequest = { _, body in
            let text = String(decoding: body, as: UTF8.self)
            for persona in ["builder", "skeptic", "founder", "futurist"] where text.contains("as the \(persona.capitalized) of the panel") {
                asks.withLock { $0[persona, default: 0] += 1 }
            }
        }
        try await MockProvider.withServer(configuration) { mock in
            // One call at a time, so the personas answer one after another and the kill lands between them. The
            // lease is long enough that a loaded machine's late heartbeat does not hand the review over while
            // its first server still runs (that is a takeover too, fenced, but it asks a persona twice).
            let extra = ["--concurrency", "1", "--lease-seconds", "6", "--no-stream"]
            let (first, a) = try await serve(store: store, mock: mock.baseURL, extra: extra)
            let (status, created) = try await request(
                "POST", "\(a)/v1/reviews", token: secret,
                body: #"{"listings": [{"name": "Durable", "description": "Outlives its server."}]}"#)
            #expect(status == 202, "\(created.text)")
            let id = try #require(created["id"] as? String)
            // The first server claimed it (it asks the mock) before the second starts.
            #expect(await workers.eventually(within: .seconds(120)) { mock.stats.snapshot.chatRequests >= 1 })
            let (second, b) = try await serve(store: store, mock: mock.baseURL, extra: extra)
            var watch = URLRequest(url: try #require(URL(string: "\(b)/v1/reviews/\(id)/events")))
            watch.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization")
            watch.timeoutInterval = 120
            let watcher = Task { [watch] in String(decoding: try await URLSession.shared.data(for: watch).0, as: UTF8.self) }
            #expect(await workers.eventually(within: .seconds(120)) { mock.stats.snapshot.chatRequests >= 3 })
            kill(first.pid, SIGKILL)
            _ = try await first.done.value
            // Dead: what it saved is fixed now (its lease outlives it by up to six seconds).
            let opened: any ReviewStore =
                store.hasPrefix("postgres") ? try await PostgresStore.open(url: store) : try PanelStore(path: store)
            let answered = try await opened.results(job: TeamReview.job(id), key: TeamReview.itemKey).keys
            let saved = answered.count
            #expect((1..<4).contains(saved), "the kill should land mid-way: \(saved) of 4 saved")
            let events = try await watcher.value
            #expect(events.contains("event: done"), "\(events)")
            #expect(events.components(separatedBy: "event: persona.finished").count - 1 >= 4 - saved)
            let (_, review) = try await request("GET", "\(b)/v1/reviews/\(id)", token: secret)
            #expect(review["status"] as? String == "done", "\(review.text)")
            #expect(try await opened.results(job: TeamReview.job(id), key: TeamReview.itemKey).count == 4)
            // The personas answered before the kill were asked once: the survivor asked only the others.
            let counts = asks.withLock { $0 }
            for persona in answered { #expect(counts[persona] == 1, "\(persona) was asked \(counts[persona] ?? 0) times") }
            #expect(counts.count == 4 && counts.values.reduce(0, +) <= 4 + 2, "\(counts)")
            if let postgres = opened as? PostgresStore { await postgres.close() }
            kill(second.pid, SIGTERM)
            #expect(try await second.done.value.code == 0)
        }
    }

    @Test(.timeLimit(.minutes(5))) func twoServersOnOneSQLiteStoreShareAReviewThroughItsLease() async throws {
        try await theReviewOutlivesTheServerRunningIt(store: try batch.directory("serve-twice").appendingPathComponent("s.sqlite").path)
    }

    @Test(
        .timeLimit(.minutes(5)),
        .enabled(if: ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"] != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func aReviewOutlivesTheServerRunningItOnPostgres() async throws {
        let (url, drop) = try await batch.scratchPostgres()
        try await theReviewOutlivesTheServerRunningIt(store: url)
        try await drop()
    }

    @Test(.timeLimit(.minutes(5))) func sigtermEndsEventStreamsAndRequeuesWhatOutlivesTheGrace() async throws {
        let store = try batch.directory("serve-term").appendingPathComponent("s.sqlite").path
        let secret = try await cli.panel(["tokens", "create", "--role", "editor", "--store", store]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // The mock holds its answers for ten minutes: the review never finishes while the server runs.
        var configuration = MockProviderConfiguration()
        configuration.latency = .seconds(600)
        try await MockProvider.withServer(configuration) { mock in
            defer { mock.stats.beginShutdown() }
            let (running, url) = try await serve(store: store, mock: mock.baseURL, extra: ["--grace-seconds", "1"])
            let (status, created) = try await request(
                "POST", "\(url)/v1/reviews", token: secret, body: #"{"listings": [{"name": "Endless", "description": "Never done."}]}"#)
            #expect(status == 202)
            let id = try #require(created["id"] as? String)
            var watch = URLRequest(url: try #require(URL(string: "\(url)/v1/reviews/\(id)/events")))
            watch.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization")
            let watchers = (0..<3).map { _ in Task { [watch] in try await URLSession.shared.data(for: watch) } }
            #expect(await workers.eventually(within: .seconds(120)) { mock.stats.snapshot.chatRequests >= 4 })
            kill(running.pid, SIGTERM)
            let outcome = try await running.done.value
            #expect(outcome.code == 0, "\(outcome.stderr)")
            for watcher in watchers { _ = try? await watcher.value }  // each stream ended with the server
            let review = try #require(try await PanelStore(path: store).review(id: id))
            #expect(review.status == .queued, "\(review.status)")
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"] != nil, "needs PANEL_TEST_POSTGRES_URL"))
    func twoServersShareAPostgresStore() async throws {
        let (url, drop) = try await batch.scratchPostgres()
        let secret = try await cli.panel(["tokens", "create", "--role", "editor", "--store", url]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(200)
        try await MockProvider.withServer(configuration) { mock in
            let (first, a) = try await serve(store: url, mock: mock.baseURL)
            let (second, b) = try await serve(store: url, mock: mock.baseURL)
            let (status, created) = try await request(
                "POST", "\(a)/v1/reviews", token: secret, body: #"{"listings": [{"name": "Shared", "description": "Seen by both."}]}"#)
            #expect(status == 202)
            let id = try #require(created["id"] as? String)
            // The other server streams it once it is done there: from its document, as it is not running here.
            var events = ""
            var req = URLRequest(url: try #require(URL(string: "\(b)/v1/reviews/\(id)/events")))
            req.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization")
            events = String(decoding: try await URLSession.shared.data(for: req).0, as: UTF8.self)
            #expect(events.components(separatedBy: "event: persona.finished").count - 1 == 4)
            #expect(events.contains("event: done"))
            let (_, review) = try await request("GET", "\(b)/v1/reviews/\(id)", token: secret)
            #expect(review["status"] as? String == "done")
            let (patched, _) = try await request("PATCH", "\(b)/v1/reviews/\(id)", token: secret, body: #"{"approve": true}"#)
            #expect(patched == 200)
            let (_, seen) = try await request("GET", "\(a)/v1/reviews/\(id)", token: secret)
            #expect(((seen["editor"] as? [String: Any])?["approved"] as? [String: Any])?["by"] != nil)
            for server in [first, second] { kill(server.pid, SIGTERM) }
            for server in [first, second] { #expect(try await server.done.value.code == 0) }
        }
        try await drop()
    }
}
