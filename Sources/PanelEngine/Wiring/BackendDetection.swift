import Foundation
public import ModelBackends

/// Finds a backend when nothing is configured (no `panel.yaml`, no `--config`, no `--base-url`): the
/// environment variables the providers' official SDKs read, then a model server on this machine.
///
/// In order: `OPENAI_API_KEY` (with `OPENAI_BASE_URL` when set; a loopback `OPENAI_BASE_URL` needs no
/// key), `ANTHROPIC_API_KEY`, `GEMINI_API_KEY` (or `GOOGLE_API_KEY`), `AZURE_OPENAI_ENDPOINT` +
/// `AZURE_OPENAI_API_KEY`, then Ollama on 127.0.0.1:11434, llama.cpp on 127.0.0.1:8080 and LM Studio on
/// 127.0.0.1:1234, each answering a quick request for its model list.
public struct BackendDetection: Sendable {
    /// What was found, and why it was picked (said on stderr).
    public struct Found: Sendable {
        public var backend: BackendConfiguration
        public var reason: String

        /// A one-backend configuration of what was found.
        public var configuration: PanelConfiguration {
            PanelConfiguration(backends: [backend], defaultBackend: backend.name, source: "detected backend '\(backend.name)'")
        }
    }

    /// Nothing found: what was tried, and how to configure a backend.
    public struct NotFound: Error, Sendable, CustomStringConvertible {
        public var tried: [String]

        public var description: String {
            """
            no backend configured or found. Tried, in order:
            \(tried.map { "  - \($0)" }.joined(separator: "\n"))
            Configure one of three ways:
              1. export a provider's key: OPENAI_API_KEY (with OPENAI_BASE_URL for any OpenAI-compatible server), \
            ANTHROPIC_API_KEY or GEMINI_API_KEY — or start Ollama, llama.cpp or LM Studio on this machine
              2. panel init (writes a commented panel.yaml here), or --config FILE
              3. --base-url URL --model NAME for any OpenAI-compatible server (or --replay DIR to answer from recordings)
            """
        }
    }

    /// GETs a URL and returns its JSON body, or nil when nothing answers in time.
    public typealias Probe = @Sendable (_ url: String, _ headers: [(String, String)]) async -> JSONValue?

    /// The default model of each provider when `--model` is not given, with its list price per
    /// million tokens (so budgets and costs work out of the box; `panel.yaml` overrides both).
    public static let defaults: [BackendKind: (model: String, price: Price?)] = [
        .openai: ("gpt-4.1-mini", Price(inputPerMTok: 0.40, outputPerMTok: 1.60)),
        .anthropic: ("claude-haiku-4-5", Price(inputPerMTok: 1.00, outputPerMTok: 5.00)),
        .gemini: ("gemini-2.5-flash", Price(inputPerMTok: 0.30, outputPerMTok: 2.50)),
        .azure: ("gpt-4.1-mini", nil),
    ]

    /// The local servers probed, in order.
    public struct LocalServer: Sendable {
        public var name: String
        public var product: String
        public var kind: BackendKind
        public var baseURL: String
        public var modelsURL: String
    }

    public static let localServers = [
        LocalServer(
            name: "ollama", product: "Ollama", kind: .ollama, baseURL: "http://127.0.0.1:11434",
            modelsURL: "http://127.0.0.1:11434/api/tags"),
        LocalServer(
            name: "llama.cpp", product: "llama.cpp", kind: .openai, baseURL: "http://127.0.0.1:8080/v1",
            modelsURL: "http://127.0.0.1:8080/v1/models"),
        LocalServer(
            name: "lm-studio", product: "LM Studio", kind: .openai, baseURL: "http://127.0.0.1:1234/v1",
            modelsURL: "http://127.0.0.1:1234/v1/models"),
    ]

    public var environment: [String: String]
    public var probe: Probe
    public var localServers: [LocalServer]

    public init(environment: [String: String], probe: @escaping Probe = Self.httpProbe, localServers: [LocalServer] = Self.localServers) {
        self.environment = environment
        self.probe = probe
        self.localServers = localServers
    }

    /// A GET through the shared transport with a short deadline: a probe must not slow a first run down.
    public static let httpProbe: Probe = { url, headers in
        guard
            let response = try? await HTTPTransport.shared.get(url: url, headers: headers, backend: "probe", timeout: .milliseconds(1500)),
            response.status == 200
        else { return nil }
        return JSONValue.parse(response.body)
    }

    func value(_ name: String) -> String? {
        guard let value = environment[name]?.trimmedWhitespace(), !value.isEmpty else { return nil }
        return value
    }

