import Foundation
import MockProvider
import Synchronization
import Testing

@testable import ModelBackends

/// The real HTTP path, against the mock provider on 127.0.0.1 with an ephemeral port.
@Suite(.timeLimit(.minutes(5)))
struct OpenAICompatibleBackendTests {
    static let request = ChatRequest(
        messages: [.system("You are the Builder on a panel."), .user("<listing>\nName: Acme\nDescription:\nX\n</listing>")],
        temperature: 0.2, maxOutputTokens: 300, schema: OutputSchema(name: "r", schema: .object(["type": .string("object")])),
        label: "builder · Acme")

    func backend(
        _ handle: MockProvider.Handle, key: String? = nil, timeout: Duration = .seconds(120), mode: StructuredOutputMode = .auto
    )
        -> OpenAICompatibleBackend
    {
        OpenAICompatibleBackend(
            .init(
                name: "mock", baseURL: handle.baseURL, model: "mock-1", apiKey: key, timeout: timeout,
                price: Price(inputPerMTok: 1, outputPerMTok: 2), structuredOutput: mode))
    }

    /// The hand-written wire body is byte for byte the canonical JSON of the body as a value, in every
    /// mode and with or without each optional field.
    @Test func wireBodyIsCanonicalJSON() throws {
        func reference(_ model: String, _ request: ChatRequest, _ mode: StructuredOutputMode, _ stream: Bool) -> Data {
            var body: [String: JSONValue] = [
                "model": .string(model),
                "messages": .array(request.messages.map { .object(["role": .string($0.role.rawValue), "content": .string($0.content)]) }),
            ]
            if let temperature = request.temperature { body["temperature"] = .double(temperature) }
            if let maxTokens = request.maxOutputTokens { body["max_tokens"] = .int(maxTokens) }
            if stream {
                body["stream"] = .bool(true)
                body["stream_options"] = .object(["include_usage": .bool(true)])
            }
            if let schema = request.schema {
                switch mode {
                case .jsonSchema, .auto:
                    body["response_format"] = .object([
                        "type": .string("json_schema"),
                        "json_schema": .object(["name": .string(schema.name), "schema": schema.schema, "strict": .bool(true)]),
                    ])
                case .jsonObject: body["response_format"] = .object(["type": .string("json_object"), "schema": schema.schema])
                case .none: break
                }
            }
            return JSONValue.object(body).canonicalData()
        }
        let model = "mo\"del/é"
        let backend = OpenAICompatibleBackend(.init(name: "b", baseURL: "http://127.0.0.1:1/v1", model: model))
        var schema = OutputSchema(name: "review", schema: .object(["type": .string("object")]))
        schema.schema = .object([
            "type": .string("object"), "required": .array([.string("score"), .string("verdict")]),
            "properties": .object(["score": .object(["type": .string("integer"), "maximum": .int(100)]), "z": .double(0.5)]),
        ])
        var checked = 0
        for mode in StructuredOutputMode.allCases {
            for stream in [false, true] {
                for temperature in [nil, 0.2, 1.0] {
                    for maxTokens in [nil, 700] {
                        for outputSchema in [nil, schema] {
                            let request = ChatRequest(
                                messages: [
                                    .system("Be \"terse\"\n\ttabs \u{1} and ünïcode 🙂"), .user("<listing>\\</listing>"), .assistant(""),
                                ],
                                temperature: temperature, maxOutputTokens: maxTokens, schema: outputSchema)
                            let body = backend.body(for: request, mode: mode, stream: stream)
                            #expect(body == reference(model, request, mode, stream), "\(mode) stream=\(stream)")
                            #expect(try JSONSerialization.jsonObject(with: body) is [String: Any])
                            checked += 1
                        }
                    }
                }
            }
        }
        #expect(checked == 96)
    }

    @Test func plainCompletion() async throws {
        try await MockProvider.withServer { handle in
            let response = try await backend(handle).complete(Self.request)
            #expect(response.text.contains("\"score\""))
            #expect(response.model == "mock-1")
            #expect(response.backend == "mock")
            #expect(response.usage.inputTokens != nil && response.usage.outputTokens != nil)
            #expect(response.costUSD == nil)  // an adapter reports usage; BillingBackend, above it, bills
            #expect(response.timeToFirstToken == nil)
            #expect(handle.stats.snapshot.chatRequests == 1)
        }
    }

    @Test func streamedCompletionMatchesPlain() async throws {
        try await MockProvider.withServer { handle in
            let plain = try await backend(handle).complete(Self.request)
            var streaming = Self.request
            streaming.stream = true
            let deltas = Deltas()
            let streamed = try await backend(handle).respond(to: streaming) { deltas.append($0) }
            #expect(streamed.text == plain.text)
            #expect(deltas.joined == plain.text)
            #expect(deltas.count > 1)
            #expect(streamed.timeToFirstToken != nil)
            #expect(streamed.usage == plain.usage)
        }
    }

