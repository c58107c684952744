import Foundation
import MockProvider
import NIOPosix
import PanelRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one way in (``PanelRuntime``): every front end gets its engine from one constructor, and the
/// executable holds no engine set-up of its own.
@Suite(.timeLimit(.minutes(3)))
struct RuntimeTests {
    @Test func theExecutableImportsOnlyTheRuntimeAndTheServer() throws {
        let directory = PanelCLITests.root.appendingPathComponent("Sources/panel")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        let beneath = ["ModelBackends", "ModelRouter", "PanelKit", "PanelStore", "PanelPostgres", "PanelEngine"]
        // Engine set-up is the runtime's: no command builds backends, an engine, a store or loads prompts itself.
        let setUp = [
            "EngineBackends(", "ReviewEngine(", "PanelStore(", "PostgresStore", "PromptSet.load", "DocumentTemplates.load",
            "Calibration.load", "ReviewSettings.resolved(backend",
        ]
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            for module in beneath { #expect(!text.contains("import \(module)\n"), "\(file) imports \(module)") }
            for call in setUp { #expect(!text.contains(call), "\(file) sets the engine up itself (\(call))") }
        }
    }

    /// A worker or server started before its PostgreSQL answers waits for it (said once); a store that
    /// cannot be right however long one waits (a wrong password) is refused at once.
    @Test func aPostgresStoreThatCannotBeReachedYetIsWaitedForWithPatience() async throws {
        // A port held by a socket that does not listen: connections to it are refused, and no other test's
        // server can take it meanwhile.
        let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(held) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let port = withUnsafeMutablePointer(to: &address) { pointer -> Int in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(held, $0, length) == 0, getsockname(held, $0, &length) == 0 else { return 0 }
                return Int(UInt16(bigEndian: pointer.pointee.sin_port))
            }
        }
        try #require(port > 0)
        let waits = Mutex<[String]>([])
        let start = ContinuousClock.now
        do {
            _ = try await Stores.open(
                "postgres://panel:secret@127.0.0.1:\(port)/panel", patience: .seconds(1),
                onWait: { message in waits.withLock { $0.append(message) } })
            Issue.record("a store with no server was opened")
        } catch {
            #expect(ContinuousClock.now - start >= .seconds(1))
            #expect("\(error)".contains("fix the URL or the server") && !"\(error)".contains("secret"))
        }
        #expect(waits.withLock { $0.count } == 1)
        #expect(waits.withLock { $0.first?.contains("waiting up to 1 s") } == true)
        guard let url = ProcessInfo.processInfo.environment["PANEL_TEST_POSTGRES_URL"], let at = url.firstIndex(of: "@") else { return }
        // Reached, but the password is wrong: no waiting.
        let wrong = "postgres://postgres:wrong-password" + url[at...]
        let before = ContinuousClock.now
        await #expect(throws: RuntimeError.self) { _ = try await Stores.open(wrong, patience: .seconds(30)) }
        #expect(ContinuousClock.now - before < .seconds(10))
    }

    /// `batch` and `worker` run their tasks on NIO's event loop, every other command on Swift's pool.
    @Test func theQueueCommandsRunOnTheEventLoopAndTheRestOnSwiftsPool() {
        #expect(ExecutorPlan(arguments: ["/usr/bin/panel", "batch", "in.jsonl"]) == .eventLoop)
        #expect(ExecutorPlan(arguments: ["panel", "worker", "--drain"]) == .eventLoop)
        for command in ["serve", "review", "jobs", "render", "--help", "batches"] {
            #expect(ExecutorPlan(arguments: ["panel", command]) == .standard, "\(command)")
        }
        #expect(ExecutorPlan(arguments: ["panel"]) == .standard)
    }

    /// On the event-loop plan the work, its child tasks and the engine's unstructured tasks (which take
    /// the executor from ``EngineExecutor``) all run on a NIO event loop; on the standard plan none does.
    @Test func theEventLoopPlanKeepsTheWorkAndItsTasksOnTheLoop() async {
        @Sendable func onLoop() -> Bool { MultiThreadedEventLoopGroup.currentEventLoop != nil }
        let placed = await ExecutorPlan.eventLoop.run {
            let child = await withTaskGroup(of: Bool.self) { group in
                group.addTask { onLoop() }
                return await group.next() ?? false
            }
            let unstructured = await Task(executorPreference: EngineExecutor.preferred) { onLoop() }.value
            return [onLoop(), child, unstructured, EngineExecutor.preferred != nil]
        }
        #expect(placed == [true, true, true, true])
        let standard = await ExecutorPlan.standard.run { [onLoop(), EngineExecutor.preferred != nil] }
        #expect(standard == [false, false])
    }

    /// A running batch has one NIO event loop (its tasks run on it), unless the environment asks for
    /// more: the threads' names say so (`NIO-SGLTN-…`, from /proc).
    @Test(arguments: [nil, "3"])
    func aBatchRunsOnOneEventLoopUnlessTheEnvironmentSaysMore(loops: String?) async throws {
        let workspace = try BatchTests().workspace("loops", listings: 2)
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(1500)
        try await MockProvider.withServer(configuration) { handle in
            let running = try WorkerTests().launch(
                [
                    "batch", workspace.input, "--out", workspace.out.path, "--base-url", handle.baseURL, "--model", "m", "--store",
                    workspace.store, "--concurrency", "8",
                ], environment: loops.map { ["NIO_SINGLETON_GROUP_LOOP_COUNT": $0] } ?? [:])
            // The loops all start together, before the first call; the calls then wait 1.5 s at the mock.
            let started = await WorkerTests().eventually(within: .seconds(60)) { handle.stats.snapshot.chatRequests > 0 }
            #expect(started)
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(running.pid)/task")) ?? []
            let names = tasks.compactMap { try? String(contentsOfFile: "/proc/\(running.pid)/task/\($0)/comm", encoding: .utf8) }
            #expect(names.filter { $0.hasPrefix("NIO-SGLTN-") }.count == Int(loops ?? "1"), "\(names)")
            let outcome = try await running.done.value
            #expect(outcome.code == 0, "\(outcome.stderr)")
        }
    }

    @Test func recordedAnswersMakeAReadyEngineWithTheDefaultsInOnePlace() async throws {
        let runtime = try await PanelRuntime.open(
            EngineRequest(replay: PanelCLITests.root.appendingPathComponent("fixtures/recordings").path), store: .forCache)
        #expect(runtime.store == nil)
        #expect(runtime.engine.settings.temperature == ReviewSettings.defaultTemperature)
        #expect(runtime.engine.settings.maxOutputTokens == ReviewSettings.defaultMaxOutputTokens)
        #expect(runtime.engine.settings.prompts.personas.map(\.id) == ["builder", "skeptic", "founder", "futurist"])
    }

    @Test func everyProblemIsSaidAtOnce() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("panel-runtime-\(UUID().uuidString)").path
        var request = EngineRequest(configPath: missing + "/panel.yaml", prompts: missing + "/prompts", calibration: missing + "/cal.json")
        request.store = missing + "/s.sqlite"
        do {
            _ = try await PanelRuntime.open(request, store: .always)
            Issue.record("a runtime was made from files that are not there")
        } catch {
            #expect(error.problems.count == 3, "\(error.problems)")
            #expect(error.problems.contains { $0.contains("prompts") })
            #expect(error.problems.contains { $0.contains("panel.yaml") })
            #expect(error.problems.contains { $0.hasPrefix("--calibration") })
        }
    }
}
