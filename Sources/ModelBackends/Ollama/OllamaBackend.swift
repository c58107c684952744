import Foundation

/// Ollama's native chat API: `{baseURL}/api/chat` (the base URL is the server root). Streams are
/// newline-delimited JSON, not SSE; `format` carries the JSON schema; durations are nanoseconds;
/// errors are `{"error": "…"}` bodies, also mid-stream.
public struct OllamaBackend: ModelBackend {
    public struct Configuration: Sendable {
        public var name: String
        public var baseURL: String
        public var model: String
        public var apiKey: String?
        public var timeout: Duration
        public var price: Price?
        public var structuredOutput: Bool

        public init(
            name: String, baseURL: String = "http://127.0.0.1:11434", model: String, apiKey: String? = nil,
            timeout: Duration = .seconds(300), price: Price? = nil, structuredOutput: Bool = true
        ) {
            self.name = name
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
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
        self.url = BackendURL.join(configuration.baseURL, "/api/chat")
    }

    /// The endpoint, joined once per backend rather than per call.
    let url: String

    var headers: [(String, String)] {
        configuration.apiKey.map { [("authorization", "Bearer \($0)")] } ?? []
    }

    func body(for request: ChatRequest, stream: Bool) -> Data {
        var options: [String: JSONValue] = [:]
        if let temperature = request.temperature { options["temperature"] = .double(temperature) }
        if let maxTokens = request.maxOutputTokens { options["num_predict"] = .int(maxTokens) }
        var body: [String: JSONValue] = [
            "model": .string(configuration.model),
            "messages": .array(request.messages.map { .object(["role": .string($0.role.rawValue), "content": .string($0.content)]) }),
            "stream": .bool(stream),
        ]
        if !options.isEmpty { body["options"] = .object(options) }
        if let schema = request.schema, configuration.structuredOutput { body["format"] = schema.schema }
        return JSONValue.object(body).canonicalData()
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let start = clock.now
        let response = try await transport.post(
            url: url, headers: headers, body: body(for: request, stream: false), backend: name, timeout: configuration.timeout)
        guard response.status == 200 else { throw httpError(response.status, response.bodyText, response.headers) }
        guard let json = JSONValue.parse(response.body) else {
            throw BackendError.invalidResponse(
                backend: name, status: 200, detail: "the body is not JSON", body: redactor.redact(response.bodyText))
        }
        var state = OllamaStreamState()
        _ = try state.consume(json, backend: self)
        guard state.done else {
            throw BackendError.invalidResponse(backend: name, status: 200, detail: "the answer is not marked done")
        }
        return state.response(backend: self, latency: clock.now - start, ttft: nil)
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        .answering { yield in
            let start = clock.now
            let response = try await transport.postStreaming(
                url: url, headers: headers, body: body(for: request, stream: true), backend: name, timeout: configuration.timeout
            ) { status, _, chunks in
                guard status == 200 else { throw httpError(status, try await chunks.collectText(), headers) }
                var splitter = NDJSONSplitter()
                var state = OllamaStreamState()
                var firstToken: Duration?
                func handle(_ line: String) throws {
                    guard let json = JSONValue.parse(line) else {
                        throw BackendError.invalidResponse(
                            backend: name, status: 200, detail: "a stream line is not JSON", body: redactor.redact(line))
                    }
                    if let piece = try state.consume(json, backend: self) {
                        if firstToken == nil { firstToken = clock.now - start }
                        yield(piece)
                    }
                }
                for try await chunk in chunks {
                    for line in splitter.feed(chunk) { try handle(line) }
                    if state.done { break }
                }
                for line in splitter.finish() where !state.done { try handle(line) }
                guard state.done else {
                    throw BackendError.connection(backend: name, detail: "the stream ended before done (truncated)")
                }
                return state.response(backend: self, latency: clock.now - start, ttft: firstToken)
            }
            return response
        }
    }

    /// Ollama's `{"error": "<string>"}`; a proxy in front of it may send `Retry-After`.
    func httpError(_ status: Int, _ body: String, _ headers: [(name: String, value: String)] = []) -> BackendError {
        let body = redactor.redact(body)
        var error = BackendError.fromHTTP(
            backend: name, status: status, body: body, retryAfter: RetryAfter.parse(headers: headers),
            message: JSONValue.parse(body)?["error"]?.stringValue)
        if status == 404 { error.detail += " (is the model pulled? try `ollama pull \(configuration.model)`)" }
        return error
    }
}

/// Folds Ollama's NDJSON objects; the last one has `done: true` and the token counts.
struct OllamaStreamState {
    var text = ""
    var model: String?
    var usage = TokenUsage()
    var doneReason: String?
    var done = false

    mutating func consume(_ json: JSONValue, backend: OllamaBackend) throws -> String? {
        if let message = json["error"]?.stringValue {
            throw BackendError(
                kind: .server, backend: backend.name, status: 200, detail: "error in the stream: " + backend.redactor.redact(message))
        }
        if let name = json["model"]?.stringValue { model = name }
        let piece = json["message"]?["content"]?.stringValue ?? ""
        text += piece
        if json["done"] == .bool(true) {
            done = true
            doneReason = json["done_reason"]?.stringValue
            usage = TokenUsage(
                inputTokens: json["prompt_eval_count"]?.numberValue.map { Int($0) },
                outputTokens: json["eval_count"]?.numberValue.map { Int($0) })
        }
        return piece.isEmpty ? nil : piece
    }

    func response(backend: OllamaBackend, latency: Duration, ttft: Duration?) -> ChatResponse {
        ChatResponse(
            text: text, model: model ?? backend.configuration.model, backend: backend.name, usage: usage,
            latency: latency, timeToFirstToken: ttft, finishReason: doneReason)
    }
}
