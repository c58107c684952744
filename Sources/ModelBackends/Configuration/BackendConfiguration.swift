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
    // kind-specific
    public var azureAPIVersion: String?
    public var azureDeployment: String?
    public var anthropicVersion: String
    public var geminiKeyStyle: GeminiBackend.KeyStyle
    // router metadata
    public var quality: Int?
    public var family: String?
    public var declaredLocal: Bool?
    public var contextWindow: Int?
    public var declaredLatencyMS: Int?

    public init(
        name: String, kind: BackendKind, baseURL: String, model: String, apiKeyEnv: String? = nil, price: Price? = nil,
        maxConcurrency: Int = 8, timeout: Duration = .seconds(120), structuredOutput: StructuredOutputMode = .auto,
        retry: RetryPolicy = RetryPolicy(), azureAPIVersion: String? = nil, azureDeployment: String? = nil,
        anthropicVersion: String = "2023-06-01", geminiKeyStyle: GeminiBackend.KeyStyle = .header, quality: Int? = nil,
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
        self.azureAPIVersion = azureAPIVersion
        self.azureDeployment = azureDeployment
        self.anthropicVersion = anthropicVersion
        self.geminiKeyStyle = geminiKeyStyle
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
    var azureEndpoint: String {
        let base = trimmedBase(baseURL)
        if base.hasSuffix("/openai/v1") { return base + "/chat/completions" }
        if let deployment = azureDeployment {
            let version = azureAPIVersion ?? "2024-10-21"
            return base + "/openai/deployments/\(deployment)/chat/completions?api-version=\(version)"
        }
        return base + "/openai/v1/chat/completions"
    }

    /// The provider adapter alone, with the key already read from the environment.
    public func makeAdapter(apiKey: String?, transport: HTTPTransport = .shared) -> any ModelBackend {
        switch kind {
        case .openai:
            return OpenAICompatibleBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, timeout: timeout, price: price,
                    structuredOutput: structuredOutput),
                transport: transport)
        case .azure:
            return OpenAICompatibleBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, timeout: timeout, price: price,
                    structuredOutput: structuredOutput, keyHeader: .apiKey, endpointURL: azureEndpoint),
                transport: transport)
        case .anthropic:
            return AnthropicBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, version: anthropicVersion, timeout: timeout, price: price,
                    structuredOutput: structuredOutput != .none),
                transport: transport)
        case .ollama:
            return OllamaBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, timeout: timeout, price: price,
                    structuredOutput: structuredOutput != .none),
                transport: transport)
        case .gemini:
            return GeminiBackend(
                .init(
                    name: name, baseURL: baseURL, model: model, apiKey: apiKey, keyStyle: geminiKeyStyle, timeout: timeout, price: price,
                    structuredOutput: structuredOutput != .none),
                transport: transport)
        }
    }
}
