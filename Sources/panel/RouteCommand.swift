import ArgumentParser
import Foundation
import PanelRuntime

struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Explain, for each persona, which backend the router would pick and why — without calling any model.",
        discussion: """
            A dry run on the declared metadata (price, quality, family, local, latency_ms) and, with \
            --stats FILE, on observed latencies ({"backend": [ms, ms, …]}). The same seed and statistics \
            give the same decisions.

            Example:
              panel route --explain fixtures/listings/mistral-3-small.yaml --config fixtures/configs/router.yaml
            """
    )

    @Flag(help: "Print the decision table (the only mode; the flag is for readability).")
    var explain = false

    @Argument(help: ArgumentHelp("Listing files.", valueName: "LISTING"))
    var listings: [String]

    @Option(help: ArgumentHelp("Configuration file (default: panel.yaml).", valueName: "FILE"))
    var config: String?

    @Option(help: ArgumentHelp("Persona prompt files.", valueName: "DIR"))
    var prompts: String?

    @Option(help: ArgumentHelp("Observed latencies to decide on: a JSON object of backend → [milliseconds].", valueName: "FILE"))
    var stats: String?

    @Flag(help: "Print JSON (the routing traces) instead of tables.")
    var json = false

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        var configuration: PanelConfiguration
        let promptSet: PromptSet
        var loaded: [Listing] = []
        do {
            if config == nil, !FileManager.default.fileExists(atPath: PanelConfiguration.fileName) {
                configuration = try await PanelRuntime.detected(model: nil, log: BackendOptions.runtimeLog(log))
            } else {
                configuration = try PanelConfiguration.load(path: config ?? PanelConfiguration.fileName)
            }
            promptSet = try PanelRuntime.prompts(prompts)
            for path in listings { loaded.append(try ListingLoader.load(path: path)) }
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let statistics = BackendStatistics()
        if let stats {
            guard let data = FileManager.default.contents(atPath: stats),
                // JSON: Foundation both ways — a user's statistics file, read once.
                let object = try? JSONDecoder().decode([String: [Double]].self, from: data)
            else {
                log.error("\(stats): expected a JSON object of backend name → list of latencies in milliseconds")
                throw PanelExit.usage
            }
            for (backend, latencies) in object { statistics.record(backend, latenciesMS: latencies) }
        }
        // Explain the router even for personas configured on a fixed backend.
        if !configuration.usesRouter { configuration.defaultBackend = PanelConfiguration.routerName }
        let backends = BackendStack.build(configuration, keys: [:], options: .init(statistics: statistics))
        guard let router = backends[PanelConfiguration.routerName] as? ModelRouter else { throw PanelExit.usage }
        var traces: [JSONValue] = []
        for listing in loaded {
            if !json { print("\n\(TerminalText.safe(listing.name))") }
            for persona in promptSet.personas {
                let settings = ReviewSettings.resolved(ReviewOverrides(), configuration: configuration)
                let request = promptSet.request(
                    for: persona, listing: listing, temperature: settings.temperature, maxOutputTokens: settings.maxOutputTokens)
                let decision = router.decide(request)
                let fixed = configuration.backendName(for: persona.id)
                if json {
                    // The trace as a value directly (it was encoded to bytes, parsed into `Any`, and written again).
                    traces.append(
                        .object([
                            "listing": .string(listing.name), "persona": .string(persona.id),
                            "trace": try JSONValueEncoder.encode(decision.trace), "configured_backend": .string(fixed),
                        ]))
                    continue
                }
                print(
                    TerminalText.safe(
                        "\n  \(persona.name): pick \(decision.trace.pick ?? "none") — \(decision.trace.rule)", singleLine: false))
                if fixed != PanelConfiguration.routerName {
                    print("    (this persona is configured on '\(fixed)'; shown: what the router would do)")
                }
                print("    constraints: \(decision.trace.constraints)")
                print(TerminalText.safe(table(decision.trace.candidates), singleLine: false))
            }
        }
        if json {
            print(JSONValue.array(traces).prettyText(), terminator: "")
        }
    }

    func table(_ candidates: [RoutingTrace.Candidate]) -> String {
        let header = ["rank", "backend", "family", "quality", "est. cost", "p90", "result"]
        let sorted = candidates.sorted { ($0.rank ?? 999, $0.backend) < ($1.rank ?? 999, $1.backend) }
        let rows: [[String]] = sorted.map { c in
            let rank: String = c.rank.map { String($0) } ?? "-"
            let quality: String = c.quality.map { String($0) } ?? "-"
            let cost: String = c.estimatedCostUSD.map { String(format: "$%.6f", $0) } ?? "unknown"
            let p90: String = c.p90MS.map { "\($0) ms" } ?? "unknown"
            let result: String
            if let excluded = c.excludedBy {
                result = "excluded: \(excluded) (\(c.detail ?? ""))"
            } else {
                result = c.rank == 1 ? "picked" : "qualifies"
            }
            return [rank, c.backend, c.family ?? "-", quality, cost, p90, result]
        }
        let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            "    " + zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
