import Foundation
import ModelBackends
import Testing

@testable import PanelEngine

/// First-run detection with the environment and the local probes injected: no network, no sleeping.
struct BackendDetectionTests {
    /// A probe that answers only for the URLs given.
    static func probe(_ answers: [String: String]) -> BackendDetection.Probe {
        { url, _ in answers[url].flatMap { JSONValue.parse($0) } }
    }

    static let nothingLocal = probe([:])

    func detect(
        _ environment: [String: String], model: String? = nil, probe: @escaping BackendDetection.Probe = nothingLocal
    ) async
        -> Result<BackendDetection.Found, BackendDetection.NotFound>
    {
        await BackendDetection(environment: environment, probe: probe).detect(model: model)
    }

    @Test func openAIKeyAlone() async throws {
        let found = try await detect(["OPENAI_API_KEY": "sk-secret-abc123"]).get()
        #expect(found.backend.kind == .openai && found.backend.baseURL == "https://api.openai.com/v1")
        #expect(found.backend.model == "gpt-4.1-mini" && found.backend.apiKeyEnv == "OPENAI_API_KEY" && found.backend.price != nil)
        #expect(!found.reason.contains("sk-secret"))
        let chosen = try await detect(["OPENAI_API_KEY": "k"], model: "gpt-4.1").get()
        #expect(chosen.backend.model == "gpt-4.1" && chosen.backend.price == nil)  // an unknown model's price is not guessed
    }

    @Test func aLoopbackBaseURLNeedsNoKeyAndAsksTheServerForItsModel() async throws {
        let models = #"{"object": "list", "data": [{"id": "qwen2.5-7b-instruct"}, {"id": "other"}]}"#
        let found = try await detect(
            ["OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"], probe: Self.probe(["http://127.0.0.1:8000/v1/models": models])
        ).get()
        #expect(found.backend.name == "127.0.0.1" && found.backend.model == "qwen2.5-7b-instruct" && found.backend.apiKeyEnv == nil)
        #expect(found.backend.price == Price(inputPerMTok: 0, outputPerMTok: 0))
        #expect(found.reason.contains("loopback"))
        let named = try await detect(["OPENAI_BASE_URL": "http://localhost:8000/v1"], model: "mine").get()
        #expect(named.backend.model == "mine")
    }

    @Test func aRemoteBaseURLWithoutAKeyIsPassedOver() async throws {
        let found = try await detect(["OPENAI_BASE_URL": "https://api.example.com/v1", "ANTHROPIC_API_KEY": "a"]).get()
        #expect(found.backend.kind == .anthropic && found.backend.model == "claude-haiku-4-5")
        let withKey = try await detect(
            ["OPENAI_BASE_URL": "https://api.mistral.ai/v1", "OPENAI_API_KEY": "k"], model: "mistral-small-latest"
        ).get()
        #expect(withKey.backend.name == "api.mistral.ai" && withKey.backend.baseURL == "https://api.mistral.ai/v1")
    }

    @Test func theOrderIsOpenAIAnthropicGeminiAzureThenLocal() async throws {
        let all = [
            "OPENAI_API_KEY": "o", "ANTHROPIC_API_KEY": "a", "GEMINI_API_KEY": "g", "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
            "AZURE_OPENAI_API_KEY": "z",
        ]
        var environment = all
        for expected in [BackendKind.openai, .anthropic, .gemini, .azure] {
            let found = try await detect(environment).get()
            #expect(found.backend.kind == expected)
            switch expected {
            case .openai: environment["OPENAI_API_KEY"] = nil
            case .anthropic: environment["ANTHROPIC_API_KEY"] = nil
            case .gemini: environment["GEMINI_API_KEY"] = nil
            default: break
            }
        }
        let google = try await detect(["GOOGLE_API_KEY": "g"]).get()
        #expect(google.backend.kind == .gemini && google.backend.apiKeyEnv == "GOOGLE_API_KEY")
        let azure = try await detect(
            ["AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_OPENAI_API_KEY": "z"], model: "prod-4o"
        ).get()
        guard case .azure(let options) = azure.backend.options else { Issue.record("no Azure options"); return }
        #expect(options.deployment == "prod-4o")
    }