    /// The first backend found, or what was tried. `model` (from `--model`) replaces the default model.
    public func detect(model: String? = nil) async -> Result<Found, NotFound> {
        var tried: [String] = []
        // 1. OpenAI, or any OpenAI-compatible server named by OPENAI_BASE_URL.
        let openAIKey = value("OPENAI_API_KEY")
        if let base = value("OPENAI_BASE_URL") {
            let candidate = BackendConfiguration(name: "openai", kind: .openai, baseURL: base, model: "")
            let loopback = candidate.isLocal
            if !(base.lowercased().hasPrefix("http://") || base.lowercased().hasPrefix("https://")) {
                tried.append("OPENAI_BASE_URL: '\(BackendURL.redacted(base))' is not an http(s) URL such as http://127.0.0.1:8080/v1")
            } else if openAIKey != nil || loopback {
                let host = URL(string: base)?.host ?? "openai"
                var chosen = model
                var how = "--model"
                if chosen == nil, loopback {
                    // A local server: ask it which model it serves.
                    let headers = openAIKey.map { [("authorization", "Bearer \($0)")] } ?? []
                    if let first = Self.firstModel(await probe(BackendURL.join(base, "/models"), headers)) {
                        chosen = first
                        how = "the first model the server lists"
                    }
                }
                let isOpenAI = host == "api.openai.com"
                let defaults = Self.defaults[.openai]!
                let backend = BackendConfiguration(
                    name: isOpenAI ? "openai" : host, kind: .openai, baseURL: base,
                    model: chosen ?? (loopback ? "default" : defaults.model),
                    apiKeyEnv: openAIKey == nil ? nil : "OPENAI_API_KEY",
                    price: loopback ? Price(inputPerMTok: 0, outputPerMTok: 0) : (model == nil && isOpenAI ? defaults.price : nil))
                let why = openAIKey == nil ? "OPENAI_BASE_URL is set to a loopback address" : "OPENAI_API_KEY and OPENAI_BASE_URL are set"
                return .success(Found(backend: backend, reason: "\(why); model \(backend.model) (\(chosen == nil ? "default" : how))"))
            } else {
                tried.append("OPENAI_BASE_URL: set to a remote address, but OPENAI_API_KEY is not set")
            }
        } else if openAIKey != nil {
            let defaults = Self.defaults[.openai]!
            let backend = BackendConfiguration(
                name: "openai", kind: .openai, baseURL: BackendKind.openai.defaultBaseURL!, model: model ?? defaults.model,
                apiKeyEnv: "OPENAI_API_KEY", price: model == nil ? defaults.price : nil)
            return .success(Found(backend: backend, reason: "OPENAI_API_KEY is set; OpenAI's API, model \(backend.model)"))
        } else {
            tried.append("OPENAI_API_KEY: not set")
        }
        // 2. Anthropic.
        if value("ANTHROPIC_API_KEY") != nil {
            let defaults = Self.defaults[.anthropic]!
            let backend = BackendConfiguration(
                name: "anthropic", kind: .anthropic, baseURL: value("ANTHROPIC_BASE_URL") ?? BackendKind.anthropic.defaultBaseURL!,
                model: model ?? defaults.model, apiKeyEnv: "ANTHROPIC_API_KEY", price: model == nil ? defaults.price : nil,
                options: .anthropic(AnthropicBackend.Options()))
            return .success(Found(backend: backend, reason: "ANTHROPIC_API_KEY is set; Anthropic's API, model \(backend.model)"))
        }
        tried.append("ANTHROPIC_API_KEY: not set")
        // 3. Gemini.
        if let variable = ["GEMINI_API_KEY", "GOOGLE_API_KEY"].first(where: { value($0) != nil }) {
            let defaults = Self.defaults[.gemini]!
            let backend = BackendConfiguration(
                name: "gemini", kind: .gemini, baseURL: BackendKind.gemini.defaultBaseURL!, model: model ?? defaults.model,
                apiKeyEnv: variable, price: model == nil ? defaults.price : nil, options: .gemini(GeminiBackend.Options()))
            return .success(Found(backend: backend, reason: "\(variable) is set; Gemini's API, model \(backend.model)"))
        }
        tried.append("GEMINI_API_KEY (or GOOGLE_API_KEY): not set")
        // 4. Azure OpenAI: the deployment is named by --model, as the openai SDK's AzureOpenAI client does.
        if let endpoint = value("AZURE_OPENAI_ENDPOINT"), value("AZURE_OPENAI_API_KEY") != nil {
            let deployment = model ?? value("AZURE_OPENAI_DEPLOYMENT") ?? Self.defaults[.azure]!.model
            let options = AzureOptions(deployment: deployment, apiVersion: value("OPENAI_API_VERSION") ?? AzureOptions.defaultAPIVersion)
            let backend = BackendConfiguration(
                name: "azure", kind: .azure, baseURL: endpoint, model: deployment, apiKeyEnv: "AZURE_OPENAI_API_KEY",
                options: .azure(options))
            return .success(
                Found(
                    backend: backend,
                    reason:
                        "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY are set; deployment \(deployment) (--model or AZURE_OPENAI_DEPLOYMENT names another)"
                ))
        }
        tried.append(
            value("AZURE_OPENAI_ENDPOINT") == nil && value("AZURE_OPENAI_API_KEY") == nil
                ? "AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY: not set"
                : "AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY: only one of the two is set")
        // 5. Model servers on this machine, probed at once, picked in order.
        let answers = await withTaskGroup(of: (Int, JSONValue?).self) { group in
            for (index, server) in localServers.enumerated() {
                group.addTask { (index, await probe(server.modelsURL, [])) }
            }
            var answers = [JSONValue?](repeating: nil, count: localServers.count)
            for await (index, answer) in group { answers[index] = answer }
            return answers
        }
        for (server, answer) in zip(localServers, answers) {
            guard let answer else {
                tried.append(
                    "\(server.product) on \(URL(string: server.modelsURL)?.host ?? server.modelsURL):\(URL(string: server.modelsURL)?.port ?? 0): nothing answered"
                )
                continue
            }
            let listed = server.kind == .ollama ? Self.firstOllamaModel(answer) : Self.firstModel(answer)
            guard let chosen = model ?? listed else {
                tried.append(
                    "\(server.product) answered but serves no model"
                        + (server.kind == .ollama ? " (ollama pull llama3.2, or give --model)" : " (load one, or give --model)"))
                continue
            }
            // Named by what answered, not by the port it answered on (a mock, or vLLM, may sit on llama.cpp's).
            let (name, product) = server.kind == .ollama ? (server.name, server.product) : Self.identify(answer, on: server)
            let backend = BackendConfiguration(
                name: name, kind: server.kind, baseURL: server.baseURL, model: chosen, price: Price(inputPerMTok: 0, outputPerMTok: 0))
            return .success(
                Found(
                    backend: backend,
                    reason: "\(product) answered on \(server.baseURL); model \(chosen) (\(model == nil ? "the first it lists" : "--model"))"
                ))
        }
        return .failure(NotFound(tried: tried))
    }

