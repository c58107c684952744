import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The mock's `/chat/completions` handler.
struct ChatCompletions: Sendable {
    let configuration: MockProviderConfiguration
    let stats: MockProviderStats

    enum Fault: String {
        case rateLimited, serverError, unavailable, connectionReset, malformedBody, truncatedStream
    }

    struct Reset: Error {}

    /// The wire formats the mock speaks.
    enum Format: Sendable {
        case openai, anthropic, ollama
        case gemini(stream: Bool, model: String)

        var isAnthropic: Bool {
            if case .anthropic = self { return true }
            return false
        }
    }

    func respond(_ request: Request) async throws -> Response {
        try await respond(request, format: .openai)
    }

    func respond(_ request: Request, format: Format) async throws -> Response {
        let arrived = ContinuousClock.now
        let authorization =
            request.headers[.authorization] ?? request.headers[HTTPField.Name("x-api-key")!].map { "Bearer \($0)" }
            ?? request.headers[HTTPField.Name("api-key")!].map { "Bearer \($0)" }
            ?? request.headers[HTTPField.Name("x-goog-api-key")!].map { "Bearer \($0)" }
            ?? request.uri.queryParameters.get("key").map { "Bearer \($0)" }
        stats.begin(authorization: authorization)
        defer { stats.end() }
        var request = request
        let buffer = try await request.collectBody(upTo: 8 * 1024 * 1024)
        let body = Data(buffer.readableBytesView)
        if let onRequest = configuration.onRequest {
            onRequest(request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""), body)
        }
        // JSON: the stand-in provider parses requests with Foundation, not panel's reader: a test double shares no code with what it tests.
        guard let payload = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            return json(.badRequest, #"{"error":{"message":"the body is not JSON","type":"invalid_request_error"}}"#)
        }
        if let key = configuration.requiredKey, authorization != "Bearer \(key)" {
            let given = authorization.map { String($0.dropFirst("Bearer ".count)) } ?? ""
            return unauthorized(format: format, given: given, azure: request.uri.path.hasPrefix("/openai/"))
        }
        if configuration.strict, let violation = MockRules(format: format, payload: payload, request: request).violation() {
            return json(violation.status, violation.body)
        }
        if let format = (payload["response_format"] as? [String: Any])?["type"] as? String,
            configuration.rejectedResponseFormats.contains(format)
        {
            return json(
                .badRequest,
                #"{"error":{"message":"Invalid parameter: 'response_format' of type '\#(format)' is not supported with this model.","type":"invalid_request_error","param":"response_format"}}"#
            )
        }
        for parameter in configuration.rejectedParameters.sorted() where payload[parameter] != nil {
            return rejection(of: parameter, format: format, value: payload[parameter])
        }
        let messages = Self.messages(of: payload, format: format)
        guard !messages.isEmpty else {
            return json(.badRequest, #"{"error":{"message":"'messages' is required","type":"invalid_request_error"}}"#)
        }
        let hash = MockJSON.hex(SHA256.hash(data: body))
        let attempt = stats.attempt(hash)
        let fault = chooseFault(hash: hash, attempt: attempt)
        if fault != nil { stats.fault() }
        let stream: Bool
        switch format {
        case .openai, .anthropic: stream = payload["stream"] as? Bool ?? false
        case .ollama: stream = payload["stream"] as? Bool ?? true  // Ollama streams unless told not to
        case .gemini(let streaming, _): stream = streaming
        }
        var model = payload["model"] as? String ?? configuration.model
        if case .gemini(_, let name) = format { model = name }

        // The answer is made before the wait, not after it: made after, the mock's own work (the answer,
        // its JSON) came on top of the latency — with 64 calls in flight on two cores a 100 ms answer took
        // 102.3–102.7 ms on average, 101.7–101.8 ms made before (docs/benchmarks.md).
        func reply() throws -> Response {
            switch fault {
            case .rateLimited?:
                return rateLimited(format: format)
            case .serverError?:
                return serverError(format: format)
            case .unavailable? where format.isAnthropic:
                // Anthropic's overload status.
                return json(
                    HTTPResponse.Status(code: 529, reasonPhrase: "Overloaded"),
                    MockRules.anthropicError("overloaded_error", "Overloaded"))
            case .unavailable?:
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "text/html"],
                    body: .init(byteBuffer: ByteBuffer(string: "<html><body>upstream unavailable</body></html>")))
            case .connectionReset?:
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { _ in throw Reset() })
            case .malformedBody?:
                return json(.ok, #"{"id": "chatcmpl-x", "choices": [ {"message": "#)
            case .truncatedStream? where !stream:
                return json(.ok, #"{"id": "chatcmpl-x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assis"#)
            case .truncatedStream?, nil:
                break
            }

            let (text, cannedModel) = MockAnswers(configuration: configuration).answer(messages: messages, bodyHash: hash, repeat: attempt)
            let reportedModel = cannedModel ?? model
            let promptTokens = max(1, messages.compactMap { $0["content"] as? String }.reduce(0) { $0 + $1.utf8.count } / 4)
            let completionTokens: Int
            if case .inflated(let tokens) = configuration.usageReport {
                completionTokens = tokens
            } else {
                completionTokens = max(1, text.utf8.count / 4)
            }
            let reportsUsage = configuration.usageReport != .omitted
            let usage = (input: promptTokens, output: completionTokens)
            switch format {
            case .openai: break
            case .anthropic:
                return MockWire.anthropic(
                    text: text, model: reportedModel, usage: usage, stream: stream,
                    toolUse: payload["tools"] != nil
                        ? MockRules(format: format, payload: payload, request: request).forcedTool ?? "tool" : nil,
                    truncate: fault == .truncatedStream)
            case .ollama:
                return MockWire.ollama(text: text, model: reportedModel, usage: usage, stream: stream, truncate: fault == .truncatedStream)
            case .gemini:
                return MockWire.gemini(text: text, model: reportedModel, usage: usage, stream: stream, truncate: fault == .truncatedStream)
            }
            let id = "chatcmpl-" + hash.prefix(12)
            if !stream {
                var body: [String: Any] = [
                    "id": id, "object": "chat.completion", "created": 1_764_000_000, "model": reportedModel,
                    "choices": [
                        [
                            "index": 0, "message": ["role": "assistant", "content": text, "refusal": NSNull()], "logprobs": NSNull(),
                            "finish_reason": "stop",
                        ]
                    ],
                    "system_fingerprint": "fp_mock",
                ]
                if reportsUsage {
                    body["usage"] = [
                        "prompt_tokens": promptTokens, "completion_tokens": completionTokens,
                        "total_tokens": promptTokens + completionTokens,
                    ]
                }
                var extra: HTTPFields = [:]
                if let remaining = configuration.rateLimitRemaining {
                    extra[HTTPField.Name("x-ratelimit-remaining-requests")!] = String(remaining)
                }
                return json(.ok, MockJSON.text(body), extra: extra)
            }
            let includeUsage = (payload["stream_options"] as? [String: Any])?["include_usage"] as? Bool ?? false
            let pieces = Self.pieces(text, size: 24)
            let truncateAt = fault == .truncatedStream ? pieces.count / 2 : nil
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    for (index, piece) in pieces.enumerated() {
                        if index == truncateAt { throw Reset() }
                        let delta: [String: Any] = index == 0 ? ["role": "assistant", "content": piece] : ["content": piece]
                        let chunk: [String: Any] = [
                            "id": id, "object": "chat.completion.chunk", "created": 1_764_000_000, "model": reportedModel,
                            "choices": [["index": 0, "delta": delta, "logprobs": NSNull(), "finish_reason": NSNull()]],
                        ]
                        try await writer.write(Self.event(chunk))
                        if index == 0, configuration.streamStall > .zero { try await Task.sleep(for: configuration.streamStall) }
                        if configuration.streamChunkInterval > .zero { try await Task.sleep(for: configuration.streamChunkInterval) }
                    }
                    try await writer.write(
                        Self.event([
                            "id": id, "object": "chat.completion.chunk", "created": 1_764_000_000, "model": reportedModel,
                            "choices": [["index": 0, "delta": [String: Any](), "logprobs": NSNull(), "finish_reason": "stop"]],
                        ]))
                    if includeUsage, reportsUsage {
                        try await writer.write(
                            Self.event([
                                "id": id, "object": "chat.completion.chunk", "created": 1_764_000_000, "model": reportedModel,
                                "choices": [Any](),
                                "usage": [
                                    "prompt_tokens": promptTokens, "completion_tokens": completionTokens,
                                    "total_tokens": promptTokens + completionTokens,
                                ],
                            ]))
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                })
        }
        let response = try reply()
        // Wait in small steps so a stopping server can release its handlers, each step to an absolute
        // deadline: relative steps added every step's timer overshoot to the latency (100 ms was ~110).
        let clock = ContinuousClock()
        let deadline = arrived + delay(hash: hash)
        while clock.now < deadline && !stats.isShuttingDown {
            try? await clock.sleep(until: min(deadline, clock.now + .milliseconds(20)), tolerance: .zero)
        }
        return response
    }

    /// The conversation as `[{role, content}]`, system message first, whatever the format.
    static func messages(of payload: [String: Any], format: Format) -> [[String: Any]] {
        switch format {
        case .openai, .ollama:
            return payload["messages"] as? [[String: Any]] ?? []
        case .anthropic:
            var messages: [[String: Any]] = []
            if let system = payload["system"] as? String { messages.append(["role": "system", "content": system]) }
            return messages + (payload["messages"] as? [[String: Any]] ?? [])
        case .gemini:
            var messages: [[String: Any]] = []
            let text = { (content: [String: Any]?) -> String in
                ((content?["parts"] as? [[String: Any]]) ?? []).compactMap { $0["text"] as? String }.joined()
            }
            if let system = payload["systemInstruction"] as? [String: Any] { messages.append(["role": "system", "content": text(system)]) }
            for content in payload["contents"] as? [[String: Any]] ?? [] {
                messages.append(["role": (content["role"] as? String) == "model" ? "assistant" : "user", "content": text(content)])
            }
            return messages
        }
    }

    func chooseFault(hash: String, attempt: Int) -> Fault? {
        let rates = configuration.faults
        guard rates.total > 0, attempt < configuration.maxFaultsPerRequest else { return nil }
        var roll = Self.uniform("\(hash):\(attempt):\(configuration.seed)")
        let table: [(Fault, Double)] = [
            (.rateLimited, rates.rateLimited), (.serverError, rates.serverError), (.unavailable, rates.unavailable),
            (.connectionReset, rates.connectionReset), (.malformedBody, rates.malformedBody), (.truncatedStream, rates.truncatedStream),
        ]
        for (fault, rate) in table {
            if roll < rate { return fault }
            roll -= rate
        }
        return nil
    }

    func delay(hash: String) -> Duration {
        var delay = configuration.latency
        if configuration.jitter > .zero {
            delay += configuration.jitter * Self.uniform("jitter:\(hash):\(configuration.seed)")
        }
        let slowKey = configuration.slowPerAttempt ? "arrival \(stats.nextArrival())" : hash
        if configuration.slowRate > 0, Self.uniform("slow:\(slowKey):\(configuration.seed)") < configuration.slowRate {
            delay = delay * configuration.slowFactor
        }
        return delay
    }

    /// A deterministic number in 0..<1 from a string.
    static func uniform(_ seed: String) -> Double {
        let digest = SHA256.hash(data: Data(seed.utf8))
        let value = digest.prefix(7).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(value) / Double(UInt64(1) << 56)
    }

    static func pieces(_ text: String, size: Int) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if current.count >= size {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty || pieces.isEmpty { pieces.append(current) }
        return pieces
    }

    static func event(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(string: "data: " + MockJSON.text(object) + "\n\n")
    }

    /// A bad or missing key, answered as each provider answers it.
    func unauthorized(format: Format, given: String, azure: Bool) -> Response {
        switch format {
        case .anthropic:
            return json(.unauthorized, MockRules.anthropicError("authentication_error", "invalid x-api-key"))
        case .gemini:
            return json(
                .badRequest,
                MockRules.geminiError(
                    400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                    details: [
                        [
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                            "metadata": ["service": "generativelanguage.googleapis.com"],
                        ]
                    ]))
        case .ollama:
            return json(.unauthorized, MockJSON.text(["error": "unauthorized"]))
        case .openai where azure:
            return json(
                .unauthorized,
                MockJSON.text([
                    "error": [
                        "code": "401",
                        "message":
                            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
                    ]
                ]))
        case .openai:
            // The body echoes the key it got, as OpenAI does, so tests can prove clients redact it.
            return json(
                .unauthorized,
                MockJSON.text([
                    "error": [
                        "message":
                            "Incorrect API key provided: \(given). You can find your API key at https://platform.openai.com/account/api-keys.",
                        "type": "invalid_request_error", "param": NSNull(), "code": "invalid_api_key",
                    ]
                ]))
        }
    }

    func rateLimited(format: Format) -> Response {
        let retryAfter: HTTPFields = [HTTPField.Name("retry-after")!: "\(configuration.retryAfterSeconds)"]
        switch format {
        case .anthropic:
            return json(
                .tooManyRequests, MockRules.anthropicError("rate_limit_error", "Number of requests has exceeded your rate limit"),
                extra: retryAfter)
        case .gemini:
            // Gemini names the wait in the body (google.rpc.RetryInfo), not in a header.
            return json(
                .tooManyRequests,
                MockRules.geminiError(
                    429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
                    details: [["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "\(configuration.retryAfterSeconds)s"]]))
        case .ollama:
            return json(.tooManyRequests, MockJSON.text(["error": "too many requests"]), extra: retryAfter)
        case .openai:
            return json(
                .tooManyRequests,
                #"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
                extra: retryAfter)
        }
    }

    func serverError(format: Format) -> Response {
        switch format {
        case .anthropic: return json(.internalServerError, MockRules.anthropicError("api_error", "Internal server error"))
        case .gemini: return json(.internalServerError, MockRules.geminiError(500, "INTERNAL", "An internal error has occurred."))
        case .ollama: return json(.internalServerError, MockJSON.text(["error": "llama runner process has terminated"]))
        case .openai:
            return json(
                .internalServerError,
                #"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#
            )
        }
    }

    /// A 400 refusing a parameter, worded as the provider words it.
    func rejection(of parameter: String, format: Format, value: Any?) -> Response {
        let message: String
        switch parameter {
        case "max_tokens":
            message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
        case "temperature":
            message =
                "Unsupported value: 'temperature' does not support \(value.map { "\($0)" } ?? "this value") with this model. Only the default (1) value is supported."
        default:
            message = "Unrecognized request argument supplied: \(parameter)"
        }
        switch format {
        case .anthropic:
            return json(
                .badRequest,
                MockJSON.text(["type": "error", "error": ["type": "invalid_request_error", "message": "\(parameter): \(message)"]]))
        case .ollama:
            return json(.badRequest, MockJSON.text(["error": message]))
        case .gemini:
            return json(
                .badRequest, MockJSON.text(["error": ["code": 400, "message": message, "status": "INVALID_ARGUMENT"]]))
        case .openai:
            let code = parameter == "temperature" ? "unsupported_value" : "unsupported_parameter"
            return json(
                .badRequest,
                MockJSON.text(["error": ["message": message, "type": "invalid_request_error", "param": parameter, "code": code]]))
        }
    }

    func json(_ status: HTTPResponse.Status, _ body: String, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
