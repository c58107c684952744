import Foundation

/// The parts of OpenAI's chat-completions wire format the adapter reads. Unknown fields are
/// ignored, as servers add their own.
enum OpenAIWire {
    /// A non-streamed completion, read from its bytes (no Codable: this runs once per call).
    struct Completion: Equatable {
        struct Choice: Equatable {
            var content: String?
            var refusal: String?
            var finishReason: String?
        }
        var model: String?
        var choices: [Choice]
        var usage: TokenUsage

        /// nil unless the body is JSON: an object with a `choices` array of objects with a `message` object
        /// (duplicate keys: the last counts). Read field by field: only `model`, `usage`, each choice's
        /// `finish_reason` and its message's `content` and `refusal` are built; ids, log probabilities,
        /// fingerprints and the rest are passed over (their syntax still checked) — a completion's parse
        /// made no dictionary for each of its objects, nor strings for values nobody reads.
        init?(_ data: Data) {
            let read: Completion? = data.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                var reader = JSONReader(bytes: bytes, validUTF8: (try? UTF8Span(validating: Span(_unsafeElements: bytes))) != nil)
                return Self.read(&reader)
            }
            guard let read else { return nil }
            self = read
        }

        init(model: String?, choices: [Choice], usage: TokenUsage) {
            self.model = model
            self.choices = choices
            self.usage = usage
        }

        static func read(_ reader: inout JSONReader) -> Completion? {
            guard reader.peek(UInt8(ascii: "{")) else { return nil }
            var choices: [Choice]?
            var model: String?
            var usage = TokenUsage()
            let parsed = reader.fields { reader, key in
                switch key {
                case "choices":
                    guard reader.peek(UInt8(ascii: "[")) else {
                        choices = nil
                        return reader.skipValue()
                    }
                    var list: [Choice]? = []
                    let parsed = reader.container(close: UInt8(ascii: "]")) { reader in
                        guard let choice = readChoice(&reader) else { return false }
                        if let found = choice { list?.append(found) } else { list = nil }
                        return true
                    }
                    choices = list
                    return parsed
                case "model":
                    guard let value = reader.value() else { return false }
                    model = value.stringValue
                case "usage":
                    guard let value = reader.value() else { return false }
                    usage = TokenUsage(inputTokens: value["prompt_tokens"]?.intValue, outputTokens: value["completion_tokens"]?.intValue)
                default:
                    return reader.skipValue()
                }
                return true
            }
            reader.skipWhitespace()
            guard parsed, reader.index == reader.bytes.count, let choices else { return nil }
            return Completion(model: model, choices: choices, usage: usage)
        }

        /// One element of `choices`: nil when it is not JSON; `.some(nil)` when it is not an object with a
        /// `message` object (which makes the whole body no completion).
        static func readChoice(_ reader: inout JSONReader) -> Choice?? {
            guard reader.peek(UInt8(ascii: "{")) else { return reader.skipValue() ? .some(nil) : nil }
            var choice = Choice()
            var hasMessage = false
            let parsed = reader.fields { reader, key in
                switch key {
                case "message":
                    choice.content = nil
                    choice.refusal = nil
                    hasMessage = reader.peek(UInt8(ascii: "{"))
                    guard hasMessage else { return reader.skipValue() }
                    return reader.fields { reader, key in
                        switch key {
                        case "content":
                            guard let value = reader.value() else { return false }
                            choice.content = value.stringValue
                        case "refusal":
                            guard let value = reader.value() else { return false }
                            choice.refusal = value.stringValue
                        default:
                            return reader.skipValue()
                        }
                        return true
                    }
                case "finish_reason":
                    guard let value = reader.value() else { return false }
                    choice.finishReason = value.stringValue
                    return true
                default:
                    return reader.skipValue()
                }
            }
            guard parsed else { return nil }
            return .some(hasMessage ? choice : nil)
        }
    }

    /// The human message of an error body in any of the shapes servers use:
    /// `{"error": {"message": …}}`, `{"error": "…"}`, `{"message": …}`, `{"detail": …}`.
    static func errorMessage(in body: String) -> String? {
        JSONValue.parse(body).flatMap(errorMessage(in:))
    }

    /// The same, from JSON already parsed.
    static func errorMessage(in json: JSONValue) -> String? {
        if let error = json["error"] {
            if let message = error["message"]?.stringValue {
                let type = error["type"]?.stringValue ?? error["code"]?.stringValue
                return type.map { "\(message) (\($0))" } ?? message
            }
            if let message = error.stringValue { return message }
        }
        return json["message"]?.stringValue ?? json["detail"]?.stringValue
    }
}

