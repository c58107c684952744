import Foundation

/// Anthropic's Messages API: `{baseURL}/v1/messages` with `x-api-key` and `anthropic-version`;
/// `system` travels apart from the messages and `max_tokens` is required. Structured output is a
/// forced tool call whose input is the answer. Streams are SSE with typed events.
public struct AnthropicBackend: ModelBackend {
    /// Anthropic's own settings in a configuration: `anthropic_version`.
    public struct Options: Sendable, Hashable {
        public var version: String

        public static let keys = ["anthropic_version"]
        public static let defaultVersion = "2023-06-01"

        public init(version: String = defaultVersion) { self.version = version }

        public static func read(_ values: [String: String]) throws(ProviderOptionError) -> Options {
            guard let version = values["anthropic_version"] else { return Options() }
            guard version.range(of: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", options: .regularExpression) != nil else {
                throw ProviderOptionError(key: "anthropic_version", problem: "must be a date version such as \(defaultVersion)")
            }
            return Options(version: version)
        }
    }

    public struct Configuration: Sendable {
        public var name: String
        public var baseURL: String
        public var model: String
        public var apiKey: String?
        public var version: String
        public var timeout: Duration
        public var price: Price?
        /// Use a forced tool call for requests with a schema.
        public var structuredOutput: Bool

        public init(
            name: String, baseURL: String = "https://api.anthropic.com", model: String, apiKey: String?,
            version: String = "2023-06-01", timeout: Duration = .seconds(120), price: Price? = nil, structuredOutput: Bool = true
        ) {
            self.name = name
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.version = version
            self.timeout = timeout
            self.price = price
            self.structuredOutput = structuredOutput
        }
    }

    public let configuration: Configuration
    let transport: HTTPTransport
    let redactor: Redactor
    let clock = ContinuousClock()

    public var name: String { configuration.name }

    public init(_ configuration: Configuration, transport: HTTPTransport = .shared) {
        self.configuration = configuration
        self.transport = transport
        self.redactor = Redactor(secrets: BackendURL.secrets(in: configuration.baseURL)).adding(configuration.apiKey)
        self.url = BackendURL.join(configuration.baseURL, "/v1/messages")
    }

    /// The endpoint, joined once per backend rather than per call.
    let url: String

    var headers: [(String, String)] {
        var headers = [("anthropic-version", configuration.version)]
        if let key = configuration.apiKey, !key.isEmpty { headers.append(("x-api-key", key)) }
        return headers
    }

    static let toolName = "submit_review"