    /// Which server an OpenAI-style model list came from, by the `owned_by` its models carry: llama.cpp
    /// (`llamacpp`), vLLM (`vllm`), LM Studio (`organization_owner`), Ollama (`library`), panel's mock;
    /// another owner is named as such; a list without one is taken for the server usual on that port.
    static func identify(_ list: JSONValue?, on server: LocalServer) -> (name: String, product: String) {
        let owner = list?["data"]?.arrayValue?.lazy.compactMap { $0["owned_by"]?.stringValue }.first { !$0.isEmpty }
        guard let owner else { return (server.name, server.product) }
        switch owner.lowercased() {
        case "llamacpp", "llama.cpp": return ("llama.cpp", "llama.cpp")
        case "vllm": return ("vllm", "vLLM")
        case "organization_owner", "lmstudio", "lm-studio": return ("lm-studio", "LM Studio")
        case "library", "ollama": return ("ollama", "Ollama")
        case "panel-mock-provider": return ("mock", "panel-mock-provider (panel's stand-in for a model server)")
        default:
            let port = URL(string: server.baseURL)?.port.map { ":\($0)" } ?? ""
            return ("local", "an OpenAI-compatible server (models owned by '\(String(owner.prefix(40)))') on 127.0.0.1\(port)")
        }
    }

    /// The first model id in an OpenAI-style `{"data": [{"id": …}]}` list.
    static func firstModel(_ list: JSONValue?) -> String? {
        list?["data"]?.arrayValue?.lazy.compactMap { $0["id"]?.stringValue }.first { !$0.isEmpty }
    }

    /// The first model in Ollama's `{"models": [{"name": …}]}` list.
    static func firstOllamaModel(_ list: JSONValue?) -> String? {
        list?["models"]?.arrayValue?.lazy.compactMap { $0["name"]?.stringValue ?? $0["model"]?.stringValue }.first { !$0.isEmpty }
    }
}