/// Folds OpenAI-style SSE chunks into a response. An `error` object arriving mid-stream is an
/// error, never answer text; a stream that stops before `finish_reason` or `[DONE]` is truncated.
struct OpenAIStreamAccumulator {
    let backend: String
    let redactor: Redactor
    private(set) var text = ""
    private(set) var model: String?
    private(set) var usage = TokenUsage()
    private(set) var finishReason: String?
    private(set) var isDone = false

    init(backend: String, redactor: Redactor) {
        self.backend = backend
        self.redactor = redactor
    }

    /// Consumes one event; returns the text it adds, if any.
    mutating func consume(_ event: SSEEvent) throws -> String? {
        let data = event.data.trimmingCharacters(in: .whitespaces)
        if data == "[DONE]" {
            isDone = true
            return nil
        }
        if data.isEmpty { return nil }
        // Each chunk is parsed once, by panel's own JSON reader (the hot path of a streamed answer).
        let json = JSONValue.parse(data)
        if event.event == "error" || json?["error"] != nil {
            let message = json.flatMap(OpenAIWire.errorMessage(in:)) ?? data
            let lowered = message.lowercased()
            let kind: BackendError.Kind =
                lowered.contains("rate") ? .rateLimited : lowered.contains("overload") ? .overloaded : .server
            throw BackendError(kind: kind, backend: backend, status: 200, detail: "error in the stream: " + redactor.redact(message))
        }
        guard let json, json.objectValue != nil, Self.isNullOr(json["choices"], \.arrayValue),
            Self.isNullOr(json["usage"], \.objectValue)
        else {
            throw BackendError.invalidResponse(
                backend: backend, status: 200, detail: "a stream event is not a completion chunk", body: redactor.redact(data))
        }
        if let model = json["model"]?.stringValue, !model.isEmpty { self.model = model }
        if let usage = json["usage"], usage.objectValue != nil {
            self.usage = TokenUsage(inputTokens: usage["prompt_tokens"]?.intValue, outputTokens: usage["completion_tokens"]?.intValue)
        }
        var added = ""
        for choice in json["choices"]?.arrayValue ?? [] {
            if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
            let delta = choice["delta"]
            if let refusal = delta?["refusal"]?.stringValue, !refusal.isEmpty {
                throw BackendError(kind: .contentFiltered, backend: backend, status: 200, detail: redactor.redact(refusal))
            }
            if let content = delta?["content"]?.stringValue { added += content }
        }
        text += added
        return added.isEmpty ? nil : added
    }

    /// True when a field is absent, null, or of the kind `read` accepts.
    static func isNullOr<T>(_ value: JSONValue?, _ read: (JSONValue) -> T?) -> Bool {
        guard let value, value != .null else { return true }
        return read(value) != nil
    }

    func finish() throws -> ChatResponse {
        if finishReason == "content_filter" {
            throw BackendError(kind: .contentFiltered, backend: backend, status: 200, detail: "finish_reason content_filter")
        }
        guard isDone || finishReason != nil else {
            throw BackendError.connection(backend: backend, detail: "the stream ended before the answer was complete (truncated)")
        }
        return ChatResponse(text: text, model: model, backend: backend, usage: usage, finishReason: finishReason)
    }
}
