import Foundation

/// Google's Gemini API: `{baseURL}/{api_version}/models/{model}:generateContent` (`v1` by default,
/// `v1beta` as an option), and
/// `:streamGenerateContent?alt=sse` for streams. Messages become `contents` with `parts`, the system
/// message `systemInstruction`; structured output is `responseMimeType` plus `responseSchema`
/// (Gemini's OpenAPI subset: upper-case types, no `additionalProperties`, `propertyOrdering`).
public struct GeminiBackend: ModelBackend {
    public enum KeyStyle: String, Sendable, Hashable, CaseIterable {
        /// `x-goog-api-key` header (the default; keeps the key out of URLs and logs).
        case header
        /// `?key=` query parameter.
        case query
    }

    /// Gemini's own settings in a configuration: `api_key_style`, `api_version`.
    public struct Options: Sendable, Hashable {
        public var keyStyle: KeyStyle
        public var apiVersion: String

        public static let keys = ["api_key_style", "api_version"]
        public static let apiVersions = ["v1", "v1beta"]

        public init(keyStyle: KeyStyle = .header, apiVersion: String = "v1") {
            self.keyStyle = keyStyle
            self.apiVersion = apiVersion
        }

        public static func read(_ values: [String: String]) throws(ProviderOptionError) -> Options {
            var options = Options()
            if let text = values["api_key_style"] {
                guard let style = KeyStyle(rawValue: text) else {
                    throw ProviderOptionError(key: "api_key_style", problem: "must be header or query")
                }
                options.keyStyle = style
            }
            if let version = values["api_version"] {
                guard apiVersions.contains(version) else {
                    throw ProviderOptionError(key: "api_version", problem: "must be v1 (the default) or v1beta")
                }
                options.apiVersion = version
            }
            return options
        }
    }

    public struct Configuration: Sendable {
        public var name: String
        public var baseURL: String
        public var model: String
        public var apiKey: String?
        public var keyStyle: KeyStyle
        public var timeout: Duration
        public var price: Price?
        public var structuredOutput: Bool
        /// `v1` (the default) or `v1beta`.
        public var apiVersion: String

        public init(
            name: String, baseURL: String = "https://generativelanguage.googleapis.com", model: String, apiKey: String?,
            keyStyle: KeyStyle = .header, timeout: Duration = .seconds(120), price: Price? = nil, structuredOutput: Bool = true,
            apiVersion: String = "v1"
        ) {
            self.apiVersion = apiVersion
            self.name = name
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.keyStyle = keyStyle
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
    }

    func url(stream: Bool) -> String {
        let model = configuration.model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? configuration.model
        var url =
            BackendURL.join(
                configuration.baseURL,
                "/\(configuration.apiVersion)/models/\(model):" + (stream ? "streamGenerateContent?alt=sse" : "generateContent"))
        if configuration.keyStyle == .query, let key = configuration.apiKey {
            url +=
                (stream ? "&" : "?") + "key="
                + (key.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? key)
        }
        return url
    }

    var headers: [(String, String)] {
        guard configuration.keyStyle == .header, let key = configuration.apiKey, !key.isEmpty else { return [] }
        return [("x-goog-api-key", key)]
    }

    func body(for request: ChatRequest) -> Data {
        let system = request.messages.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        var body: [String: JSONValue] = [
            "contents": .array(
                request.messages.filter { $0.role != .system }.map {
                    .object([
                        "role": .string($0.role == .assistant ? "model" : "user"),
                        "parts": .array([.object(["text": .string($0.content)])]),
                    ])
                })
        ]
        if !system.isEmpty { body["systemInstruction"] = .object(["parts": .array([.object(["text": .string(system)])])]) }
        var generation: [String: JSONValue] = [:]
        if let temperature = request.temperature { generation["temperature"] = .double(temperature) }
        if let maxTokens = request.maxOutputTokens { generation["maxOutputTokens"] = .int(maxTokens) }
        if let schema = request.schema, configuration.structuredOutput {
            generation["responseMimeType"] = .string("application/json")
            generation["responseSchema"] = Self.geminiSchema(schema.schema)
        }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        return JSONValue.object(body).canonicalData()
    }

