import Foundation

/// Chat completions over the OpenAI wire format: OpenAI itself, Mistral, vLLM, llama.cpp's server,
/// Ollama's `/v1`, LM Studio and the many other servers that copy it.
///
/// Requests go to `{baseURL}/chat/completions` (the base URL includes the version, `…/v1`, as in
/// OpenAI's SDKs). Non-streaming and SSE streaming, Bearer auth, structured output negotiation and
/// a deadline on the whole call.
public struct OpenAICompatibleBackend: ModelBackend {
    public struct Configuration: Sendable {
        public var name: String
        public var baseURL: String
        public var model: String
        /// The API key itself, read from the environment variable the configuration names.
        public var apiKey: String?
        public var timeout: Duration
        public var price: Price?
        public var structuredOutput: StructuredOutputMode
        public var extraHeaders: [(String, String)]
        /// How the key is sent: `Authorization: Bearer` (OpenAI and most servers) or `api-key` (Azure).
        public var keyHeader: KeyHeader
        /// The full chat-completions URL, when it is not `{baseURL}/chat/completions` (Azure deployments).
        public var endpointURL: String?
        /// The answer-length cap's name; nil picks by server (``defaultTokenLimitField``) and switches
        /// when a 400 names the other.
        public var tokenLimitField: TokenLimitField?
        /// Parameters never sent to this backend.
        public var dropParams: Set<DroppableParameter>

        public enum KeyHeader: Sendable, Hashable {
            case bearer
            case apiKey
        }

        public init(
            name: String,
            baseURL: String,
            model: String,
            apiKey: String? = nil,
            timeout: Duration = .seconds(120),
            price: Price? = nil,
            structuredOutput: StructuredOutputMode = .auto,
            extraHeaders: [(String, String)] = [],
            keyHeader: KeyHeader = .bearer,
            endpointURL: String? = nil,
            tokenLimitField: TokenLimitField? = nil,
            dropParams: Set<DroppableParameter> = []
        ) {
            self.name = name
            self.baseURL = baseURL
            self.model = model
            self.apiKey = apiKey
            self.timeout = timeout
            self.price = price
            self.structuredOutput = structuredOutput
            self.extraHeaders = extraHeaders
            self.keyHeader = keyHeader
            self.endpointURL = endpointURL
            self.tokenLimitField = tokenLimitField
            self.dropParams = dropParams
        }

        /// True for OpenAI's own API and Azure (the `api-key` header), whose request types are strict: no
        /// `schema` beside `json_object` there (llama.cpp and vLLM turn that schema into a grammar; OpenAI
        /// refuses it).
        public var isOpenAIItself: Bool {
            keyHeader == .apiKey || URL(string: baseURL)?.host?.lowercased() == "api.openai.com"
        }

        /// `max_completion_tokens` for OpenAI's own API and Azure (where `max_tokens` is deprecated and
        /// reasoning models refuse it); `max_tokens` for every other server.
        public var defaultTokenLimitField: TokenLimitField { isOpenAIItself ? .maxCompletionTokens : .maxTokens }
    }

    public let configuration: Configuration
    let transport: HTTPTransport
    let negotiation: StructuredOutputNegotiation
    let parameters: ParameterNegotiation
    let redactor: Redactor
    let clock: ContinuousClock = ContinuousClock()

    public var name: String { configuration.name }

    public init(_ configuration: Configuration, transport: HTTPTransport = .shared) {
        self.configuration = configuration
        self.transport = transport
        self.negotiation = StructuredOutputNegotiation(configuration.structuredOutput)
        self.parameters = ParameterNegotiation(
            tokenField: configuration.tokenLimitField ?? configuration.defaultTokenLimitField,
            configured: configuration.tokenLimitField != nil, dropped: configuration.dropParams)
        self.redactor = Redactor(secrets: BackendURL.secrets(in: configuration.baseURL)).adding(configuration.apiKey)
        self.url = configuration.endpointURL ?? BackendURL.join(configuration.baseURL, "/chat/completions")
    }

    /// The endpoint, joined once (joining it per call was two string rebuilds a call).
    let url: String

