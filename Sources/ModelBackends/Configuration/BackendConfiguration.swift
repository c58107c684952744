import Foundation

/// The provider families panel speaks.
public enum BackendKind: String, Sendable, Hashable, CaseIterable, Codable {
    case openai, azure, anthropic, ollama, gemini

    /// The base URL when a configuration gives none, as each provider's own SDK defines it.
    public var defaultBaseURL: String? {
        switch self {
        case .openai: return "https://api.openai.com/v1"
        case .azure: return nil
        case .anthropic: return "https://api.anthropic.com"
        case .ollama: return "http://127.0.0.1:11434"
        case .gemini: return "https://generativelanguage.googleapis.com"
        }
    }
}

/// One configured backend: where it is, which model, how to authenticate, what it costs and how
/// hard it may be driven. Also carries the metadata the router weighs.
public struct BackendConfiguration: Sendable, Hashable {
    public var name: String
    public var kind: BackendKind
    public var baseURL: String
    public var model: String
    /// The environment variable holding the key; never the key.
    public var apiKeyEnv: String?
    public var price: Price?
    public var maxConcurrency: Int
    public var timeout: Duration
    public var structuredOutput: StructuredOutputMode
    public var retry: RetryPolicy
    /// What only this kind has (Azure's deployment, Anthropic's version, Gemini's key style), read
    /// and checked by the kind itself.
    public var options: ProviderOptions
    /// The answer-length cap's name for OpenAI-compatible kinds; nil picks by server and negotiates.
    public var tokenLimitField: TokenLimitField?
    /// Parameters never sent to this backend (`drop_params`).
    public var dropParams: Set<DroppableParameter> = []
    /// Requests and tokens per minute (`rate_limit`), held across every process sharing a store.
    public var rateLimit: RateLimit?
    // router metadata
    public var quality: Int?
    /// `quality: measured`: the quality comes from the editors' agreement `panel eval --save` stored.
    public var qualityMeasured = false
    public var family: String?
    public var declaredLocal: Bool?
    public var contextWindow: Int?
    public var declaredLatencyMS: Int?

    public init(
        name: String, kind: BackendKind, baseURL: String, model: String, apiKeyEnv: String? = nil, price: Price? = nil,
        maxConcurrency: Int = 8, timeout: Duration = .seconds(120), structuredOutput: StructuredOutputMode = .auto,
        retry: RetryPolicy = RetryPolicy(), options: ProviderOptions = .none, tokenLimitField: TokenLimitField? = nil,
        dropParams: Set<DroppableParameter> = [], quality: Int? = nil,
        family: String? = nil, declaredLocal: Bool? = nil, contextWindow: Int? = nil, declaredLatencyMS: Int? = nil
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.price = price
        self.maxConcurrency = maxConcurrency
        self.timeout = timeout
        self.structuredOutput = structuredOutput
        self.retry = retry
        self.options = options
        self.tokenLimitField = tokenLimitField
        self.dropParams = dropParams
        self.quality = quality
        self.family = family
        self.declaredLocal = declaredLocal
        self.contextWindow = contextWindow
        self.declaredLatencyMS = declaredLatencyMS
    }

    /// A backend on this machine: declared so, or its URL is a loopback address.
    public var isLocal: Bool {
        if let declaredLocal { return declaredLocal }
        let host = URL(string: baseURL)?.host?.lowercased() ?? ""
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The Azure chat-completions URL: a deployment URL with `api-version`, or the `/openai/v1/` form.
    static func azureEndpoint(baseURL: String, _ options: AzureOptions) -> String {
        if trimmedBase(BackendURL.split(baseURL).0).hasSuffix("/openai/v1") { return BackendURL.join(baseURL, "/chat/completions") }
        if let deployment = options.deployment {
            return BackendURL.join(baseURL, "/openai/deployments/\(deployment)/chat/completions?api-version=\(options.apiVersion)")
        }
        return BackendURL.join(baseURL, "/openai/v1/chat/completions")
    }

    /// The provider adapter alone, with the key already read from the environment.
    public func makeAdapter(apiKey: String?, transport: HTTPTransport = .shared) -> any ModelBackend {
        switch kind {
        case .openai:
            return OpenAICompatibleBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, timeout: timeout, price: price,
                    structuredOutput: structuredOutput, tokenLimitField: tokenLimitField, dropParams: dropParams),
                transport: transport)
        case .azure:
            var azure = AzureOptions()
            if case .azure(let options) = options { azure = options }
            // On the `/openai/v1` form the deployment is named in the body, as the model.
            let v1 = trimmedBase(baseURL).hasSuffix("/openai/v1")
            return OpenAICompatibleBackend(
                .init(
                    name: name, baseURL: baseURL, model: v1 ? (azure.deployment ?? model) : model, apiKey: apiKey, timeout: timeout,
                    price: price,
                    structuredOutput: structuredOutput, keyHeader: .apiKey, endpointURL: Self.azureEndpoint(baseURL: baseURL, azure),
                    tokenLimitField: tokenLimitField, dropParams: dropParams),
                transport: transport)
        case .anthropic:
            var version = AnthropicBackend.Options.defaultVersion
            if case .anthropic(let anthropic) = options { version = anthropic.version }
            return AnthropicBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, version: version, timeout: timeout, price: price,
                    structuredOutput: structuredOutput != .none),
                transport: transport)
        case .ollama:
            return OllamaBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, timeout: timeout, price: price,
                    structuredOutput: structuredOutput != .none),
                transport: transport)
        case .gemini:
            var gemini = GeminiBackend.Options()
            if case .gemini(let options) = options { gemini = options }
            return GeminiBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, keyStyle: gemini.keyStyle, timeout: timeout, price: price,
                    structuredOutput: structuredOutput != .none, apiVersion: gemini.apiVersion),
                transport: transport)
        }
    }
}