    /// JSON Schema → Gemini's schema subset.
    static func geminiSchema(_ schema: JSONValue) -> JSONValue {
        switch schema {
        case .object(var object):
            object["additionalProperties"] = nil
            object["$schema"] = nil
            if let type = object["type"]?.stringValue { object["type"] = .string(type.uppercased()) }
            if let properties = object["properties"]?.objectValue {
                object["properties"] = .object(properties.mapValues(geminiSchema))
                if object["propertyOrdering"] == nil, let required = object["required"] { object["propertyOrdering"] = required }
            }
            if let items = object["items"] { object["items"] = geminiSchema(items) }
            return .object(object)
        default:
            return schema
        }
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let start = clock.now
        let response = try await transport.post(
            url: url(stream: false), headers: headers, body: body(for: request), backend: name, timeout: configuration.timeout)
        guard response.status == 200 else { throw httpError(response.status, response.bodyText, response.headers) }
        guard let json = JSONValue.parse(response.body) else {
            throw BackendError.invalidResponse(
                backend: name, status: 200, detail: "the body is not JSON", body: redactor.redact(response.bodyText))
        }
        var state = GeminiStreamState()
        _ = try state.consume(json, backend: self)
        return try state.response(backend: self, latency: clock.now - start, ttft: nil)
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        .answering { yield in
            let start = clock.now
            let response = try await transport.postStreaming(
                url: url(stream: true), headers: headers, body: body(for: request), backend: name, timeout: configuration.timeout
            ) { status, headers, chunks in
                guard status == 200 else { throw httpError(status, try await chunks.collectText(), headers) }
                var parser = SSEParser()
                var state = GeminiStreamState()
                var firstToken: Duration?
                func handle(_ event: SSEEvent) throws {
                    guard let json = JSONValue.parse(event.data) else {
                        throw BackendError.invalidResponse(
                            backend: name, status: 200, detail: "a stream event is not JSON", body: redactor.redact(event.data))
                    }
                    if let piece = try state.consume(json, backend: self) {
                        if firstToken == nil { firstToken = clock.now - start }
                        yield(piece)
                    }
                }
                for try await chunk in chunks {
                    for event in parser.feed(chunk) { try handle(event) }
                }
                for event in parser.finish() { try handle(event) }
                guard state.finishReason != nil else {
                    throw BackendError.connection(backend: name, detail: "the stream ended without a finishReason (truncated)")
                }
                return try state.response(backend: self, latency: clock.now - start, ttft: firstToken)
            }
            return response
        }
    }

    func httpError(_ status: Int, _ body: String, _ headers: [(name: String, value: String)]) -> BackendError {
        let body = redactor.redact(body)
        let json = JSONValue.parse(body)
        var error = BackendError.fromHTTP(
            backend: name, status: status, body: body, retryAfter: RetryAfter.parse(headers: headers) ?? Self.retryDelay(in: json),
            message: json?["error"]?["message"]?.stringValue)
        switch json?["error"]?["status"]?.stringValue {
        case "RESOURCE_EXHAUSTED"?: error.kind = .rateLimited
        case "UNAVAILABLE"?: error.kind = .overloaded
        case "UNAUTHENTICATED"?: error.kind = .authentication
        case "PERMISSION_DENIED"?: error.kind = .permission
        case "DEADLINE_EXCEEDED"?: error.kind = .timeout
        default: break
        }
        // An invalid key comes back as 400 INVALID_ARGUMENT with reason API_KEY_INVALID.
        if status == 400, body.contains("API_KEY_INVALID") { error.kind = .authentication }
        return error
    }
}

extension GeminiBackend {
    /// The wait a 429 asks for in its body — `google.rpc.RetryInfo`'s `retryDelay` (`"37s"`,
    /// `"1.5s"`) — honoured like `Retry-After`: the retry policy waits that long, or fails the call when
    /// it is longer than the policy's limit.
    static func retryDelay(in json: JSONValue?) -> Duration? {
        for detail in json?["error"]?["details"]?.arrayValue ?? [] {
            guard detail["@type"]?.stringValue?.hasSuffix("google.rpc.RetryInfo") == true,
                let text = detail["retryDelay"]?.stringValue, text.hasSuffix("s"),
                let seconds = Double(text.dropLast()), seconds.isFinite, seconds >= 0
            else { continue }
            return CheckedNumber.duration(seconds: seconds, max: 86_400)
        }
        return nil
    }
}

/// Folds `GenerateContentResponse` objects (one, or one per SSE event).
struct GeminiStreamState {
    var text = ""
    var model: String?
    var usage = TokenUsage()
    var finishReason: String?
    var blockReason: String?

    mutating func consume(_ json: JSONValue, backend: GeminiBackend) throws -> String? {
        if let error = json["error"] {
            throw BackendError(
                kind: .server, backend: backend.name, status: 200,
                detail: "error in the stream: " + backend.redactor.redact(error["message"]?.stringValue ?? "unknown"))
        }
        if let version = json["modelVersion"]?.stringValue { model = version }
        if let metadata = json["usageMetadata"] {
            if let prompt = metadata["promptTokenCount"]?.numberValue { usage.inputTokens = Int(prompt) }
            if let output = metadata["candidatesTokenCount"]?.numberValue { usage.outputTokens = Int(output) }
        }
        if let reason = json["promptFeedback"]?["blockReason"]?.stringValue { blockReason = reason }
        var piece = ""
        if let candidate = json["candidates"]?.arrayValue?.first {
            for part in candidate["content"]?["parts"]?.arrayValue ?? [] where part["thought"] != .bool(true) {
                piece += part["text"]?.stringValue ?? ""
            }
            if let reason = candidate["finishReason"]?.stringValue { finishReason = reason }
        }
        text += piece
        return piece.isEmpty ? nil : piece
    }

    func response(backend: GeminiBackend, latency: Duration, ttft: Duration?) throws -> ChatResponse {
        if let blockReason {
            throw BackendError(
                kind: .contentFiltered, backend: backend.name, status: 200, detail: "the prompt was blocked (\(blockReason))")
        }
        if let reason = finishReason, ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"].contains(reason) {
            throw BackendError(
                kind: .contentFiltered, backend: backend.name, status: 200, detail: "the answer was blocked (finishReason \(reason))")
        }
        return ChatResponse(
            text: text, model: model ?? backend.configuration.model, backend: backend.name, usage: usage,
            latency: latency, timeToFirstToken: ttft, finishReason: finishReason)
    }
}
