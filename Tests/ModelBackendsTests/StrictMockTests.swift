import Foundation
import MockProvider
import Testing

@testable import ModelBackends

/// The strict mock refuses what each real API refuses, in that API's words, so a request shape panel
/// got wrong fails here; and panel maps each provider's own error shapes.
@Suite(.timeLimit(.minutes(5)))
struct StrictMockTests {
    func post(
        _ handle: MockProvider.Handle, _ path: String, _ body: String, headers: [(String, String)] = []
    ) async throws
        -> HTTPTransport.Response
    {
        try await HTTPTransport.shared.post(
            url: "http://127.0.0.1:\(handle.port)\(path)", headers: headers, body: Data(body.utf8), backend: "raw", timeout: .seconds(120))
    }

    static let messages = #""messages": [{"role": "user", "content": "hi"}]"#

    /// One deliberately wrong body per kind (and per rule that matters), with the status and the words
    /// the provider answers with.
    @Test func wrongShapesAreRefusedAsTheProviderWould() async throws {
        try await MockProvider.withServer { handle in
            let cases: [(String, String, [(String, String)], Int, String)] = [
                ("/v1/chat/completions", #"{"model": "m", \#(Self.messages), "max_tokens": "lots"}"#, [], 400, "expected an integer"),
                (
                    "/v1/chat/completions", #"{"model": "m", \#(Self.messages), "frobnicate": true}"#, [], 400,
                    "Unrecognized request argument supplied: frobnicate"
                ),
                ("/v1/chat/completions", #"{\#(Self.messages)}"#, [], 400, "model parameter"),
                (
                    "/v1/chat/completions", #"{"model": "m", \#(Self.messages), "stream_options": {"include_usage": true}}"#, [], 400,
                    "only allowed when 'stream' is enabled"
                ),
                (
                    "/v1/chat/completions",
                    #"{"model": "m", \#(Self.messages), "response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}}"#,
                    [], 400, "does not match pattern"
                ),
                ("/v1/chat/completions", #"{"model": "m", \#(Self.messages), "temperature": 3}"#, [], 400, "above maximum"),
                ("/openai/deployments/d/chat/completions", #"{\#(Self.messages)}"#, [], 404, "api-version"),
                ("/v1/messages", #"{"model": "c", \#(Self.messages), "max_tokens": 10}"#, [], 400, "anthropic-version: header is required"),
                (
                    "/v1/messages", #"{"model": "c", \#(Self.messages)}"#, [("anthropic-version", "2023-06-01")], 400,
                    "max_tokens: Field required"
                ),
                (
                    "/v1/messages", #"{"model": "c", "messages": [{"role": "system", "content": "s"}], "max_tokens": 5}"#,
                    [("anthropic-version", "2023-06-01")], 400, "top-level system"
                ),
                (
                    "/v1/messages", #"{"model": "c", \#(Self.messages), "max_tokens": 5, "response_format": {}}"#,
                    [("anthropic-version", "2023-06-01")], 400, "Extra inputs are not permitted"
                ),
                (
                    "/v1/models/gemini-x:generateContent",
                    #"{"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "objekt"}}}"#,
                    [], 400, "INVALID_ARGUMENT"
                ),
                (
                    "/v1beta/models/gemini-x:generateContent",
                    #"{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxTokens": 5}}"#, [], 400,
                    #"Unknown name \"maxTokens\""#
                ),
                ("/v1/models/gemini-x:generateContent", #"{"prompt": "hi"}"#, [], 400, #"Unknown name \"prompt\""#),
                ("/api/chat", #"{\#(Self.messages)}"#, [], 400, #"{"error":"model is required"}"#),
                ("/api/chat", #"{"model": "llama3.2", \#(Self.messages), "stream": "no"}"#, [], 400, "cannot unmarshal"),
            ]
            for (path, body, headers, status, words) in cases {
                let response = try await post(handle, path, body, headers: headers)
                #expect(response.status == status, "\(path) \(body): \(response.status) \(response.bodyText)")
                #expect(response.bodyText.contains(words), "\(path) \(body): \(response.bodyText)")
            }
            // Anthropic and Gemini answer in their own error shapes, not OpenAI's.
            let anthropic = try await post(
                handle, "/v1/messages", #"{"model": "c", \#(Self.messages)}"#, headers: [("anthropic-version", "2023-06-01")])
            #expect(JSONValue.parse(anthropic.body)?["type"]?.stringValue == "error")
            #expect(JSONValue.parse(anthropic.body)?["error"]?["type"]?.stringValue == "invalid_request_error")
        }
    }

    /// The forced tool's name comes back in the tool call; OpenAI answers carry the fields the reference
    /// marks required (`logprobs`, `refusal`).
    @Test func answersCarryWhatTheReferencesRequire() async throws {
        try await MockProvider.withServer { handle in
            let anthropic = try await post(
                handle, "/v1/messages",
                #"{"model": "c", \#(Self.messages), "max_tokens": 50, "tools": [{"name": "record_verdict", "input_schema": {"type": "object"}}], "tool_choice": {"type": "tool", "name": "record_verdict"}}"#,
                headers: [("anthropic-version", "2023-06-01")])
            #expect(anthropic.status == 200, "\(anthropic.bodyText)")
            #expect(JSONValue.parse(anthropic.body)?["content"]?.arrayValue?.first?["name"]?.stringValue == "record_verdict")
            let openAI = try await post(handle, "/v1/chat/completions", #"{"model": "m", \#(Self.messages)}"#)
            let choice = JSONValue.parse(openAI.body)?["choices"]?.arrayValue?.first
            #expect(choice?["logprobs"] == .null && choice?["message"]?["refusal"] == .null)
        }
    }

    /// Each kind's 429, in its own shape, is a rate limit with the wait it names — Gemini's in the body.
    @Test(arguments: BackendKind.allCases)
    func rateLimitsInEachProvidersShape(kind: BackendKind) async throws {
        var mock = MockProviderConfiguration()
        mock.faults = .init(rateLimited: 1)
        mock.retryAfterSeconds = 7
        try await MockProvider.withServer(mock) { handle in
            let backend = ProviderAdapterTests().configuration(kind, port: handle.port).makeAdapter(apiKey: nil)
            let error = try await #require(throws: BackendError.self) { try await backend.complete(ProviderAdapterTests.request) }
            #expect(error.kind == .rateLimited, "\(kind): \(error)")
            #expect(error.retryAfter == .seconds(7), "\(kind): \(error)")
        }
    }

    @Test func anthropicOverloadIsOverloaded() async throws {
        var mock = MockProviderConfiguration()
        mock.faults = .init(unavailable: 1)
        try await MockProvider.withServer(mock) { handle in
            let backend = ProviderAdapterTests().configuration(.anthropic, port: handle.port).makeAdapter(apiKey: nil)
            let error = try await #require(throws: BackendError.self) { try await backend.complete(ProviderAdapterTests.request) }
            #expect(error.kind == .overloaded && error.status == 529, "\(error)")
        }
    }

    /// The mock makes its answer before it waits out the latency (so its own work does not lengthen
    /// the latency a benchmark declares), but never answers sooner: an answer and a fault alike come
    /// no earlier than the latency after the request.
    @Test func answersAndFaultsComeNoSoonerThanTheLatency() async throws {
        for faults in [MockProviderConfiguration.FaultRates(), .init(rateLimited: 1)] {
            var configuration = MockProviderConfiguration()
            configuration.latency = .milliseconds(300)
            configuration.faults = faults
            try await MockProvider.withServer(configuration) { handle in
                let clock = ContinuousClock()
                let start = clock.now
                let response = try await post(handle, "/v1/chat/completions", #"{"model": "m", \#(Self.messages)}"#)
                #expect(clock.now - start >= .milliseconds(300))
                #expect(response.status == (faults.rateLimited > 0 ? 429 : 200))
            }
        }
    }
}
