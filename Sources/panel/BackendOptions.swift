import ArgumentParser
import Foundation
import ModelBackends
import PanelKit
import PanelStore

/// How `panel review` reaches a model: a live OpenAI-compatible server, or recorded answers.
struct BackendOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Configuration file (default: panel.yaml in the working directory, when no --base-url is given).", valueName: "FILE"))
    var config: String?

    @Option(help: ArgumentHelp("Base URL of an OpenAI-compatible API, including the version (…/v1).", valueName: "URL"))
    var baseURL: String?

    @Option(help: ArgumentHelp("Model name to request.", valueName: "NAME"))
    var model: String?

    @Option(help: ArgumentHelp("Name of the environment variable holding the API key (never the key itself).", valueName: "VAR"))
    var apiKeyEnv: String?

    @Option(
        help: ArgumentHelp("Answer only from recordings in DIR; a request without a recording abstains with a message.", valueName: "DIR"))
    var replay: String?

    @Option(help: ArgumentHelp("Record every answer into DIR (keys are never written).", valueName: "DIR"))
    var record: String?

    @Option(help: ArgumentHelp("Name of the backend in documents and logs (default: the base URL's host).", valueName: "NAME"))
    var backendName: String?

    @Option(help: ArgumentHelp("USD per million input and output tokens, e.g. 0.15,0.60 (0,0 for a local model).", valueName: "IN,OUT"))
    var price: String?

    @Option(help: "Sampling temperature.")
    var temperature: Double = 0.2

    @Option(help: ArgumentHelp("Most tokens a persona may answer with.", valueName: "N"))
    var maxTokens: Int = 700

    @Option(help: ArgumentHelp("Deadline for each whole call, in seconds.", valueName: "SECONDS"))
    var timeout: Double = 120

    @Option(help: ArgumentHelp("Most calls in flight at once to the backend.", valueName: "N"))
    var concurrency: Int = 8

    @Option(help: ArgumentHelp("Structured output mode: auto, json_schema, json_object or none.", valueName: "MODE"))
    var structuredOutput: String = "auto"

    @Option(help: ArgumentHelp("Calls per request in all, retries included (transient failures only).", valueName: "N"))
    var maxAttempts: Int = 4

    @Option(help: ArgumentHelp("The SQLite store holding the response cache.", valueName: "PATH"))
    var store: String = PanelStore.defaultPath

    @Flag(help: "Cache local backends too (by default only remote ones are cached).")
    var cache = false

    @Flag(help: "Neither read nor write the response cache.")
    var noCache = false

    @Flag(help: "Ignore cached answers but cache the fresh ones.")
    var refresh = false

    @Flag(help: "Stream answers (measures time to first token).")
    var stream = false

    func validate() throws {
        if replay != nil && record != nil { throw ValidationError("--replay and --record cannot be used together") }
        if replay == nil, config == nil, baseURL == nil, model == nil,
            !FileManager.default.fileExists(atPath: PanelConfiguration.fileName)
        {
            throw ValidationError("no backend: give --config FILE (or put panel.yaml here), --base-url and --model, or --replay DIR")
        }
        if (baseURL == nil) != (model == nil) { throw ValidationError("--base-url and --model go together") }
        if config != nil && baseURL != nil { throw ValidationError("--config and --base-url cannot be used together") }
        if noCache && (refresh || cache) { throw ValidationError("--no-cache contradicts --refresh and --cache") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        if let baseURL {
            let lowered = baseURL.lowercased()
            guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), URL(string: baseURL)?.host != nil else {
                throw ValidationError("--base-url must be an http(s) URL such as http://127.0.0.1:8080/v1, not '\(baseURL)'")
            }
        }
        guard (0...2).contains(temperature) else { throw ValidationError("--temperature must be between 0 and 2") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
        if let price, parsedPrice(price) == nil {
            throw ValidationError("--price takes two non-negative numbers, USD per million input and output tokens: 0.15,0.60")
        }
        guard StructuredOutputMode(rawValue: structuredOutput) != nil else {
            throw ValidationError(
                "--structured-output must be one of \(StructuredOutputMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The configuration these options describe: `--config FILE`, else `--base-url/--model` as a
    /// one-backend configuration, else `panel.yaml` in the working directory.
    func configuration() throws -> PanelConfiguration? {
        if replay != nil { return nil }
        if let baseURL, let model {
            let name = backendName ?? URL(string: baseURL)?.host ?? "openai"
            let backend = BackendConfiguration(
                name: name, kind: .openai, baseURL: baseURL, model: model, apiKeyEnv: apiKeyEnv, price: price.flatMap(parsedPrice),
                maxConcurrency: concurrency, timeout: .milliseconds(Int64(timeout * 1000)),
                structuredOutput: StructuredOutputMode(rawValue: structuredOutput) ?? .auto, retry: RetryPolicy(maxAttempts: maxAttempts))
            return PanelConfiguration(backends: [backend], defaultBackend: name, source: "command line")
        }
        let path = config ?? PanelConfiguration.fileName
        return try PanelConfiguration.load(path: path)
    }

    /// The backend answering each persona, decorators included.
    func makeBackends(log: Diagnostics) throws -> (configuration: PanelConfiguration?, backendFor: @Sendable (String) -> any ModelBackend) {
        if let replay {
            do {
                let backend = try ReplayBackend(store: RecordingStore(directory: URL(fileURLWithPath: replay)))
                return (nil, { _ in backend })
            } catch {
                throw ConfigurationError("--replay: \(error)")
            }
        }
        guard let configuration = try configuration() else { throw ConfigurationError("no backend configured") }
        let environment = ProcessInfo.processInfo.environment
        if configuration.source == "command line", let variable = apiKeyEnv, environment[variable]?.isEmpty ?? true {
            throw ConfigurationError(
                "--api-key-env: the environment variable \(variable) is not set; export it, or leave out --api-key-env for a server without auth"
            )
        }
        let keys = try configuration.resolveKeys(environment: environment)
        var cacheStore: PanelStore?
        if !noCache && (cache || configuration.backends.contains { !$0.isLocal }) {
            do {
                cacheStore = try PanelStore(path: store)
            } catch {
                throw ConfigurationError("--store \(store): cannot open the store (\(error)); fix the path or use --no-cache")
            }
        }
        let backends = BackendStack.build(
            configuration, keys: keys,
            options: .init(
                recordDirectory: record.map { URL(fileURLWithPath: $0) },
                cache: cacheStore, cacheMode: refresh || record != nil ? .refresh : .normal, cacheLocal: cache,
                onRetry: { name, attempt, error, wait in
                    log.debug("↻ \(name): attempt \(attempt) failed (\(error.kind.rawValue)); retrying in \(wait.milliseconds) ms")
                }))
        let fallback = backends[configuration.defaultBackend]!
        return (configuration, { persona in backends[configuration.backendName(for: persona)] ?? fallback })
    }
}

func parsedPrice(_ text: String) -> Price? {
    let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, let input = parts[0], let output = parts[1], input >= 0, output >= 0, input.isFinite, output.isFinite
    else { return nil }
    return Price(inputPerMTok: input, outputPerMTok: output)
}

struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
