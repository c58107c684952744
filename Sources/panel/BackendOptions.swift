import ArgumentParser
import Foundation
import ModelBackends

/// How `panel review` reaches a model: a live OpenAI-compatible server, or recorded answers.
struct BackendOptions: ParsableArguments {
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

    @Flag(help: "Stream answers (measures time to first token).")
    var stream = false

    func validate() throws {
        if replay != nil && record != nil { throw ValidationError("--replay and --record cannot be used together") }
        if replay == nil {
            guard baseURL != nil, model != nil else {
                throw ValidationError("give --base-url and --model for a live backend, or --replay DIR for recorded answers")
            }
        }
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

    /// The backend these options describe, decorators included.
    func makeBackend() throws -> any ModelBackend {
        if let replay {
            do {
                return try ReplayBackend(store: RecordingStore(directory: URL(fileURLWithPath: replay)))
            } catch {
                throw ConfigurationError("--replay: \(error)")
            }
        }
        guard let baseURL, let model else { throw ConfigurationError("no backend configured") }
        var apiKey: String?
        if let variable = apiKeyEnv {
            guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                throw ConfigurationError(
                    "--api-key-env: the environment variable \(variable) is not set; export it, or leave out --api-key-env for a server without auth"
                )
            }
            apiKey = value
        }
        let name = backendName ?? URL(string: baseURL)?.host ?? "openai"
        var backend: any ModelBackend = OpenAICompatibleBackend(
            .init(
                name: name, baseURL: baseURL, model: model, apiKey: apiKey,
                timeout: .milliseconds(Int64(timeout * 1000)), price: price.flatMap(parsedPrice),
                structuredOutput: StructuredOutputMode(rawValue: structuredOutput) ?? .auto))
        backend = ConcurrencyLimitedBackend(backend, limit: concurrency)
        if let record {
            backend = RecordingBackend(
                backend, store: RecordingStore(directory: URL(fileURLWithPath: record), redactor: Redactor().adding(apiKey)))
        }
        return backend
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
