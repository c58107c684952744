import Foundation
import HTTPTypes
import Hummingbird

/// What Anthropic's, Gemini's and Ollama's APIs refuse, and in which shape they say so (OpenAI's, which
/// Azure and most servers copy, is in MockRules.swift).
extension MockRules {
    // MARK: Anthropic

    /// `MessageCreateParams` as anthropic SDK 2.14 declares it: no sampling parameters any more.
    static let anthropicParameters: Set<String> = [
        "model", "messages", "max_tokens", "system", "stop_sequences", "stream", "metadata", "tools", "tool_choice", "thinking",
        "service_tier", "container", "output_config", "cache_control", "inference_geo", "speed", "user_profile_id", "workspace_id",
        "diagnostics",
    ]

    static func anthropicError(_ type: String, _ message: String) -> String {
        MockJSON.text(["type": "error", "error": ["type": type, "message": message]])
    }

    func anthropic() -> (HTTPResponse.Status, String)? {
        guard let version = request.headers[HTTPField.Name("anthropic-version")!], !version.isEmpty else {
            return (.badRequest, Self.anthropicError("invalid_request_error", "anthropic-version: header is required"))
        }
        for key in payload.keys.sorted() where !Self.anthropicParameters.contains(key) {
            return (.badRequest, Self.anthropicError("invalid_request_error", "\(key): Extra inputs are not permitted"))
        }
        guard let model = payload["model"] as? String, !model.isEmpty else {
            return (.badRequest, Self.anthropicError("invalid_request_error", "model: Field required"))
        }
        guard payload["max_tokens"] != nil else {
            return (.badRequest, Self.anthropicError("invalid_request_error", "max_tokens: Field required"))
        }
        guard Self.isInteger(payload["max_tokens"]), let maxTokens = payload["max_tokens"] as? Int, maxTokens >= 1 else {
            return (.badRequest, Self.anthropicError("invalid_request_error", "max_tokens: Input should be a valid integer greater than 0"))
        }
        guard let messages = payload["messages"] as? [[String: Any]], !messages.isEmpty else {
            return (.badRequest, Self.anthropicError("invalid_request_error", "messages: Field required (at least one message)"))
        }
        for (index, message) in messages.enumerated() {
            guard let role = message["role"] as? String, role == "user" || role == "assistant" else {
                return (
                    .badRequest,
                    Self.anthropicError(
                        "invalid_request_error",
                        "messages.\(index).role: Input should be 'user' or 'assistant' (the system prompt goes in the top-level system field)"
                    )
                )
            }
            guard message["content"] is String || message["content"] is [Any] else {
                return (
                    .badRequest, Self.anthropicError("invalid_request_error", "messages.\(index).content: Input should be a valid list")
                )
            }
        }
        if let system = payload["system"], !(system is String || system is [Any]) {
            return (.badRequest, Self.anthropicError("invalid_request_error", "system: Input should be a valid string"))
        }
        if payload["stream"] != nil, !Self.isBool(payload["stream"]) {
            return (.badRequest, Self.anthropicError("invalid_request_error", "stream: Input should be a valid boolean"))
        }
        var toolNames: [String] = []
        if let tools = payload["tools"] {
            guard let tools = tools as? [[String: Any]] else {
                return (.badRequest, Self.anthropicError("invalid_request_error", "tools: Input should be a valid list"))
            }
            for (index, tool) in tools.enumerated() {
                guard let name = tool["name"] as? String, !name.isEmpty else {
                    return (.badRequest, Self.anthropicError("invalid_request_error", "tools.\(index).name: Field required"))
                }
                guard let schema = tool["input_schema"] as? [String: Any], schema["type"] as? String == "object" else {
                    return (
                        .badRequest,
                        Self.anthropicError("invalid_request_error", "tools.\(index).input_schema: Input should be an object schema")
                    )
                }
                toolNames.append(name)
            }
        }
        if let choice = payload["tool_choice"] {
            guard let choice = choice as? [String: Any], let type = choice["type"] as? String,
                ["auto", "any", "tool", "none"].contains(type)
            else {
                return (
                    .badRequest,
                    Self.anthropicError("invalid_request_error", "tool_choice: Input tag does not match 'auto', 'any', 'tool', 'none'")
                )
            }
            if type == "tool" {
                guard let name = choice["name"] as? String, toolNames.contains(name) else {
                    return (
                        .badRequest, Self.anthropicError("invalid_request_error", "tool_choice.name: a tool of that name must be in tools")
                    )
                }
            }
        }
        return nil
    }

