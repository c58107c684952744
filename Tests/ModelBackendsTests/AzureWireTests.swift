import Foundation
import MockProvider
import Testing

@testable import ModelBackends

/// Azure OpenAI: the deployment is what answers, on both URL forms; `max_completion_tokens`; no schema
/// beside `json_object`.
@Suite(.timeLimit(.minutes(5)))
struct AzureWireTests {
    @Test func theDeploymentIsTheModelOnTheV1Form() throws {
        let configuration = BackendConfiguration(
            name: "az", kind: .azure, baseURL: "https://r.openai.azure.com/openai/v1", model: "gpt-4.1-mini",
            options: .azure(AzureOptions(deployment: "prod-deployment")))
        let adapter = try #require(configuration.makeAdapter(apiKey: "k") as? OpenAICompatibleBackend)
        #expect(adapter.url == "https://r.openai.azure.com/openai/v1/chat/completions")
        var request = OpenAICompatibleBackendTests.request
        request.schema = nil
        let body = String(
            decoding: adapter.body(for: request, mode: .none, stream: false, parameters: adapter.parameters.current), as: UTF8.self)
        #expect(body.contains(#""model":"prod-deployment""#) && body.contains(#""max_completion_tokens":300"#), "\(body)")
        let object = String(
            decoding: adapter.body(for: OpenAICompatibleBackendTests.request, mode: .jsonObject, stream: false), as: UTF8.self)
        #expect(object.contains(#""response_format":{"type":"json_object"}"#), "\(object)")
    }

    @Test func aDeploymentURLAnswersThroughTheStrictMock() async throws {
        var mock = MockProviderConfiguration()
        mock.requiredKey = "az-key"
        try await MockProvider.withServer(mock) { handle in
            let configuration = BackendConfiguration(
                name: "az", kind: .azure, baseURL: "http://127.0.0.1:\(handle.port)", model: "gpt-4.1-mini",
                options: .azure(AzureOptions(deployment: "panel-gpt", apiVersion: "2025-04-01-preview")))
            let answer = try await configuration.makeAdapter(apiKey: "az-key").complete(OpenAICompatibleBackendTests.request)
            #expect(!answer.text.isEmpty)
        }
    }
}
