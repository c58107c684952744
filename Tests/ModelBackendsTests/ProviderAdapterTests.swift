import Foundation
import MockProvider
import Testing

@testable import ModelBackends

/// Every backend kind, plain and streamed, against the mock provider speaking that kind's wire format.
@Suite(.timeLimit(.minutes(5)))
struct ProviderAdapterTests {
    static let request = ChatRequest(
        messages: [.system("You are the Founder on a panel."), .user("<listing>\nName: Acme\nDescription:\nX\n</listing>")],
        temperature: 0.2, maxOutputTokens: 400,
        schema: OutputSchema(
            name: "r",
            schema: .object([
                "type": .string("object"),
                "properties": .object(["rationale": .object(["type": .string("string")]), "score": .object(["type": .string("integer")])]),
                "required": .array([.string("rationale"), .string("score")]), "additionalProperties": .bool(false),
            ])),
        label: "founder · Acme")

    static let key = "sk-adapter-test-0123456789"

    func configuration(_ kind: BackendKind, port: Int) -> BackendConfiguration {
        let root = "http://127.0.0.1:\(port)"
        let base: String
        switch kind {
        case .openai: base = root + "/v1"
        case .azure, .anthropic, .ollama, .gemini: base = root
        }
        return BackendConfiguration(
            name: kind.rawValue, kind: kind, baseURL: base, model: "model-\(kind.rawValue)",
            price: Price(inputPerMTok: 1, outputPerMTok: 1),
            options: kind == .azure ? .azure(AzureOptions(deployment: "panel-gpt")) : .none)
    }

    @Test(arguments: BackendKind.allCases, [false, true])
    func answersPlainAndStreamed(kind: BackendKind, stream: Bool) async throws {
        var mock = MockProviderConfiguration()
        mock.requiredKey = Self.key
        try await MockProvider.withServer(mock) { handle in
            let backend = configuration(kind, port: handle.port).makeAdapter(apiKey: Self.key)
            var request = Self.request
            request.stream = stream
            let response = try await backend.respond(to: request)
            let answer = try #require(JSONValue.parse(response.text), "\(kind): \(response.text)")
            #expect(answer["score"]?.numberValue != nil)
            #expect(answer["rationale"]?.stringValue?.contains("founder") == true)
            #expect(response.model == "model-\(kind.rawValue)")
            #expect(response.usage.inputTokens != nil && response.usage.outputTokens != nil)
            #expect(response.costUSD == nil)  // an adapter reports usage; BillingBackend, above it, bills
            #expect((response.timeToFirstToken != nil) == stream)
            #expect(handle.stats.snapshot.authorizationValues == ["Bearer \(Self.key)"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func wrongKeyIsAuthenticationWithoutTheKey(kind: BackendKind) async throws {
        var mock = MockProviderConfiguration()
        mock.requiredKey = Self.key
        try await MockProvider.withServer(mock) { handle in
            let wrong = "sk-wrong-adapter-key-98765"
            let error = try await #require(throws: BackendError.self) {
                try await configuration(kind, port: handle.port).makeAdapter(apiKey: wrong).complete(Self.request)
            }
            #expect(error.kind == .authentication)
            #expect(!error.description.contains(wrong))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func truncatedAnswersAreErrors(kind: BackendKind) async throws {
        var mock = MockProviderConfiguration()
        mock.faults = .init(truncatedStream: 1)
        try await MockProvider.withServer(mock) { handle in
            let backend = configuration(kind, port: handle.port).makeAdapter(apiKey: nil)
            for stream in [false, true] {
                var request = Self.request
                request.stream = stream
                let error = try await #require(throws: BackendError.self) { try await backend.respond(to: request) }
                #expect([.connection, .invalidResponse].contains(error.kind), "\(kind) stream=\(stream): \(error)")
                #expect(RetryPolicy.isRetryable(error))
            }
        }
    }

    @Test func azureURLs() {
        var azure = BackendConfiguration(
            name: "az", kind: .azure, baseURL: "https://r.openai.azure.com/", model: "gpt-4o",
            options: .azure(AzureOptions(deployment: "dep")))
        func endpoint(_ configuration: BackendConfiguration) -> String {
            guard case .azure(let options) = configuration.options else {
                return BackendConfiguration.azureEndpoint(baseURL: configuration.baseURL, AzureOptions())
            }
            return BackendConfiguration.azureEndpoint(baseURL: configuration.baseURL, options)
        }
        #expect(endpoint(azure) == "https://r.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21")
        azure.options = .azure(AzureOptions(deployment: "dep", apiVersion: "2025-01-01-preview"))
        #expect(endpoint(azure).hasSuffix("api-version=2025-01-01-preview"))
        azure = BackendConfiguration(name: "az", kind: .azure, baseURL: "https://r.openai.azure.com/openai/v1", model: "model-router")
        #expect(endpoint(azure) == "https://r.openai.azure.com/openai/v1/chat/completions")
    }

    @Test func geminiSchemaIsTranslated() {
        let schema = GeminiBackend.geminiSchema(Self.request.schema!.schema)
        #expect(schema["type"] == .string("OBJECT"))
        #expect(schema["additionalProperties"] == nil)
        #expect(schema["properties"]?["score"]?["type"] == .string("INTEGER"))
        #expect(schema["propertyOrdering"] == .array([.string("rationale"), .string("score")]))
    }
}

/// Error and edge shapes of each provider, as their documentation shows them.
@Suite(.timeLimit(.minutes(5)))
struct ProviderErrorShapeTests {
    let anthropic = AnthropicBackend(.init(name: "claude", model: "claude-x", apiKey: "sk-ant-secret-123456"))
    let gemini = GeminiBackend(.init(name: "gemini", model: "gemini-x", apiKey: "AIza-secret-123456"))
    let ollama = OllamaBackend(.init(name: "ollama", model: "llama3"))