    @Test func deadlineCoversTheWholeCall() async throws {
        var configuration = MockProviderConfiguration()
        configuration.latency = .seconds(5)
        try await MockProvider.withServer(configuration) { handle in
            let error = try await #require(throws: BackendError.self) {
                try await backend(handle, timeout: .milliseconds(200)).complete(Self.request)
            }
            #expect(error.kind == .timeout)
            #expect(error.description.contains("mock"))
        }
    }

    /// Headers and a first token at once, then a stalled body: AsyncHTTPClient's own deadline stops at
    /// the headers, so this is the transport's timer at work — and it stops the call, not the test.
    @Test func deadlineCoversAStalledStream() async throws {
        var configuration = MockProviderConfiguration()
        configuration.streamStall = .seconds(30)
        try await MockProvider.withServer(configuration) { handle in
            var request = Self.request
            request.stream = true
            let started = ContinuousClock.now
            let error = try await #require(throws: BackendError.self) {
                try await backend(handle, timeout: .milliseconds(300)).respond(to: request) { _ in }
            }
            #expect(error.kind == .timeout)
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }

    @Test func authenticationFailureNeverShowsTheKey() async throws {
        var configuration = MockProviderConfiguration()
        configuration.requiredKey = "sk-right-key-0000000000"
        try await MockProvider.withServer(configuration) { handle in
            let wrong = "sk-wrong-key-1111111111"
            let error = try await #require(throws: BackendError.self) {
                try await backend(handle, key: wrong).complete(Self.request)
            }
            #expect(error.kind == .authentication)
            #expect(error.status == 401)
            #expect(!error.description.contains(wrong))
            #expect(handle.stats.snapshot.authorizationValues == ["Bearer \(wrong)"])
        }
    }

    @Test func faultsAreClassified() async throws {
        let cases: [(MockProviderConfiguration.FaultRates, BackendError.Kind)] = [
            (.init(rateLimited: 1), .rateLimited),
            (.init(serverError: 1), .server),
            (.init(unavailable: 1), .overloaded),
            (.init(malformedBody: 1), .invalidResponse),
            (.init(connectionReset: 1), .connection),
        ]
        for (faults, kind) in cases {
            var configuration = MockProviderConfiguration()
            configuration.faults = faults
            try await MockProvider.withServer(configuration) { handle in
                let error = try await #require(throws: BackendError.self) { try await backend(handle).complete(Self.request) }
                #expect(error.kind == kind, "\(faults)")
                if kind == .rateLimited { #expect(error.retryAfter == .seconds(1)) }
            }
        }
    }

    @Test func truncatedStreamIsAnError() async throws {
        var configuration = MockProviderConfiguration()
        configuration.faults = .init(truncatedStream: 1)
        try await MockProvider.withServer(configuration) { handle in
            var streaming = Self.request
            streaming.stream = true
            let error = try await #require(throws: BackendError.self) { try await backend(handle).respond(to: streaming) }
            #expect(error.kind == .connection)
        }
    }

    @Test func autoStructuredOutputStepsDownAndRemembers() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedResponseFormats = ["json_schema"]
        try await MockProvider.withServer(configuration) { handle in
            let backend = backend(handle)
            _ = try await backend.complete(Self.request)
            #expect(handle.stats.snapshot.chatRequests == 2)  // json_schema rejected, json_object accepted
            #expect(backend.negotiation.mode == .jsonObject)
            _ = try await backend.complete(Self.request)
            #expect(handle.stats.snapshot.chatRequests == 3)  // the downgrade is remembered
        }
    }

    @Test func explicitStructuredOutputModeIsNotNegotiated() async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedResponseFormats = ["json_schema"]
        try await MockProvider.withServer(configuration) { handle in
            let error = try await #require(throws: BackendError.self) {
                try await backend(handle, mode: .jsonSchema).complete(Self.request)
            }
            #expect(error.kind == .badRequest)
            #expect(error.description.contains("response_format"))
        }
    }

    @Test func unreachableServerIsAConnectionError() async throws {
        let port = MockProvider.unusedPort()  // a port nobody listens on
        let backend = OpenAICompatibleBackend(
            .init(name: "gone", baseURL: "http://127.0.0.1:\(port)/v1", model: "m", timeout: .seconds(120)))
        let error = try await #require(throws: BackendError.self) { try await backend.complete(Self.request) }
        #expect(error.kind == .connection)
        #expect(error.description.contains("gone"))
    }

    @Test func concurrencyLimitHoldsCallsBack() async throws {
        var configuration = MockProviderConfiguration()
        configuration.latency = .milliseconds(50)
        try await MockProvider.withServer(configuration) { handle in
            let limited = ConcurrencyLimitedBackend(backend(handle), limit: 2)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    var request = Self.request
                    request.messages.append(.user("call \(index)"))
                    let call = request
                    group.addTask { _ = try await limited.complete(call) }
                }
                try await group.waitForAll()
            }
            #expect(handle.stats.snapshot.chatRequests == 8)
            #expect(handle.stats.snapshot.peakInFlight <= 2)
        }
    }
}

/// Collects streamed deltas from a `@Sendable` callback.
final class Deltas: Sendable {
    private let parts = Mutex<[String]>([])
    func append(_ text: String) { parts.withLock { $0.append(text) } }
    var joined: String { parts.withLock { $0.joined() } }
    var count: Int { parts.withLock { $0.count } }
}
