/// The one definition of a backend's model family, used by the router (diversity) and by documents
/// ("model families" in the footer):
/// 1. the configured `family`;
/// 2. else the vendor, for hosted kinds whose models all come from one vendor (openai and azure →
///    openai, anthropic, gemini → google);
/// 3. else inferred from the model name (llama, mistral, qwen, gemma, phi …);
/// 4. else the kind.
public enum ModelFamily {
    /// Model-name prefixes and the family each names, longest match first where prefixes overlap.
    static let prefixes: [(String, String)] = [
        ("gpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"), ("claude", "anthropic"),
        ("mistral", "mistral"), ("mixtral", "mistral"), ("codestral", "mistral"), ("ministral", "mistral"), ("magistral", "mistral"),
        ("devstral", "mistral"), ("meta-llama", "llama"), ("llama", "llama"), ("codellama", "llama"), ("gemini", "google"),
        ("gemma", "google"), ("qwen", "qwen"), ("qwq", "qwen"), ("deepseek", "deepseek"), ("phi", "phi"), ("command", "cohere"),
        ("grok", "xai"), ("smollm", "smollm"), ("granite", "granite"), ("olmo", "olmo"),
    ]

    /// The family of a configured backend.
    public static func of(_ backend: BackendConfiguration) -> String {
        of(family: backend.family, kind: backend.kind, model: backend.model)
    }

    /// The family from what is known: a configured family, the backend's kind, the model's name.
    /// With nothing known (an old document without the backend's kind), the model name decides.
    public static func of(family: String?, kind: BackendKind?, model: String?) -> String {
        if let family, !family.isEmpty { return family.lowercased() }
        switch kind {
        case .openai?:
            // The kind also covers OpenAI-compatible servers (vLLM, llama.cpp, Mistral …): the name decides
            // when it names another family.
            return inferred(model) ?? "openai"
        case .azure?: return inferred(model) ?? "openai"
        case .anthropic?: return "anthropic"
        case .gemini?: return "google"
        case .ollama?: return inferred(model) ?? "ollama"
        case nil: return inferred(model) ?? model?.lowercased() ?? "unknown"
        }
    }

    /// The family a model name names, if any: `meta-llama/Llama-3.1-8B` → llama, `qwen2.5:7b` → qwen.
    public static func inferred(_ model: String?) -> String? {
        guard let name = model?.lowercased(), !name.isEmpty else { return nil }
        let base = name.split(separator: "/").last.map(String.init) ?? name
        return prefixes.first { base.hasPrefix($0.0) }?.1
    }
}