    @Test func anthropicErrorTypes() {
        let overloaded = anthropic.httpError(
            529, #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, [])
        #expect(overloaded.kind == .overloaded)
        let limited = anthropic.httpError(
            429,
            #"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
            [("retry-after", "13")])
        #expect(limited.kind == .rateLimited)
        #expect(limited.retryAfter == .seconds(13))
        let auth = anthropic.httpError(
            401, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret-123456"}}"#, [])
        #expect(auth.kind == .authentication)
        #expect(!auth.description.contains("sk-ant-secret-123456"))
    }

    @Test func anthropicStreamEvents() throws {
        var state = AnthropicStreamState()
        let events = [
            SSEEvent(
                event: "message_start",
                data: #"{"type":"message_start","message":{"model":"claude-x-2025","usage":{"input_tokens":25,"output_tokens":1}}}"#),
            SSEEvent(event: "ping", data: #"{"type": "ping"}"#),
            SSEEvent(
                event: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#),
            SSEEvent(event: "ping", data: #"{"type": "ping"}"#),
            SSEEvent(
                event: "content_block_delta", data: #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#),
            SSEEvent(
                event: "message_delta", data: #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#),
            SSEEvent(event: "message_stop", data: #"{"type":"message_stop"}"#),
        ]
        for event in events { _ = try state.consume(event, backend: anthropic) }
        #expect(state.text == "Hello")
        #expect(state.model == "claude-x-2025")
        #expect(state.usage == TokenUsage(inputTokens: 25, outputTokens: 15))
        #expect(state.stopped)
        var failing = AnthropicStreamState()
        let error = try #require(throws: BackendError.self) {
            try failing.consume(
                SSEEvent(event: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
                backend: anthropic)
        }
        #expect(error.kind == .overloaded)
        #expect(error.status == 200)
    }

    @Test func ollamaErrors() throws {
        let missing = ollama.httpError(404, #"{"error":"model 'llama3' not found, try pulling it first"}"#)
        #expect(missing.kind == .badRequest)
        #expect(missing.description.contains("ollama pull llama3"))
        var state = OllamaStreamState()
        let error = try #require(throws: BackendError.self) {
            try state.consume(JSONValue.parse(#"{"error":"out of memory"}"#)!, backend: ollama)
        }
        #expect(error.detail.contains("out of memory"))
        var done = OllamaStreamState()
        _ = try done.consume(
            JSONValue.parse(
                #"{"model":"llama3","message":{"role":"assistant","content":"hi"},"done":true,"done_reason":"stop","total_duration":5191566416,"prompt_eval_count":26,"eval_count":298}"#
            )!,
            backend: ollama)
        #expect(done.usage == TokenUsage(inputTokens: 26, outputTokens: 298))
    }

    @Test func geminiErrorsAndBlocks() throws {
        let exhausted = gemini.httpError(
            429, #"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#, [])
        #expect(exhausted.kind == .rateLimited)
        let badKey = gemini.httpError(
            400,
            #"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#,
            [])
        #expect(badKey.kind == .authentication)
        var blocked = GeminiStreamState()
        _ = try blocked.consume(JSONValue.parse(#"{"promptFeedback":{"blockReason":"SAFETY"}}"#)!, backend: gemini)
        let error = try #require(throws: BackendError.self) { try blocked.response(backend: gemini, latency: .zero, ttft: nil) }
        #expect(error.kind == .contentFiltered)
    }

    @Test func geminiQueryKeyStyleNeverLeaksThroughErrors() async throws {
        let backend = GeminiBackend(
            .init(name: "g", baseURL: "http://127.0.0.1:1", model: "m", apiKey: "AIza-query-secret-999", keyStyle: .query))
        #expect(backend.url(stream: true).hasSuffix("alt=sse&key=AIza-query-secret-999"))
        let error = try await #require(throws: BackendError.self) { try await backend.complete(ChatRequest(messages: [.user("x")])) }
        #expect(!error.description.contains("AIza-query-secret-999"))
    }
}
