import Foundation
import MockProvider
import Testing

/// End-to-end tests of the built `panel` binary: arguments, exit codes, files, stdout and stderr.
@Suite(.timeLimit(.minutes(5)))
struct PanelCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let azure = root.appendingPathComponent("fixtures/listings/azure-ai-foundry-realtime-voice.yaml").path
    static let mistral = root.appendingPathComponent("fixtures/listings/mistral-3-small.yaml").path
    static let recordings = root.appendingPathComponent("fixtures/recordings").path

    struct Outcome {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PANEL_BIN"] { return URL(fileURLWithPath: path) }
        return root.appendingPathComponent(".build/debug/panel")
    }

    /// The variables first-run detection reads: tests that depend on there being no backend unset them.
    static let providerVariables = [
        "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY",
        "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
    ]

    /// Runs `panel` in a fresh working directory (or `directory`), with `environment` over this
    /// process's less `unset`, and `stdin` as standard input.
    func panel(
        _ arguments: [String], environment: [String: String] = [:], unset: [String] = [], stdin: String? = nil, directory: URL? = nil
    ) async throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        var inherited = ProcessInfo.processInfo.environment
        for name in unset { inherited[name] = nil }
        process.environment = inherited.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let stdin {
            let input = dir.appendingPathComponent("in")
            _ = FileManager.default.createFile(atPath: input.path, contents: Data(stdin.utf8))
            process.standardInput = try FileHandle(forReadingFrom: input)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        process.currentDirectoryURL = directory ?? dir  // each run gets its own .panel store unless --store says otherwise
        let code: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        return Outcome(
            code: code, stdout: try String(contentsOf: out, encoding: .utf8), stderr: try String(contentsOf: err, encoding: .utf8))
    }

    func temporaryFile(_ name: String, _ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-cli-in-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func replayingTheReferenceComparison() async throws {
        let result = try await panel(["review", Self.azure, Self.mistral, "--replay", Self.recordings, "--format", "json"])
        #expect(result.code == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["schema"] as? String == "panel.document/v1")
        #expect(document["kind"] as? String == "comparison")
        let tools = try #require(document["tools"] as? [[String: Any]])
        #expect(tools.map { $0["name"] as? String } == ["Azure AI Foundry Real-Time Voice API & Model Router", "Mistral 3 Small"])
        for tool in tools {
            let panel = try #require(tool["panel"] as? [String: Any])
            #expect(panel["verdict"] as? String == "ship")
            #expect(panel["ship"] as? Int == 3 && panel["skip"] as? Int == 1 && panel["abstained"] as? Int == 0)
            let reviews = try #require(tool["reviews"] as? [[String: Any]])
            #expect(reviews.allSatisfy { $0["status"] as? String == "answered" })
        }
        #expect(!result.stderr.isEmpty)  // progress goes to stderr, the document alone to stdout
    }

    @Test func markdownToAFile() async throws {
        let output = try temporaryFile("review.md", "")
        let result = try await panel(["review", Self.azure, Self.mistral, "--replay", Self.recordings, "-o", output, "--quiet"])
        #expect(result.code == 0)
        #expect(result.stdout.isEmpty && result.stderr.isEmpty)
        let markdown = try String(contentsOfFile: output, encoding: .utf8)
        #expect(markdown.hasPrefix("# Azure AI Foundry Real-Time Voice API & Model Router vs Mistral 3 Small\n"))
        #expect(markdown.contains("| **Panel verdict** | Ship · 3 ship / 1 skip | Ship · 3 ship / 1 skip |"))
        #expect(markdown.contains("**Azure AI Foundry Real-Time Voice API & Model Router — 78/100 · ship**"))
    }

    @Test func listingWithoutANameIsAUsageError() async throws {
        let path = try temporaryFile("noname.yaml", "tagline: \"no name\"\ndescription: \"x\"\n")
        let result = try await panel(["review", path, "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])
        #expect(result.code == 2)
        #expect(result.stderr.contains("noname.yaml"))
        #expect(result.stderr.contains("'name'"))
        #expect(result.stdout.isEmpty)
    }

    @Test func usageErrorsExitTwo() async throws {
        for arguments in [
            ["review", Self.azure],  // no backend
            ["review", Self.azure, "--base-url", "ftp://x", "--model", "m"],
            ["review", Self.azure, "--replay", Self.recordings, "--record", "/tmp/x"],
            ["review"],
            ["review", Self.azure, "--replay", Self.recordings, "--format", "pdf"],
            ["review", Self.azure, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key-env", "PANEL_TEST_UNSET_VARIABLE"],
            // Numbers out of range are refused, not trapped on (these crashed with exit 132).
            ["review", Self.azure, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--timeout", "1e17"],
            ["review", Self.azure, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--price", "1e308,1e308"],
            ["review", Self.azure, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--cache-ttl", "inf"],
        ] {
            let result = try await panel(arguments, unset: Self.providerVariables)
            #expect(result.code == 2, "\(arguments): \(result.stderr)")
            #expect(!result.stderr.isEmpty)
        }
    }

    @Test func helpExplainsWithExamples() async throws {
        let result = try await panel(["review", "--help"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("--replay"))
        #expect(result.stdout.contains("Exit codes"))
    }

    @Test func unreadableAnswersAbstainAndExitThree() async throws {
        var configuration = MockProviderConfiguration()
        configuration.shape = .nonsense
        try await MockProvider.withServer(configuration) { handle in
            let result = try await panel(["review", Self.azure, "--base-url", handle.baseURL, "--model", "m", "--format", "json"])
            #expect(result.code == 3)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let panel = try #require((document["tools"] as? [[String: Any]])?.first?["panel"] as? [String: Any])
            #expect(panel["verdict"] as? String == "incomplete")
            #expect(panel["abstained"] as? Int == 4)
            #expect(handle.stats.snapshot.chatRequests == 8)  // each persona asked, then asked once to repair
        }
    }

    @Test func missingRecordingAbstainsNamingPersonaAndListing() async throws {
        let path = try temporaryFile("new.yaml", "name: Brand New Tool\ndescription: Not recorded anywhere.\n")
        let result = try await panel(["review", path, "--replay", Self.recordings])
        #expect(result.code == 3)
        #expect(result.stderr.contains("no recording for builder · Brand New Tool"))
    }

    @Test func recordThenReplayKeepsTheKeySecret() async throws {
        let key = "sk-panel-test-7c1d9e0f2a3b4c5d"
        let recordings = FileManager.default.temporaryDirectory.appendingPathComponent("panel-cli-rec-\(UUID().uuidString)").path
        var configuration = MockProviderConfiguration()
        configuration.requiredKey = key
        let recorded = try await MockProvider.withServer(configuration) { handle in
            try await panel(
                [
                    "review", Self.azure, "--base-url", handle.baseURL, "--model", "m", "--api-key-env", "PANEL_TEST_KEY",
                    "--record", recordings, "--format", "json", "--verbose", "--stream",
                ],
                environment: ["PANEL_TEST_KEY": key])
        }
        #expect(recorded.code == 0, "\(recorded.stderr)")
        let replayed = try await panel(["review", Self.azure, "--replay", recordings, "--format", "json"])
        #expect(replayed.code == 0, "\(replayed.stderr)")
        func scores(_ text: String) throws -> [Int?] {
            let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let reviews = (document["tools"] as? [[String: Any]])?.first?["reviews"] as? [[String: Any]] ?? []
            return reviews.map { $0["score"] as? Int }
        }
        #expect(try scores(recorded.stdout) == scores(replayed.stdout))
        var everything = recorded.stdout + recorded.stderr + replayed.stdout + replayed.stderr
        for file in try FileManager.default.contentsOfDirectory(atPath: recordings) {
            everything += try String(contentsOfFile: recordings + "/" + file, encoding: .utf8)
        }
        #expect(!everything.contains(key))
    }

    /// A key given where its variable's name belongs is refused without being repeated; a key carried in
    /// a base URL's query reaches the server (the path goes before the query) but no message, list or
    /// document.
    @Test func keysInFlagsAndURLsAreNeverShown() async throws {
        let key = "sk-flag-secret-0123456789"
        let refused = try await panel(["review", Self.mistral, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key-env", key])
        #expect(refused.code == 2)
        #expect(!refused.stderr.contains(key) && refused.stderr.contains("--api-key-env"))
        let secret = "sk-query-secret-0123456789"
        try await MockProvider.withServer { handle in
            let result = try await panel([
                "review", Self.mistral, "--base-url", handle.baseURL + "?key=" + secret, "--model", "m", "--format", "json", "-v",
            ])
            #expect(result.code == 0, "\(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains(secret))
            let config = try temporaryFile(
                "panel.yaml",
                "backends:\n  - {name: q, kind: openai, model: m, base_url: \"http://u:\(secret)@127.0.0.1:9/v1?key=\(secret)\"}\n")
            let listed = try await panel(["backends", "--config", config, "--check"])
            #expect(!(listed.stdout + listed.stderr).contains(secret), "\(listed.stdout)\(listed.stderr)")
            #expect(listed.stdout.contains("[redacted]"))
        }
    }

    /// Escape sequences in a listing's name and in a server-reported model name reach neither the
    /// terminal (stderr: progress, summary, table) nor the Markdown on stdout; a newline in a name does
    /// not break a line.
    @Test func hostileBytesNeverReachTheTerminal() async throws {
        let listing = try temporaryFile(
            "evil.yaml", "name: \"Evil\\e]52;c;aGk=\\a\\nTool\\e[2J\"\ndescription: \"It \\e[31mdoes\\e[0m things.\\u009b1m\"\n")
        try await MockProvider.withServer { handle in
            let review = try await panel([
                "review", listing, "--base-url", handle.baseURL, "--model", "model\u{1B}]0;title\u{07}", "-v",
            ])
            #expect(review.code == 0, "\(review.stderr)")
            let out = try temporaryFile("out.txt", "")
            let batch = try await panel([
                "batch", listing, "--out", out + ".d", "--base-url", handle.baseURL, "--model", "m", "--store", out + ".sqlite",
            ])
            #expect(batch.code == 0, "\(batch.stderr)")
            for text in [review.stdout, review.stderr, batch.stdout, batch.stderr] {
                #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
            }
            #expect(review.stderr.contains("Evil\u{FFFD}]52;c;aGk=\u{FFFD} Tool"))
        }
    }

    /// A document written to a standard output nobody reads any more (a closed pipe) is reported and
    /// exits 1; it used to trap (exit 132) in a write that could not fail.
    @Test func aClosedStandardOutputIsReportedNotTrappedOn() async throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["review", Self.azure, Self.mistral, "--replay", Self.recordings]
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()  // nobody will read the document
        process.standardOutput = pipe
        let errors = Pipe()
        process.standardError = errors
        let code: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit)
        #expect(code == 1, "\(stderr)")
        #expect(stderr.contains("standard output cannot be written"))
    }

    /// The mock provider refuses numbers it cannot use (it trapped on NaN and wrapped port 99999 to 34463).
    @Test func theMockRefusesUnusableNumbers() async throws {
        for arguments in [["--latency-ms", "nan"], ["--latency-ms", "1e300"], ["--port", "99999"], ["--slow-factor", "inf"]] {
            let process = Process()
            process.executableURL = Self.binary.deletingLastPathComponent().appendingPathComponent("panel-mock-provider")
            process.arguments = arguments
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationReason == .exit && process.terminationStatus != 0, "\(arguments)")
            #expect(stderr.contains(arguments[0]), "\(arguments): \(stderr)")
        }
    }

    /// Started without `--port`, the mock takes a free port and prints it: it does not sit on llama.cpp's
    /// usual 8080 (where first-run detection once took it for llama.cpp).
    @Test(.timeLimit(.minutes(2))) func theMockTakesAFreePortByDefaultAndSaysWhich() async throws {
        let process = Process()
        process.executableURL = Self.binary.deletingLastPathComponent().appendingPathComponent("panel-mock-provider")
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        // A blocking read, off the concurrency pool.
        let line = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: output.fileHandleForReading.availableData) }
        }
        let text = String(decoding: line, as: UTF8.self)
        let port = text.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(text.hasPrefix("panel-mock-provider listening on http://127.0.0.1:"), "\(text)")
        #expect(port != nil && port != 8080, "\(text)")
    }

    /// `-o` naming one of the listings is refused before any call; the listing is left as it was.
    @Test func outputOntoAnInputIsRefused() async throws {
        let listing = try temporaryFile("tool.yaml", "name: Acme\ndescription: Webhooks.\n")
        let result = try await panel(["review", listing, "--replay", Self.recordings, "-o", listing])
        #expect(result.code == 2)
        #expect(result.stderr.contains("is the listing"))
        #expect(try String(contentsOfFile: listing, encoding: .utf8) == "name: Acme\ndescription: Webhooks.\n")
    }

    /// A store that cannot be created says why in a sentence (it printed a raw NSError), and `route`
    /// prints a hostile listing name without its escape sequences.
    @Test func storeAndRouteMessagesAreClean() async throws {
        let blocker = try temporaryFile("blocker", "a file")
        let store = try await panel([
            "review", Self.mistral, "--base-url", "https://example.invalid/v1", "--model", "m", "--store", blocker + "/s.sqlite",
        ])
        #expect(store.code == 2)
        #expect(store.stderr.contains("is a file, not a directory") && !store.stderr.contains("NSCocoaErrorDomain"), "\(store.stderr)")
        let listing = try temporaryFile("evil.yaml", "name: \"Evil\\e]52;c;aGk=\\a Tool\"\ndescription: \"d\"\n")
        let route = try await panel([
            "route", "--explain", listing, "--config", Self.root.appendingPathComponent("fixtures/configs/router.yaml").path,
        ])
        #expect(route.code == 0, "\(route.stderr)")
        #expect(route.stdout.contains("Evil") && !route.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
    }

    /// A --record directory that cannot be written is refused before any call: exit 2, naming it.
    @Test func unwritableRecordDirectoryIsAUsageError() async throws {
        let blocker = try temporaryFile("blocker", "a file where a directory should be")
        try await MockProvider.withServer { handle in
            let result = try await panel([
                "review", Self.mistral, "--base-url", handle.baseURL, "--model", "m", "--record", blocker + "/recordings",
            ])
            #expect(result.code == 2)
            #expect(result.stderr.contains(blocker + "/recordings"))
            #expect(handle.stats.snapshot.chatRequests == 0)
        }
    }

    @Test func wrongKeyIsReportedWithoutTheKey() async throws {
        var configuration = MockProviderConfiguration()
        configuration.requiredKey = "sk-the-right-one-000000"
        try await MockProvider.withServer(configuration) { handle in
            let wrong = "sk-the-wrong-one-999999"
            let result = try await panel(
                [
                    "review", Self.azure, "--base-url", handle.baseURL, "--model", "m", "--api-key-env", "PANEL_TEST_KEY", "--format",
                    "json",
                ],
                environment: ["PANEL_TEST_KEY": wrong])
            #expect(result.code == 3)
            #expect(result.stderr.contains("authentication"))
            #expect(!(result.stdout + result.stderr).contains(wrong))
        }
    }

    @Test(arguments: ["openai", "azure", "anthropic", "ollama", "gemini"])
    func reviewThroughEveryBackendKind(kind: String) async throws {
        try await MockProvider.withServer { handle in
            let root = "http://127.0.0.1:\(handle.port)"
            let config = try temporaryFile(
                "panel.yaml",
                """
                backends:
                  - name: \(kind)-backend
                    kind: \(kind)
                    base_url: \(kind == "openai" ? root + "/v1" : root)
                    model: m-\(kind)
                    deployment: \(kind == "azure" ? "panel" : "~")
                    api_key_env: PANEL_TEST_KEY
                    local: true
                    price: {input_per_mtok: 1, output_per_mtok: 2}
                """)
            for stream in [false, true] {
                let result = try await panel(
                    ["review", Self.azure, "--config", config, "--format", "json"] + (stream ? ["--stream"] : []),
                    environment: ["PANEL_TEST_KEY": "sk-kind-test-123456789"])
                #expect(result.code == 0, "\(kind): \(result.stderr)")
                let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                let reviews = try #require((document["tools"] as? [[String: Any]])?.first?["reviews"] as? [[String: Any]])
                #expect(reviews.allSatisfy { $0["backend"] as? String == "\(kind)-backend" && $0["model"] as? String == "m-\(kind)" })
                #expect(reviews.allSatisfy { $0["cost_usd"] is Double })
            }
        }
    }

    @Test func backendsListsWithoutKeysAndChecks() async throws {
        try await MockProvider.withServer { handle in
            let config = try temporaryFile(
                "panel.yaml",
                """
                backends:
                  - {name: good, kind: openai, base_url: "\(handle.baseURL)", model: m, api_key_env: PANEL_TEST_KEY}
                  - {name: gone, kind: ollama, base_url: "http://127.0.0.1:1", model: m}
                """)
            let key = "sk-backends-secret-000111"
            let listed = try await panel(["backends", "--config", config], environment: ["PANEL_TEST_KEY": key])
            #expect(listed.code == 0)
            #expect(listed.stdout.contains("$PANEL_TEST_KEY set"))
            let checked = try await panel(["backends", "--config", config, "--check"], environment: ["PANEL_TEST_KEY": key])
            #expect(checked.code == 1)
            #expect(checked.stdout.contains("ok"))
            #expect(checked.stdout.contains("connection"))
            #expect(!(listed.stdout + checked.stdout + checked.stderr).contains(key))
        }
    }

    @Test func configurationErrorsStopBeforeAnyCall() async throws {
        try await MockProvider.withServer { handle in
            let config = try temporaryFile(
                "panel.yaml",
                "backends:\n  - {name: a, kind: anthropic, base_url: \"\(handle.baseURL)\", model: m, local: false, api_key_env: PANEL_UNSET_VAR_X}\n"
            )
            let result = try await panel(["review", Self.azure, "--config", config])
            #expect(result.code == 2)
            #expect(result.stderr.contains("backends[0].api_key_env"))
            #expect(handle.stats.snapshot.chatRequests == 0)
        }
    }

    @Test func localBackendsAreNotCachedByDefault() async throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("panel-cache-\(UUID().uuidString).sqlite").path
        try await MockProvider.withServer { handle in
            let arguments = ["review", Self.azure, "--base-url", handle.baseURL, "--model", "m", "--store", store, "--format", "json"]
            _ = try await panel(arguments)
            _ = try await panel(arguments)
            #expect(handle.stats.snapshot.chatRequests == 8)
        }
    }

    @Test func rerunIsServedFromTheCacheWithZeroCalls() async throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("panel-cache-\(UUID().uuidString).sqlite").path
        let key = "sk-cache-test-abcdef0123456"
        var configuration = MockProviderConfiguration()
        configuration.requiredKey = key
        try await MockProvider.withServer(configuration) { handle in
            let arguments = [
                "review", Self.azure, Self.mistral, "--base-url", handle.baseURL, "--model", "m", "--api-key-env", "PANEL_TEST_KEY",
                "--store", store, "--cache", "--format", "json",
            ]
            let first = try await panel(arguments, environment: ["PANEL_TEST_KEY": key])
            #expect(first.code == 0, "\(first.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 8)
            let second = try await panel(arguments, environment: ["PANEL_TEST_KEY": key])
            #expect(second.code == 0)
            #expect(handle.stats.snapshot.chatRequests == 8)  // nothing new reached the provider
            let document = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
            let totals = try #require(document["totals"] as? [String: Any])
            #expect(totals["calls"] as? Int == 0)
            let reviews = (document["tools"] as? [[String: Any]] ?? []).flatMap { $0["reviews"] as? [[String: Any]] ?? [] }
            #expect(reviews.allSatisfy { ($0["flags"] as? [String])?.contains("cached") == true })
            let refreshed = try await panel(arguments + ["--refresh"], environment: ["PANEL_TEST_KEY": key])
            #expect(refreshed.code == 0)
            #expect(handle.stats.snapshot.chatRequests == 16)
            // Answers older than --cache-ttl are asked again (0: every one is too old); a generous one serves them.
            let expired = try await panel(arguments + ["--cache-ttl", "0"], environment: ["PANEL_TEST_KEY": key])
            #expect(expired.code == 0)
            #expect(handle.stats.snapshot.chatRequests == 24)
            let fresh = try await panel(arguments + ["--cache-ttl", "3600"], environment: ["PANEL_TEST_KEY": key])
            #expect(fresh.code == 0)
            #expect(handle.stats.snapshot.chatRequests == 24)
            let database = try Data(contentsOf: URL(fileURLWithPath: store))
            #expect(database.range(of: Data(key.utf8)) == nil)
        }
    }

    /// Three providers with different prices; the cheapest is dead. The router skips what the cost
    /// cap excludes, falls back from the dead one, and the document still completes.
    @Test func routerPicksTheCheapestQualifyingAndFallsBack() async throws {
        let dead = MockProvider.unusedPort()
        try await MockProvider.withServer { cheap in
            try await MockProvider.withServer { pricey in
                let config = try temporaryFile(
                    "panel.yaml",
                    """
                    backends:
                      - {name: dead, kind: openai, base_url: "http://127.0.0.1:\(dead)/v1", model: m, price: {input_per_mtok: 0.01, output_per_mtok: 0.01}, quality: 3, family: a, max_attempts: 1}
                      - {name: cheap, kind: openai, base_url: "\(cheap.baseURL)", model: m, price: {input_per_mtok: 0.1, output_per_mtok: 0.1}, quality: 3, family: b, max_attempts: 1}
                      - {name: pricey, kind: openai, base_url: "\(pricey.baseURL)", model: m, price: {input_per_mtok: 50, output_per_mtok: 50}, quality: 5, family: c}
                    router:
                      objective: cheapest
                      max_cost_usd: 0.01
                      exploration_share: 0
                    panel: {backend: router}
                    """)
                let result = try await panel(["review", Self.azure, Self.mistral, "--config", config, "--format", "json", "--verbose"])
                #expect(result.code == 0, "\(result.stderr)")
                let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                let reviews = (document["tools"] as? [[String: Any]] ?? []).flatMap { $0["reviews"] as? [[String: Any]] ?? [] }
                #expect(reviews.count == 8)
                #expect(reviews.allSatisfy { $0["backend"] as? String == "cheap" })
                #expect(pricey.stats.snapshot.chatRequests == 0)
                let routing = try #require(reviews.first?["routing"] as? [String: Any])
                let candidates = try #require(routing["candidates"] as? [[String: Any]])
                #expect(candidates.contains { $0["backend"] as? String == "pricey" && $0["excluded_by"] as? String == "cost cap" })
                #expect(result.stderr.contains("pricey: excluded by cost cap"))
                #expect(result.stderr.contains("dead failed connection") || result.stderr.contains("dead: excluded by cooling down"))

                let explain = try await panel(["route", "--explain", Self.azure, "--config", config])
                #expect(explain.code == 0)
                #expect(explain.stdout.contains("Builder: pick dead — best by cheapest"))
                #expect(explain.stdout.contains("excluded: cost cap"))
                #expect(cheap.stats.snapshot.chatRequests == 8)  // the dry run called nothing
            }
        }
    }
}