    /// The tool a request forces (`tool_choice: {type: tool, name}`), echoed in the answer.
    var forcedTool: String? {
        guard let choice = payload["tool_choice"] as? [String: Any], choice["type"] as? String == "tool" else {
            return (payload["tools"] as? [[String: Any]])?.first?["name"] as? String
        }
        return choice["name"] as? String
    }

    // MARK: Gemini

    /// Top-level and `generationConfig` fields, in both spellings proto JSON accepts.
    static let geminiParameters: Set<String> = [
        "contents", "systemInstruction", "system_instruction", "generationConfig", "generation_config", "safetySettings",
        "safety_settings", "tools", "toolConfig", "tool_config", "cachedContent", "cached_content", "labels",
    ]
    static let geminiGenerationFields: Set<String> = [
        "temperature", "topP", "top_p", "topK", "top_k", "maxOutputTokens", "max_output_tokens", "candidateCount", "candidate_count",
        "stopSequences", "stop_sequences", "responseMimeType", "response_mime_type", "responseSchema", "response_schema",
        "responseJsonSchema", "response_json_schema", "seed", "presencePenalty", "presence_penalty", "frequencyPenalty",
        "frequency_penalty", "responseLogprobs", "response_logprobs", "logprobs", "thinkingConfig", "thinking_config",
        "responseModalities", "response_modalities", "mediaResolution", "media_resolution",
    ]
    static let geminiTypes: Set<String> = ["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"]

    static func geminiError(_ code: Int, _ status: String, _ message: String, details: [[String: Any]] = []) -> String {
        var error: [String: Any] = ["code": code, "message": message, "status": status]
        if !details.isEmpty { error["details"] = details }
        return MockJSON.text(["error": error])
    }

    static func invalidArgument(_ message: String) -> (HTTPResponse.Status, String) {
        (.badRequest, geminiError(400, "INVALID_ARGUMENT", message))
    }

    func gemini() -> (HTTPResponse.Status, String)? {
        for key in payload.keys.sorted() where !Self.geminiParameters.contains(key) {
            return Self.invalidArgument("Invalid JSON payload received. Unknown name \"\(key)\": Cannot find field.")
        }
        guard let contents = payload["contents"] as? [[String: Any]], !contents.isEmpty else {
            return Self.invalidArgument("* GenerateContentRequest.contents: contents is not specified")
        }
        for (index, content) in contents.enumerated() {
            if let role = content["role"], !(role is String && ["user", "model"].contains(role as? String ?? "")) {
                return Self.invalidArgument("Please use a valid role: user, model. (contents[\(index)].role)")
            }
            guard let parts = content["parts"] as? [[String: Any]], !parts.isEmpty else {
                return Self.invalidArgument("* GenerateContentRequest.contents[\(index)].parts: contents.parts must not be empty.")
            }
        }
        if let system = payload["systemInstruction"] ?? payload["system_instruction"], !(system is [String: Any]) {
            return Self.invalidArgument(
                "Invalid value at 'system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1.Content)")
        }
        if let config = payload["generationConfig"] ?? payload["generation_config"] {
            guard let config = config as? [String: Any] else {
                return Self.invalidArgument("Invalid value at 'generation_config': expected an object")
            }
            for key in config.keys.sorted() where !Self.geminiGenerationFields.contains(key) {
                return Self.invalidArgument(
                    "Invalid JSON payload received. Unknown name \"\(key)\" at 'generation_config': Cannot find field.")
            }
            for key in ["maxOutputTokens", "max_output_tokens", "candidateCount", "topK", "seed"] where config[key] != nil {
                guard Self.isInteger(config[key]) else {
                    return Self.invalidArgument("Invalid value at 'generation_config.\(key)' (TYPE_INT32), \(Self.typeName(config[key]))")
                }
            }
            for key in ["temperature", "topP"] where config[key] != nil && !Self.isNumber(config[key]) {
                return Self.invalidArgument("Invalid value at 'generation_config.\(key)' (TYPE_FLOAT), \(Self.typeName(config[key]))")
            }
            if let schema = config["responseSchema"] ?? config["response_schema"],
                let problem = Self.schemaProblem(schema, path: "response_schema")
            {
                return Self.invalidArgument(problem)
            }
            if config["responseSchema"] ?? config["response_schema"] != nil,
                (config["responseMimeType"] ?? config["response_mime_type"]) as? String != "application/json"
            {
                return Self.invalidArgument("response_mime_type must be application/json when response_schema is set")
            }
        }
        return nil
    }

