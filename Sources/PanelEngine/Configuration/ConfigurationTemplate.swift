import ModelBackends

/// The commented `panel.yaml` that `panel init` writes: the detected backend active, every other kind
/// shown commented out, so the file is a working configuration and a reference at once.
public enum ConfigurationTemplate {
    /// The file's text. With no detected backend, a local Ollama is the active one (the only kind that
    /// needs neither a key nor a URL) and every other kind is shown commented out.
    public static func yaml(detected: BackendDetection.Found?, version: String) -> String {
        let active =
            detected?.backend
            ?? BackendConfiguration(
                name: "local", kind: .ollama, baseURL: BackendKind.ollama.defaultBaseURL!, model: "llama3.2",
                price: Price(inputPerMTok: 0, outputPerMTok: 0))
        var lines: [String] = [
            "# panel.yaml — written by `panel init` (panel \(version)).",
            detected.map { "# Detected: \($0.reason)." }
                ?? "# Nothing was detected: the active backend is a local Ollama; uncomment another kind to use it.",
            "# Keys are never written here: each backend names the environment variable that holds its key.",
            "# Check it with: panel backends --check",
            "",
            "backends:",
        ]
        lines += entry(active, commented: false)
        let examples: [(BackendKind, [String])] = [
            (.openai, entry(example(.openai), commented: true)),
            (.anthropic, entry(example(.anthropic), commented: true)),
            (.gemini, entry(example(.gemini), commented: true)),
            (.azure, entry(example(.azure), commented: true)),
            (.ollama, entry(example(.ollama), commented: true)),
        ]
        lines.append("")
        lines.append(
            "  # Other kinds, to uncomment (any OpenAI-compatible server — vLLM, llama.cpp, LM Studio, Mistral — is kind: openai with a base_url):"
        )
        for (kind, text) in examples where !(kind == active.kind && kind != .openai) {
            lines += text
        }
        lines += [
            "",
            "panel:",
            "  # The backend every persona uses, unless a persona names its own below.",
            "  backend: \(quoted(active.name))",
            "  # personas:",
            "  #   founder: {backend: claude}",
            "  # The fewest answering personas for a panel verdict (default: a majority of them).",
            "  # quorum: 3",
            "  # temperature: 0.2",
            "  # max_tokens: 700",
            "",
            "# A router picks a backend per call from constraints (see docs/router.md):",
            "# router:",
            "#   objective: cheapest",
            "#   max_cost_usd: 0.002",
            "#   min_quality: 3",
            "#   hedge: {after: p95, max_extra_share: 0.10}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    static func example(_ kind: BackendKind) -> BackendConfiguration {
        switch kind {
        case .openai:
            return BackendConfiguration(
                name: "openai", kind: .openai, baseURL: BackendKind.openai.defaultBaseURL!,
                model: BackendDetection.defaults[.openai]!.model,
                apiKeyEnv: "OPENAI_API_KEY", price: BackendDetection.defaults[.openai]!.price)
        case .anthropic:
            return BackendConfiguration(
                name: "claude", kind: .anthropic, baseURL: BackendKind.anthropic.defaultBaseURL!,
                model: BackendDetection.defaults[.anthropic]!.model, apiKeyEnv: "ANTHROPIC_API_KEY",
                price: BackendDetection.defaults[.anthropic]!.price)
        case .gemini:
            return BackendConfiguration(
                name: "gemini", kind: .gemini, baseURL: BackendKind.gemini.defaultBaseURL!,
                model: BackendDetection.defaults[.gemini]!.model,
                apiKeyEnv: "GEMINI_API_KEY", price: BackendDetection.defaults[.gemini]!.price)
        case .azure:
            return BackendConfiguration(
                name: "azure", kind: .azure, baseURL: "https://YOUR-RESOURCE.openai.azure.com", model: "gpt-4.1-mini",
                apiKeyEnv: "AZURE_OPENAI_API_KEY", options: .azure(AzureOptions(deployment: "YOUR-DEPLOYMENT")))
        case .ollama:
            return BackendConfiguration(
                name: "local", kind: .ollama, baseURL: BackendKind.ollama.defaultBaseURL!, model: "llama3.2",
                price: Price(inputPerMTok: 0, outputPerMTok: 0))
        }
    }

    /// One backend as YAML lines, optionally commented out.
    static func entry(_ backend: BackendConfiguration, commented: Bool) -> [String] {
        var fields: [String] = ["name: \(quoted(backend.name))", "kind: \(backend.kind.rawValue)"]
        if backend.baseURL != backend.kind.defaultBaseURL { fields.append("base_url: \(quoted(backend.baseURL))") }
        fields.append("model: \(quoted(backend.model))")
        if let variable = backend.apiKeyEnv { fields.append("api_key_env: \(variable)") }
        if let price = backend.price {
            fields.append("price: {input_per_mtok: \(number(price.inputPerMTok)), output_per_mtok: \(number(price.outputPerMTok))}")
        }
        switch backend.options {
        case .azure(let azure):
            if let deployment = azure.deployment { fields.append("deployment: \(quoted(deployment))") }
            fields.append("api_version: \(quoted(azure.apiVersion))")
        default: break
        }
        let prefix = commented ? "  # " : "  "
        var lines = ["\(prefix)- \(fields[0])"]
        lines += fields.dropFirst().map { "\(prefix)  \($0)" }
        return lines
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// A YAML scalar, quoted when plain style would change its meaning.
    static func quoted(_ text: String) -> String {
        let plain =
            text.allSatisfy { $0.isLetter || $0.isNumber || "-_./".contains($0) } && !text.isEmpty
            && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(text.lowercased())
            && !(text.first?.isNumber ?? false)
        if plain { return text }
        var escaped = "\""
        for character in text {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped + "\""
    }
}
