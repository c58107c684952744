import ArgumentParser
import Foundation
import PanelRuntime

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

    @Option(help: "Sampling temperature (default: the configuration's, else 0.2).")
    var temperature: Double?

    @Option(help: ArgumentHelp("Most tokens a persona may answer with (default: the configuration's, else 700).", valueName: "N"))
    var maxTokens: Int?

    @Option(
        help: ArgumentHelp(
            "Ask each persona K times and combine the answers: majority verdict, median score, spread (default: the configuration's, else 1).",
            valueName: "K"))
    var samples: Int?

    @Option(help: ArgumentHelp("Show calibrated scores beside the raw ones, from a map panel calibrate wrote.", valueName: "FILE"))
    var calibration: String?

    @Option(
        name: .customLong("claims-check"),
        help: ArgumentHelp(
            "rules: check the paragraphs' claims against the listing by rule; model: also ask a model about what the rules leave unsupported (its backend: panel.claims.backend, else the default) (default: the configuration's, else rules).",
            valueName: "rules|model"))
    var claimsCheck: String?

    @Option(help: ArgumentHelp("Deadline for each whole call, in seconds.", valueName: "SECONDS"))
    var timeout: Double = 120

    @Option(help: ArgumentHelp("Most calls in flight at once to the backend.", valueName: "N"))
    var concurrency: Int = 8

    @Option(help: ArgumentHelp("Structured output mode: auto, json_schema, json_object or none.", valueName: "MODE"))
    var structuredOutput: String = "auto"

    @Option(help: ArgumentHelp("Calls per request in all, retries included (transient failures only).", valueName: "N"))
    var maxAttempts: Int = 4

    @OptionGroup var storeOption: StoreOption

    @Flag(help: "Cache local backends too (by default only remote ones are cached).")
    var cache = false

    @Flag(help: "Neither read nor write the response cache.")
    var noCache = false

    @Flag(help: "Ignore cached answers but cache the fresh ones.")
    var refresh = false

    @Option(
        help: ArgumentHelp(
            "Use cached answers no older than this (default: the configuration's cache_ttl_s, else any age).", valueName: "SECONDS"))
    var cacheTTL: Double?

    @Flag(help: "Stream answers (measures time to first token).")
    var stream = false

    func validate() throws {
        if let claimsCheck, claimsCheck != "rules", claimsCheck != "model" {
            throw ValidationError("--claims-check must be rules or model, not '\(claimsCheck)'")
        }
        if let samples, !(1...ReviewSettings.maxSamples).contains(samples) {
            throw ValidationError("--samples must be from 1 to \(ReviewSettings.maxSamples)")
        }
        if replay != nil && record != nil { throw ValidationError("--replay and --record cannot be used together") }
        if baseURL != nil && model == nil { throw ValidationError("--base-url needs --model (the model to request)") }
        if model != nil, baseURL == nil, config != nil || FileManager.default.fileExists(atPath: PanelConfiguration.fileName) {
            throw ValidationError(
                "--model without --base-url names the model of a detected backend; with a configuration file, set the model in it")
        }
        if config != nil && baseURL != nil { throw ValidationError("--config and --base-url cannot be used together") }
        if noCache && (refresh || cache) { throw ValidationError("--no-cache contradicts --refresh and --cache") }
        if let apiKeyEnv, apiKeyEnv.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
            // Most likely the key itself: it is not repeated here.
            throw ValidationError(
                "--api-key-env takes the NAME of the environment variable that holds the key (e.g. OPENAI_API_KEY), not the key; the value given is not shown"
            )
        }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        if let cacheTTL, !(0...31_536_000).contains(cacheTTL) {
            throw ValidationError("--cache-ttl must be a number of seconds from 0 to 31536000 (a year)")
        }
        if let baseURL {
            let lowered = baseURL.lowercased()
            guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), URL(string: baseURL)?.host != nil else {
                throw ValidationError(
                    "--base-url must be an http(s) URL such as http://127.0.0.1:8080/v1, not '\(BackendURL.redacted(baseURL))'")
            }
        }
        if let temperature, !(0...2).contains(temperature) { throw ValidationError("--temperature must be between 0 and 2") }
        if let maxTokens, maxTokens <= 0 { throw ValidationError("--max-tokens must be positive") }
        guard timeout > 0, timeout.isFinite, timeout <= 86_400 else {
            throw ValidationError("--timeout must be a positive number of seconds, at most 86400 (a day)")
        }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
        if let price, parsedPrice(price) == nil {
            throw ValidationError(
                "--price takes two numbers from 0 to \(Int(Price.maxPerMTok)), USD per million input and output tokens: 0.15,0.60")
        }
        guard StructuredOutputMode(rawValue: structuredOutput) != nil else {
            throw ValidationError(
                "--structured-output must be one of \(StructuredOutputMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The request these options make of the engine (``PanelRuntime``): the command adds its own
    /// prompts, templates, quorum and streaming.
    func request(
        prompts: String? = nil, templates: String? = nil, quorum: Int? = nil, stream: Bool? = nil,
        storeAlternative: String = ", or use --no-cache"
    ) -> EngineRequest {
        var overrides = ReviewOverrides(
            temperature: temperature, maxOutputTokens: maxTokens, stream: self.stream ? true : nil, quorum: quorum, samples: samples)
        if let stream { overrides.stream = stream }
        if let claimsCheck { overrides.checkClaims = claimsCheck == "model" }
        return EngineRequest(
            configPath: config, baseURL: baseURL, model: model, apiKeyEnv: apiKeyEnv, replay: replay, record: record,
            backendName: backendName, price: price.flatMap(parsedPrice),
            timeout: CheckedNumber.duration(seconds: timeout, max: 86_400) ?? .seconds(120), concurrency: concurrency,
            structuredOutput: StructuredOutputMode(rawValue: structuredOutput) ?? .auto, maxAttempts: maxAttempts,
            cacheMode: noCache ? .off : (refresh ? .refresh : .normal), cacheLocal: cache,
            cacheTTL: cacheTTL.flatMap { CheckedNumber.duration(seconds: $0) }, overrides: overrides, prompts: prompts,
            templates: templates, calibration: calibration, store: storeOption.location, storeAlternative: storeAlternative)
    }

    /// Where the runtime's notes go: the terminal's diagnostics.
    static func runtimeLog(_ log: Diagnostics) -> RuntimeLog {
        RuntimeLog(info: { log.info($0) }, debug: { log.debug($0) })
    }

    /// The ready engine these options and the command's own ask for.
    /// `storePatience`: how long a PostgreSQL store still starting (or restarting) is waited for — a
    /// minute for the long-running `panel worker` and `panel serve`, none for the rest.
    func runtime(
        _ use: PanelRuntime.StoreUse, log: Diagnostics, prompts: String? = nil, templates: String? = nil, quorum: Int? = nil,
        stream: Bool? = nil, storePatience: Duration = .zero
    ) async throws(RuntimeError) -> PanelRuntime {
        var request = request(prompts: prompts, templates: templates, quorum: quorum, stream: stream)
        request.storePatience = storePatience
        return try await PanelRuntime.open(request, store: use, log: Self.runtimeLog(log))
    }
}

func parsedPrice(_ text: String) -> Price? {
    let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, let input = parts[0], let output = parts[1], (0...Price.maxPerMTok).contains(input),
        (0...Price.maxPerMTok).contains(output)
    else { return nil }
    return Price(inputPerMTok: input, outputPerMTok: output)
}

struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
