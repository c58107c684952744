import Foundation
import MockProvider
import Testing

@testable import ModelBackends

/// Token-limit names and sampling parameters, negotiated per backend against a mock that refuses them
/// in the providers' own words; each refusal costs one extra call, once per run.
@Suite(.timeLimit(.minutes(5)))
struct ParameterNegotiationTests {
    static let request = OpenAICompatibleBackendTests.request

    @Test func theTokenLimitNameFollowsTheServer() {
        func field(_ baseURL: String, _ header: OpenAICompatibleBackend.Configuration.KeyHeader = .bearer) -> TokenLimitField {
            OpenAICompatibleBackend.Configuration(name: "b", baseURL: baseURL, model: "m", keyHeader: header).defaultTokenLimitField
        }
        #expect(field("https://api.openai.com/v1") == .maxCompletionTokens)
        #expect(field("https://r.openai.azure.com", .apiKey) == .maxCompletionTokens)
        for generic in [
            "http://127.0.0.1:8080/v1", "https://api.mistral.ai/v1", "http://localhost:11434/v1", "https://openrouter.ai/api/v1",
        ] {
            #expect(field(generic) == .maxTokens, "\(generic)")
        }
        let backend = OpenAICompatibleBackend(.init(name: "b", baseURL: "https://api.openai.com/v1", model: "m"))
        let body = String(
            decoding: backend.body(for: Self.request, mode: .none, stream: false, parameters: backend.parameters.current), as: UTF8.self)
        #expect(body.contains(#""max_completion_tokens":300"#) && !body.contains(#""max_tokens""#))
    }

    @Test func aRefusedMaxTokensSwitchesToMaxCompletionTokensOnce() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedParameters = ["max_tokens"]
        try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(.init(name: "reasoning", baseURL: handle.baseURL, model: "o-mock"))
            let first = try await backend.complete(Self.request)
            #expect(handle.stats.snapshot.chatRequests == 2)  // refused, then answered: one extra call
            #expect(backend.parameters.current.tokenField == .maxCompletionTokens)
            #expect(first.adjustments.isEmpty)  // the cap still applies: nothing to flag
            _ = try await backend.complete(Self.request)
            #expect(handle.stats.snapshot.chatRequests == 3)  // remembered for the run
        }
    }

    @Test func aServerThatRefusesMaxCompletionTokensGetsMaxTokens() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedParameters = ["max_completion_tokens"]
        try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(
                .init(
                    name: "azure-ish", baseURL: handle.baseURL, model: "m", keyHeader: .apiKey,
                    endpointURL: handle.baseURL + "/chat/completions"))
            _ = try await backend.complete(Self.request)
            #expect(handle.stats.snapshot.chatRequests == 2)
            #expect(backend.parameters.current.tokenField == .maxTokens)
        }
    }

    @Test func aConfiguredTokenLimitNameIsKept() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedParameters = ["max_tokens"]
        try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(.init(name: "fixed", baseURL: handle.baseURL, model: "m", tokenLimitField: .maxTokens))
            let error = try await #require(throws: BackendError.self) { try await backend.complete(Self.request) }
            #expect(error.kind == .badRequest && error.description.contains("max_completion_tokens"))
            #expect(handle.stats.snapshot.chatRequests == 1)
        }
    }

    @Test func aRefusedTemperatureIsDroppedAndFlagged() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedParameters = ["temperature"]
        try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(.init(name: "t", baseURL: handle.baseURL, model: "m"))
            let first = try await backend.complete(Self.request)
            #expect(handle.stats.snapshot.chatRequests == 2)
            #expect(first.adjustments == ["temperature_dropped"])
            var streamed = Self.request
            streamed.stream = true
            var second: ChatResponse?
            for try await event in backend.stream(streamed) {
                if case .completed(let response) = event { second = response }
            }
            #expect(handle.stats.snapshot.chatRequests == 3)  // the stream goes without temperature at once
            #expect(second?.adjustments == ["temperature_dropped"])
            // A request without a temperature has nothing dropped to flag.
            var plain = Self.request
            plain.temperature = nil
            #expect(try await backend.complete(plain).adjustments.isEmpty)
        }
    }

    /// Anthropic's Messages API has no sampling parameters: none is ever sent.
    @Test func anthropicIsNeverSentATemperature() {
        let backend = AnthropicBackend(.init(name: "claude", model: "claude-haiku-4-5", apiKey: "k"))
        let body = String(decoding: backend.body(for: Self.request, stream: false), as: UTF8.self)
        #expect(!body.contains("temperature") && body.contains(#""max_tokens":300"#))
    }

    @Test func dropParamsNeverSendsTheParameter() throws {
        let backend = OpenAICompatibleBackend(.init(name: "b", baseURL: "http://127.0.0.1:1/v1", model: "m", dropParams: [.temperature]))
        let body = String(
            decoding: backend.body(for: Self.request, mode: .none, stream: false, parameters: backend.parameters.current), as: UTF8.self)
        #expect(!body.contains("temperature") && body.contains(#""max_tokens":300"#))
    }

    /// A server whose errors name both token-limit names does not bounce a call between them for ever.
    @Test func negotiationIsBounded() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedParameters = ["max_tokens", "max_completion_tokens"]
        try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(.init(name: "b", baseURL: handle.baseURL, model: "m"))
            _ = try await #require(throws: BackendError.self) { try await backend.complete(Self.request) }
            #expect(handle.stats.snapshot.chatRequests == 3)
        }
    }
}