    func body(for request: ChatRequest, stream: Bool) -> Data {
        let system = request.messages.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        var body: [String: JSONValue] = [
            "model": .string(configuration.model),
            "max_tokens": .int(request.maxOutputTokens ?? 1024),
            "messages": .array(
                request.messages.filter { $0.role != .system }.map {
                    .object(["role": .string($0.role.rawValue), "content": .string($0.content)])
                }),
        ]
        if !system.isEmpty { body["system"] = .string(system) }
        // No `temperature`: the Messages API's request type (anthropic SDK 2.14) has no sampling
        // parameters, and newer Claude models refuse them. `request.temperature` does not apply here.
        if stream { body["stream"] = .bool(true) }
        if let schema = request.schema, configuration.structuredOutput {
            body["tools"] = .array([
                .object([
                    "name": .string(Self.toolName), "description": .string("Submit the answer in the required shape."),
                    "input_schema": schema.schema,
                ])
            ])
            body["tool_choice"] = .object(["type": .string("tool"), "name": .string(Self.toolName)])
        }
        return JSONValue.object(body).canonicalData()
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let start = clock.now
        let response = try await transport.post(
            url: url, headers: headers, body: body(for: request, stream: false), backend: name, timeout: configuration.timeout)
        guard response.status == 200 else { throw httpError(response.status, response.bodyText, response.headers) }
        let parsed = JSONValue.parse(response.body)
        guard let message = parsed, message["type"]?.stringValue == "message" else {
            if let error = parsed?["error"] { throw streamError(error) }
            throw BackendError.invalidResponse(
                backend: name, status: 200, detail: "the body is not a message", body: redactor.redact(response.bodyText))
        }
        var text = ""
        for block in message["content"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "text": text += block["text"]?.stringValue ?? ""
            case "tool_use": text += block["input"]?.canonicalText() ?? ""
            default: break
            }
        }
        let stopReason = message["stop_reason"]?.stringValue
        if stopReason == "refusal" {
            throw BackendError(kind: .contentFiltered, backend: name, status: 200, detail: "the model refused (stop_reason refusal)")
        }
        let usage = TokenUsage(
            inputTokens: message["usage"]?["input_tokens"]?.numberValue.map { Int($0) },
            outputTokens: message["usage"]?["output_tokens"]?.numberValue.map { Int($0) })
        return ChatResponse(
            text: text, model: message["model"]?.stringValue ?? configuration.model, backend: name, usage: usage,
            latency: clock.now - start, finishReason: stopReason)
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        .answering { yield in
            let start = clock.now
            let response = try await transport.postStreaming(
                url: url, headers: headers, body: body(for: request, stream: true), backend: name, timeout: configuration.timeout
            ) { status, headers, chunks in
                guard status == 200 else { throw httpError(status, try await chunks.collectText(), headers) }
                var parser = SSEParser()
                var state = AnthropicStreamState()
                var firstToken: Duration?
                for try await chunk in chunks {
                    for event in parser.feed(chunk) {
                        if let delta = try state.consume(event, backend: self) {
                            if firstToken == nil { firstToken = clock.now - start }
                            yield(delta)
                        }
                    }
                    if state.stopped { break }
                }
                for event in parser.finish() { _ = try state.consume(event, backend: self) }
                guard state.stopped else {
                    throw BackendError.connection(backend: name, detail: "the stream ended before message_stop (truncated)")
                }
                return ChatResponse(
                    text: state.text, model: state.model ?? configuration.model, backend: name, usage: state.usage,
                    latency: clock.now - start, timeToFirstToken: firstToken,
                    finishReason: state.stopReason)
            }
            return response
        }
    }

    func httpError(_ status: Int, _ body: String, _ headers: [(name: String, value: String)]) -> BackendError {
        let body = redactor.redact(body)
        let json = JSONValue.parse(body)
        var error = BackendError.fromHTTP(
            backend: name, status: status, body: body, retryAfter: RetryAfter.parse(headers: headers),
            message: json?["error"]?["message"]?.stringValue)
        // The status decides; the error type refines the generic classes (a 400 or 500 that is really overload).
        if let type = json?["error"]?["type"]?.stringValue, [.badRequest, .server].contains(error.kind) {
            error.kind = Self.kind(ofErrorType: type) ?? error.kind
        }
        return error
    }

    func streamError(_ error: JSONValue) -> BackendError {
        let type = error["type"]?.stringValue ?? "api_error"
        return BackendError(
            kind: Self.kind(ofErrorType: type) ?? .server, backend: name, status: 200,
            detail: "error in the stream: " + redactor.redact(error["message"]?.stringValue ?? type))
    }

    /// Anthropic's error types, as its documentation lists them.
    static func kind(ofErrorType type: String) -> BackendError.Kind? {
        switch type {
        case "overloaded_error": return .overloaded
        case "rate_limit_error": return .rateLimited
        case "api_error": return .server
        case "authentication_error": return .authentication
        case "permission_error": return .permission
        case "invalid_request_error", "not_found_error", "request_too_large": return .badRequest
        case "timeout_error": return .timeout
        default: return nil
        }
    }
}

/// Folds Anthropic's stream events: `message_start`, `content_block_delta` (`text_delta`,
/// `input_json_delta`), `message_delta` (cumulative usage), `message_stop`; `ping` anywhere; an
/// `error` event after HTTP 200 is an error.
struct AnthropicStreamState {
    var text = ""
    var model: String?
    var usage = TokenUsage()
    var stopReason: String?
    var stopped = false

    mutating func consume(_ event: SSEEvent, backend: AnthropicBackend) throws -> String? {
        guard let json = JSONValue.parse(event.data) else {
            throw BackendError.invalidResponse(
                backend: backend.name, status: 200, detail: "a stream event is not JSON", body: backend.redactor.redact(event.data))
        }
        switch json["type"]?.stringValue ?? event.event {
        case "message_start":
            model = json["message"]?["model"]?.stringValue
            usage.inputTokens = json["message"]?["usage"]?["input_tokens"]?.numberValue.map { Int($0) }
            usage.outputTokens = json["message"]?["usage"]?["output_tokens"]?.numberValue.map { Int($0) }
        case "content_block_delta":
            let delta = json["delta"]
            let piece = delta?["text"]?.stringValue ?? delta?["partial_json"]?.stringValue ?? ""
            text += piece
            return piece.isEmpty ? nil : piece
        case "message_delta":
            if let reason = json["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
            if let output = json["usage"]?["output_tokens"]?.numberValue { usage.outputTokens = Int(output) }
            if let input = json["usage"]?["input_tokens"]?.numberValue { usage.inputTokens = Int(input) }
        case "message_stop":
            stopped = true
            if stopReason == "refusal" {
                throw BackendError(
                    kind: .contentFiltered, backend: backend.name, status: 200, detail: "the model refused (stop_reason refusal)")
            }
        case "error":
            throw backend.streamError(json["error"] ?? .null)
        default:
            break  // ping, content_block_start, content_block_stop, and future event types
        }
        return nil
    }
}

func trimmedBase(_ base: String) -> String {
    var base = base
    while base.hasSuffix("/") { base.removeLast() }
    return base
}
