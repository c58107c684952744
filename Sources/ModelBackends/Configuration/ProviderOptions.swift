/// Settings that only one kind of backend has. Each kind reads and checks its own (in its adapter's
/// `Options.read`); the common configuration holds none of them.
public enum ProviderOptions: Sendable, Hashable {
    case none
    case azure(AzureOptions)
    case anthropic(AnthropicBackend.Options)
    case gemini(GeminiBackend.Options)
}

/// A kind-specific option that cannot be used: which key and why.
public struct ProviderOptionError: Error, Sendable, Hashable {
    public var key: String
    public var problem: String

    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }
}

/// Azure OpenAI's own settings: which deployment, which API version.
public struct AzureOptions: Sendable, Hashable {
    /// The deployment that answers (`…/openai/deployments/{deployment}/…`); on the `/openai/v1` form it
    /// is sent as the model.
    public var deployment: String?
    /// `api-version` of the deployment URL form.
    public var apiVersion: String

    public static let keys = ["deployment", "api_version"]
    public static let defaultAPIVersion = "2024-10-21"

    public init(deployment: String? = nil, apiVersion: String = defaultAPIVersion) {
        self.deployment = deployment
        self.apiVersion = apiVersion
    }

    public static func read(_ values: [String: String]) throws(ProviderOptionError) -> AzureOptions {
        if let version = values["api_version"], version.isEmpty || version.contains(where: { $0 == "&" || $0 == "?" || $0 == " " }) {
            throw ProviderOptionError(key: "api_version", problem: "must be an API version such as \(defaultAPIVersion)")
        }
        return AzureOptions(deployment: values["deployment"], apiVersion: values["api_version"] ?? defaultAPIVersion)
    }
}

extension BackendKind {
    /// The keys this kind's options may set in a configuration.
    public var optionKeys: [String] {
        switch self {
        case .openai, .ollama: return []
        case .azure: return AzureOptions.keys
        case .anthropic: return AnthropicBackend.Options.keys
        case .gemini: return GeminiBackend.Options.keys
        }
    }

    /// Reads and checks this kind's options from their text values.
    public func options(from values: [String: String]) throws(ProviderOptionError) -> ProviderOptions {
        switch self {
        case .openai, .ollama: return .none
        case .azure: return .azure(try AzureOptions.read(values))
        case .anthropic: return .anthropic(try AnthropicBackend.Options.read(values))
        case .gemini: return .gemini(try GeminiBackend.Options.read(values))
        }
    }

    /// True when a remote backend of this kind cannot be called without a key (OpenAI-compatible and
    /// Ollama servers often run without one).
    public var requiresKey: Bool {
        switch self {
        case .openai, .ollama: return false
        case .azure, .anthropic, .gemini: return true
        }
    }
}
