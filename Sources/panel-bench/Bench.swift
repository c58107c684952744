import ArgumentParser
import Foundation
import MockProvider
import ModelBackends
import ModelRouter

/// Benchmarks that print figures (README's "Benchmarks"); not tests.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "panel-bench", abstract: "panel's benchmarks.",
        subcommands: [Decision.self, Hedging.self, Parser.self, Intervals.self, Claims.self])
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
}

struct Decision: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Routing decision time with N backends (no calls).")

    @Option var backends = 32
    @Option var iterations = 20_000

    func run() {
        struct Idle: ModelBackend {
            let name: String
            func complete(_ request: ChatRequest) async throws -> ChatResponse { ChatResponse(text: "", model: nil, backend: name) }
        }
        let statistics = BackendStatistics()
        let candidates = (0..<backends).map { index in
            let name = "backend-\(index)"
            statistics.record(name, latenciesMS: (0..<50).map { _ in Double.random(in: 200...3000) })
            return RouteCandidate(
                backend: Idle(name: name),
                configuration: BackendConfiguration(
                    name: name, kind: .openai, baseURL: "https://example.invalid/v1", model: "m",
                    price: Price(inputPerMTok: Double(index % 7) * 0.1, outputPerMTok: Double(index % 5) * 0.3),
                    structuredOutput: index % 9 == 0 ? .none : .auto, quality: 1 + index % 5, family: "family-\(index % 6)",
                    declaredLatencyMS: 1000))
        }
        let router = ModelRouter(
            candidates: candidates,
            constraints: RoutingConstraints(
                objective: .balanced(cost: 1, latency: 1, quality: 1), maxCostUSD: 0.01, minQuality: 2, require: [.jsonSchema],
                diverseFamilies: true),
            statistics: statistics)
        let request = ChatRequest(
            messages: [.system(String(repeating: "s", count: 1500)), .user(String(repeating: "u", count: 3000))], maxOutputTokens: 700,
            label: "builder · Acme")
        let clock = ContinuousClock()
        var times: [Double] = []
        times.reserveCapacity(iterations)
        for index in 0..<iterations {
            var call = request
            call.label = "builder · tool \(index % 100)"
            let start = clock.now
            _ = router.decide(call)
            times.append((clock.now - start).seconds * 1e6)
        }
        print("routing decision, \(backends) backends, \(iterations) decisions (release build):")
        print(
            String(
                format: "  p50 %.1f µs   p90 %.1f µs   p99 %.1f µs   max %.1f µs", percentile(times, 0.5), percentile(times, 0.9),
                percentile(times, 0.99), times.max() ?? 0))
    }
}

struct Hedging: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Review latency with and without hedging, on mock providers where some calls are much slower.")

    @Option var reviews = 150
    @Option var latencyMs = 100.0
    @Option var slowRate = 0.05
    @Option var slowFactor = 10.0
    @Option var concurrency = 8
    @Option(help: "Hedge after this many milliseconds instead of the backend's p90.") var afterMs: Int?
    @Option(help: "Hedge at this percentile of the backend's latency (90 or 95) instead of p90.") var afterPercentile = 90
    @Option var maxExtraShare = 0.10

    func run() async throws {
        func mock(seed: UInt64) -> MockProviderConfiguration {
            var configuration = MockProviderConfiguration()
            configuration.latency = .milliseconds(Int64(latencyMs))
            configuration.jitter = .milliseconds(Int64(latencyMs * 0.2))
            configuration.slowRate = slowRate
            configuration.slowFactor = slowFactor
            // Slow per attempt, not per body: a hedge (or a repeat on the same backend) may be fast.
            configuration.slowPerAttempt = true
            configuration.seed = seed
            return configuration
        }
        let firstConfiguration = mock(seed: 11)
        let secondConfiguration = mock(seed: 22)
        try await MockProvider.withServer(firstConfiguration) { first in
            try await MockProvider.withServer(secondConfiguration) { second in
                print(
                    "\(reviews) reviews × 4 personas, mock latency \(Int(latencyMs)) ms + 20% jitter, \(Int(slowRate * 100))% of calls \(Int(slowFactor))× slower; "
                        + "hedge after \(afterMs.map { "\($0) ms" } ?? "p\(afterPercentile)"), ≤\(Int(maxExtraShare * 100))% extra calls")
                for hedged in [false, true] {
                    let result = try await run(ports: [first.port, second.port], hedge: hedged)
                    print(
                        String(
                            format:
                                "  %@  review p50 %.0f ms   p90 %.0f ms   p95 %.0f ms   p99 %.0f ms   reviews over 500 ms: %d   extra calls %.1f%%",
                            hedged ? "hedged:   " : "no hedge: ", percentile(result.latencies, 0.5), percentile(result.latencies, 0.9),
                            percentile(result.latencies, 0.95), percentile(result.latencies, 0.99),
                            result.latencies.filter { $0 > 500 }.count,
                            result.extraShare * 100))
                }
            }
        }
    }

    func run(ports: [Int], hedge: Bool) async throws -> (latencies: [Double], extraShare: Double) {
        let candidates = ports.enumerated().map { index, port in
            let configuration = BackendConfiguration(
                name: "mock-\(index)", kind: .openai, baseURL: "http://127.0.0.1:\(port)/v1", model: "m",
                price: Price(inputPerMTok: Double(index + 1), outputPerMTok: Double(index + 1)), maxConcurrency: 64,
                structuredOutput: .none, quality: 3, family: "f\(index)", declaredLatencyMS: Int(latencyMs * 1.2))
            return RouteCandidate(backend: configuration.makeAdapter(apiKey: nil), configuration: configuration)
        }
        let router = ModelRouter(
            candidates: candidates,
            constraints: RoutingConstraints(
                objective: .cheapest,
                hedge: hedge
                    ? .init(
                        trigger: afterMs.map { .after(.milliseconds($0)) } ?? (afterPercentile == 95 ? .p95 : .p90),
                        maxExtraShare: maxExtraShare) : nil,
                explorationShare: 0))
        let clock = ContinuousClock()
        var latencies: [Double] = []
        try await withThrowingTaskGroup(of: Double.self) { group in
            var started = 0
            func add() {
                let review = started
                started += 1
                group.addTask {
                    let start = clock.now
                    try await withThrowingTaskGroup(of: Void.self) { personas in
                        for persona in ["builder", "skeptic", "founder", "futurist"] {
                            personas.addTask {
                                let request = ChatRequest(
                                    messages: [.system("You are the \(persona)."), .user("Name: tool \(review) hedge \(hedge)")],
                                    label: "\(persona) · tool \(review)")
                                _ = try await router.complete(request)
                            }
                        }
                        try await personas.waitForAll()
                    }
                    return (clock.now - start).seconds * 1000
                }
            }
            for _ in 0..<min(concurrency, reviews) { add() }
            while let latency = try await group.next() {
                latencies.append(latency)
                if started < reviews { add() }
            }
        }
        let (hedged, routed) = router.hedgeShare
        return (latencies, routed == 0 ? 0 : Double(hedged) / Double(routed))
    }
}