    var headers: [(String, String)] {
        var headers = configuration.extraHeaders
        if let key = configuration.apiKey, !key.isEmpty {
            switch configuration.keyHeader {
            case .bearer: headers.append(("authorization", "Bearer \(key)"))
            case .apiKey: headers.append(("api-key", key))
            }
        }
        return headers
    }

    /// The wire body for a request in a given structured-output mode: canonical JSON (keys sorted, the
    /// bytes ``JSONValue/canonicalData()`` would give for the same body — tested), written directly
    /// with the schema's canonical bytes reused, since a batch sends the same schema with every call.
    func body(
        for request: ChatRequest, mode: StructuredOutputMode, stream: Bool,
        parameters: ParameterNegotiation.State = .init(tokenField: .maxTokens, dropped: [])
    ) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(512 + request.messages.reduce(0) { $0 + $1.content.utf8.count } + (request.schema?.canonicalSchema.count ?? 0))
        var first = true
        func key(_ name: StaticString) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        // Keys in sorted order.
        if let maxTokens = request.maxOutputTokens {
            if parameters.tokenField == .maxCompletionTokens { key("max_completion_tokens") } else { key("max_tokens") }
            out.append(contentsOf: String(maxTokens).utf8)
        }
        key("messages")
        out.append(UInt8(ascii: "["))
        for (index, message) in request.messages.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"content":"#.utf8)
            JSONValue.write(string: message.content, into: &out)
            out.append(contentsOf: #","role":"#.utf8)
            JSONValue.write(string: message.role.rawValue, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        key("model")
        JSONValue.write(string: configuration.model, into: &out)
        if let schema = request.schema, mode != .none {
            key("response_format")
            if mode == .jsonObject, configuration.isOpenAIItself {
                out.append(contentsOf: #"{"type":"json_object"}"#.utf8)
            } else if mode == .jsonObject {
                out.append(contentsOf: #"{"schema":"#.utf8)
                out.append(contentsOf: schema.canonicalSchema)
                out.append(contentsOf: #","type":"json_object"}"#.utf8)
            } else {
                out.append(contentsOf: #"{"json_schema":{"name":"#.utf8)
                JSONValue.write(string: schema.name, into: &out)
                out.append(contentsOf: #","schema":"#.utf8)
                out.append(contentsOf: schema.canonicalSchema)
                out.append(contentsOf: #","strict":true},"type":"json_schema"}"#.utf8)
            }
        }
        if stream {
            key("stream")
            out.append(contentsOf: "true".utf8)
            key("stream_options")
            out.append(contentsOf: #"{"include_usage":true}"#.utf8)
        }
        if let temperature = request.temperature, !parameters.dropped.contains(.temperature) {
            key("temperature")
            out.append(contentsOf: JSONValue.text(of: temperature).utf8)
        }
        out.append(UInt8(ascii: "}"))
        return Data(out)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await negotiate(request) { mode, sent in
            let start = clock.now
            let response = try await transport.post(
                url: url, headers: headers, body: body(for: request, mode: mode, stream: false, parameters: sent),
                backend: name, timeout: configuration.timeout)
            guard response.status == 200 else {
                throw httpError(status: response.status, body: response.bodyText, headers: response.headers)
            }
            var parsed = try parseCompletion(response.body, latency: clock.now - start)
            parsed.rateLimitRemaining = response.header("x-ratelimit-remaining-requests").flatMap { Int($0) }
            return parsed
        }
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        .answering { yield in
            let response = try await negotiate(request) { mode, sent in
                try await streamOnce(request, mode: mode, parameters: sent) { yield($0) }
            }
            return response
        }
    }

    /// Runs a call with the current structured-output mode and parameters, stepping down when the
    /// server rejects a mode, and switching the token-limit name or dropping a sampling parameter when a
    /// 400 names it (one extra call each, remembered for the run).
    func negotiate(
        _ request: ChatRequest,
        _ call: (StructuredOutputMode, ParameterNegotiation.State) async throws -> ChatResponse
    ) async throws -> ChatResponse {
        var mode = request.schema == nil ? StructuredOutputMode.none : negotiation.mode
        var sent = parameters.current
        var adjustments = 0
        while true {
            do {
                var response = try await call(mode, sent)
                if request.temperature != nil, sent.dropped.contains(.temperature) {
                    response.adjustments.append(ChatResponse.droppedFlag(.temperature))
                }
                return response
            } catch let error as BackendError {
                // At most two parameter changes a call: a server whose errors name both token-limit names
                // must not bounce the call between them.
                if adjustments < 2, let adjusted = parameters.adjust(after: error, sent: sent, request: request) {
                    adjustments += 1
                    sent = adjusted
                } else if request.schema != nil, mode != .none, rejectsStructuredOutput(error), let next = negotiation.reject(mode) {
                    mode = next
                } else {
                    throw error
                }
            }
        }
    }

    func rejectsStructuredOutput(_ error: BackendError) -> Bool {
        guard let status = error.status, [400, 422, 500].contains(status) else { return false }
        let text = (error.detail + " " + (error.bodyExcerpt ?? "")).lowercased()
        return text.contains("response_format") || text.contains("json_schema") || text.contains("json schema")
    }

    func streamOnce(
        _ request: ChatRequest,
        mode: StructuredOutputMode,
        parameters sent: ParameterNegotiation.State,
        onDelta: @escaping @Sendable (String) -> Void
    ) async throws -> ChatResponse {
        let start = clock.now
        let name = self.name
        return try await transport.postStreaming(
            url: url, headers: headers, body: body(for: request, mode: mode, stream: true, parameters: sent),
            backend: name, timeout: configuration.timeout
        ) { status, headers, chunks in
            guard status == 200 else {
                throw httpError(status: status, body: try await chunks.collectText(), headers: headers)
            }
            var accumulator = OpenAIStreamAccumulator(backend: name, redactor: redactor)
            var parser = SSEParser()
            var firstToken: Duration?
            for try await chunk in chunks {
                for event in parser.feed(chunk) {
                    if let delta = try accumulator.consume(event) {
                        if firstToken == nil { firstToken = clock.now - start }
                        onDelta(delta)
                    }
                    if accumulator.isDone { break }
                }
                if accumulator.isDone { break }
            }
            for event in parser.finish() where !accumulator.isDone {
                if let delta = try accumulator.consume(event) { onDelta(delta) }
            }
            var response = try accumulator.finish()
            response.rateLimitRemaining = headers.first { $0.name.lowercased() == "x-ratelimit-remaining-requests" }.flatMap {
                Int($0.value)
            }
            response.latency = clock.now - start
            response.timeToFirstToken = firstToken
            if response.model == nil { response.model = configuration.model }
            return response
        }
    }

    func parseCompletion(_ data: Data, latency: Duration) throws -> ChatResponse {
        guard let body = OpenAIWire.Completion(data) else {
            let text = String(decoding: data, as: UTF8.self)
            if let error = OpenAIWire.errorMessage(in: text) {
                throw BackendError(kind: .server, backend: name, status: 200, detail: redactor.redact(error))
            }
            throw BackendError.invalidResponse(
                backend: name, status: 200, detail: "the body is not a chat completion", body: redactor.redact(text))
        }
        guard let choice = body.choices.first else {
            throw BackendError.invalidResponse(backend: name, status: 200, detail: "the completion has no choices")
        }
        if choice.finishReason == "content_filter" || choice.refusal != nil {
            throw BackendError(
                kind: .contentFiltered, backend: name, status: 200,
                detail: redactor.redact(choice.refusal ?? "finish_reason content_filter"))
        }
        guard let content = choice.content else {
            throw BackendError.invalidResponse(backend: name, status: 200, detail: "the completion has no message content")
        }
        let usage = body.usage
        return ChatResponse(
            text: content,
            model: body.model ?? configuration.model,
            backend: name,
            usage: usage,
            latency: latency,
            finishReason: choice.finishReason
        )
    }

    func httpError(status: Int, body: String, headers: [(name: String, value: String)]) -> BackendError {
        let body = redactor.redact(body)
        var error = BackendError.fromHTTP(
            backend: name, status: status, body: body,
            retryAfter: RetryAfter.parse(headers: headers),
            message: OpenAIWire.errorMessage(in: body))
        let lowered = body.lowercased()
        if lowered.contains("content_filter") || lowered.contains("content management policy") {
            error.kind = .contentFiltered
        } else if status == 404 {
            error.detail += " (is the base URL right? requests go to \(url))"
        }
        return error
    }
}