    /// Gemini's OpenAPI-subset schema: a known `type` (any case), objects' `properties`, arrays' `items`.
    static func schemaProblem(_ value: Any, path: String) -> String? {
        guard let schema = value as? [String: Any] else { return "Invalid value at 'generation_config.\(path)': expected an object" }
        guard let type = schema["type"] as? String, geminiTypes.contains(type.uppercased()) else {
            return
                "Invalid value at 'generation_config.\(path).type' (type.googleapis.com/google.ai.generativelanguage.v1.Type), \"\(schema["type"] ?? "")\""
        }
        if schema["additionalProperties"] != nil || schema["additional_properties"] != nil, type.uppercased() != "OBJECT" {
            return "Invalid JSON payload received. Unknown name \"additionalProperties\" at 'generation_config.\(path)': Cannot find field."
        }
        for (name, property) in (schema["properties"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let problem = schemaProblem(property, path: "\(path).properties[\(name)].value") { return problem }
        }
        if let items = schema["items"], let problem = schemaProblem(items, path: "\(path).items") { return problem }
        return nil
    }

    // MARK: Ollama

    func ollama() -> (HTTPResponse.Status, String)? {
        // Ollama's Go decoder ignores unknown fields; it refuses a missing model and wrong types.
        guard let model = payload["model"] as? String, !model.isEmpty else {
            return (.badRequest, MockJSON.text(["error": "model is required"]))
        }
        guard let messages = payload["messages"] as? [[String: Any]] else {
            return (
                .badRequest,
                MockJSON.text([
                    "error":
                        "json: cannot unmarshal \(Self.typeName(payload["messages"])) into Go struct field ChatRequest.messages of type []api.Message"
                ])
            )
        }
        for message in messages where !(message["content"] is String) || !(message["role"] is String) {
            return (
                .badRequest, MockJSON.text(["error": "json: cannot unmarshal into Go struct field Message.messages.content of type string"])
            )
        }
        if payload["stream"] != nil, !Self.isBool(payload["stream"]) {
            return (
                .badRequest,
                MockJSON.text([
                    "error":
                        "json: cannot unmarshal \(Self.typeName(payload["stream"])) into Go struct field ChatRequest.stream of type bool"
                ])
            )
        }
        if let options = payload["options"], !(options is [String: Any]) {
            return (
                .badRequest,
                MockJSON.text(["error": "json: cannot unmarshal into Go struct field ChatRequest.options of type map[string]interface {}"])
            )
        }
        if let format = payload["format"], !(format is String || format is [String: Any]) {
            return (.badRequest, MockJSON.text(["error": "invalid format: expected \"json\" or a JSON schema"]))
        }
        return nil
    }
}