    @Test func localServersInOrder() async throws {
        let ollama = #"{"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest"}]}"#
        let llama = #"{"data": [{"id": "smollm2"}]}"#
        let both = try await detect(
            [:], probe: Self.probe(["http://127.0.0.1:11434/api/tags": ollama, "http://127.0.0.1:8080/v1/models": llama])
        ).get()
        #expect(both.backend.kind == .ollama && both.backend.model == "llama3.2:latest" && both.backend.name == "ollama")
        let llamaOnly = try await detect([:], probe: Self.probe(["http://127.0.0.1:8080/v1/models": llama])).get()
        #expect(llamaOnly.backend.kind == .openai && llamaOnly.backend.baseURL == "http://127.0.0.1:8080/v1")
        #expect(llamaOnly.backend.model == "smollm2" && llamaOnly.backend.name == "llama.cpp")
        // Ollama running without a model is reported, and the next server is tried.
        let empty = try await detect(
            [:], probe: Self.probe(["http://127.0.0.1:11434/api/tags": #"{"models": []}"#, "http://127.0.0.1:1234/v1/models": llama])
        ).get()
        #expect(empty.backend.name == "lm-studio")
    }

    /// A server on llama.cpp's port is named by what it answers: panel's mock is not called llama.cpp.
    @Test func aServerIsNamedByWhatItAnswersNotByItsPort() async throws {
        func on8080(_ list: String) async throws -> BackendDetection.Found {
            try await detect([:], probe: Self.probe(["http://127.0.0.1:8080/v1/models": list])).get()
        }
        let mock = try await on8080(#"{"object":"list","data":[{"id":"mock-model","object":"model","owned_by":"panel-mock-provider"}]}"#)
        #expect(mock.backend.name == "mock" && mock.reason.hasPrefix("panel-mock-provider") && !mock.reason.contains("llama.cpp"))
        let vllm = try await on8080(#"{"data":[{"id":"Qwen/Qwen2.5-7B","owned_by":"vllm"}]}"#)
        #expect(vllm.backend.name == "vllm" && vllm.reason.hasPrefix("vLLM answered"))
        let llama = try await on8080(#"{"data":[{"id":"smollm2","owned_by":"llamacpp"}]}"#)
        #expect(llama.backend.name == "llama.cpp")
        let other = try await on8080(#"{"data":[{"id":"m","owned_by":"acme"}]}"#)
        #expect(other.backend.name == "local" && other.reason.contains("'acme'") && other.reason.contains(":8080"))
    }

    @Test func nothingFoundSaysWhatWasTriedAndHowToConfigure() async throws {
        guard case .failure(let notFound) = await detect(["AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"]) else {
            Issue.record("found a backend in an empty environment")
            return
        }
        #expect(notFound.tried.count == 7)
        #expect(notFound.tried.contains("AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY: only one of the two is set"))
        let text = notFound.description
        #expect(text.contains("1. export") && text.contains("2. panel init") && text.contains("3. --base-url URL --model NAME"))
        #expect(text.contains("LM Studio on 127.0.0.1:1234: nothing answered"))
    }

    /// What `panel init` writes is a configuration panel reads back to the same backend, and holds no key.
    @Test func theInitTemplateReadsBack() async throws {
        let environments: [[String: String]] = [
            ["OPENAI_API_KEY": "sk-template-secret"], ["ANTHROPIC_API_KEY": "k"], ["GEMINI_API_KEY": "k"],
            ["AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"],
            ["OPENAI_BASE_URL": "http://127.0.0.1:9/v1"],
        ]
        for environment in environments {
            let found = try await detect(environment).get()
            let text = ConfigurationTemplate.yaml(detected: found, version: "test")
            #expect(!text.contains("sk-template-secret"))
            let configuration = try PanelConfiguration.parse(text, source: "panel.yaml")
            let backend = try #require(configuration.backends.first)
            #expect(configuration.backends.count == 1 && configuration.defaultBackend == backend.name)
            #expect(backend.name == found.backend.name && backend.kind == found.backend.kind && backend.model == found.backend.model)
            #expect(backend.baseURL == found.backend.baseURL && backend.apiKeyEnv == found.backend.apiKeyEnv)
            #expect(backend.options == found.backend.options && backend.price == found.backend.price)
        }
        let template = ConfigurationTemplate.yaml(detected: nil, version: "test")
        let configuration = try PanelConfiguration.parse(template, source: "panel.yaml")
        #expect(configuration.backends.map(\.kind) == [.ollama])
        for kind in ["openai", "anthropic", "gemini", "azure"] { #expect(template.contains("#   kind: \(kind)")) }
        // Every commented example is itself a valid backend once uncommented.
        let parts = template.components(separatedBy: "\npanel:")
        let uncommented =
            parts[0].replacingOccurrences(of: "  # - name", with: "  - name").replacingOccurrences(of: "  #   ", with: "    ")
            + "\npanel:" + parts[1]
        let all = try PanelConfiguration.parse(uncommented, source: "uncommented.yaml")
        #expect(Set(all.backends.map(\.kind)) == Set(BackendKind.allCases))
    }
}
