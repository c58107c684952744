import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// What each real API refuses, and how it says so: the strict mock answers a malformed request as the
/// provider would — missing required fields and headers, wrong types, unknown top-level parameters where
/// the API is strict, a bad key with that provider's status — in that provider's error shape. A request
/// shape panel gets wrong fails its tests here, not in front of a real provider.
struct MockRules {
    let format: ChatCompletions.Format
    let payload: [String: Any]
    let request: Request

    /// The provider's error for this request, or nil when it is well formed.
    func violation() -> (status: HTTPResponse.Status, body: String)? {
        switch format {
        case .openai: return openAI()
        case .anthropic: return anthropic()
        case .gemini: return gemini()
        case .ollama: return ollama()
        }
    }

    // MARK: types

    static func isBool(_ value: Any?) -> Bool {
        guard let value else { return false }
        return value is Bool && String(describing: type(of: value)).contains("Bool")
    }

    static func isNumber(_ value: Any?) -> Bool {
        guard let value, !isBool(value) else { return false }
        return value is NSNumber || value is Int || value is Double
    }

    static func isInteger(_ value: Any?) -> Bool {
        guard isNumber(value), let number = value as? Double else { return false }
        return number == number.rounded() && abs(number) < 1e15
    }

    static func typeName(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return "null"
        case let value? where isBool(value): return "boolean"
        case let value? where isNumber(value): return "number"
        case is String: return "string"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        default: return "unknown"
        }
    }

    // MARK: OpenAI (and Azure, and every server that copies the format)

    static let openAIParameters: Set<String> = [
        "model", "messages", "temperature", "top_p", "n", "stream", "stream_options", "stop", "max_tokens", "max_completion_tokens",
        "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "response_format", "seed", "tools",
        "tool_choice", "parallel_tool_calls", "service_tier", "store", "metadata", "reasoning_effort", "modalities", "prediction",
        "audio", "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier", "functions", "function_call",
    ]

    func openAIError(_ message: String, param: String?, code: String? = nil) -> (HTTPResponse.Status, String) {
        var error: [String: Any] = ["message": message, "type": "invalid_request_error", "param": param ?? NSNull()]
        error["code"] = code ?? NSNull()
        return (.badRequest, MockJSON.text(["error": error]))
    }

    func openAI() -> (HTTPResponse.Status, String)? {
        let path = request.uri.path
        if path.hasPrefix("/openai/deployments/"), request.uri.queryParameters.get("api-version") == nil {
            return (
                .notFound,
                MockJSON.text(["error": ["code": "404", "message": "Resource not found (the api-version query parameter is required)"]])
            )
        }
        for key in payload.keys.sorted() where !Self.openAIParameters.contains(key) {
            return openAIError("Unrecognized request argument supplied: \(key)", param: key)
        }
        // On a deployment URL the deployment names the model; everywhere else `model` is required.
        if !path.hasPrefix("/openai/deployments/") {
            guard let model = payload["model"] as? String, !model.isEmpty else {
                return openAIError("you must provide a model parameter", param: "model")
            }
        }
        guard let messages = payload["messages"] as? [[String: Any]], !messages.isEmpty else {
            return openAIError("'messages' is a required property and must be a non-empty array", param: "messages")
        }
        for (index, message) in messages.enumerated() {
            guard let role = message["role"] as? String, ["system", "developer", "user", "assistant", "tool"].contains(role) else {
                return openAIError("Invalid value for 'messages[\(index)].role'.", param: "messages[\(index)].role", code: "invalid_value")
            }
            guard message["content"] is String || message["content"] is [Any] else {
                return openAIError(
                    "Invalid type for 'messages[\(index)].content': expected a string or an array, but got \(Self.typeName(message["content"])) instead.",
                    param: "messages[\(index)].content", code: "invalid_type")
            }
        }
        for key in ["max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs"] where payload[key] != nil {
            guard Self.isInteger(payload[key]) else {
                return openAIError(
                    "Invalid type for '\(key)': expected an integer, but got \(Self.typeName(payload[key])) instead.", param: key,
                    code: "invalid_type")
            }
        }
        if payload["max_tokens"] != nil, payload["max_completion_tokens"] != nil {
            return openAIError("max_tokens and max_completion_tokens cannot both be set", param: "max_tokens")
        }
        for (key, range) in [
            ("temperature", 0.0...2.0), ("top_p", 0.0...1.0), ("presence_penalty", -2.0...2.0), ("frequency_penalty", -2.0...2.0),
        ]
        where payload[key] != nil {
            guard Self.isNumber(payload[key]), let value = payload[key] as? Double else {
                return openAIError(
                    "Invalid type for '\(key)': expected a decimal, but got \(Self.typeName(payload[key])) instead.", param: key,
                    code: "invalid_type")
            }
            guard range.contains(value) else {
                return openAIError(
                    "Invalid '\(key)': decimal above maximum value. Expected a value <= \(range.upperBound), but got \(value) instead.",
                    param: key, code: "decimal_above_max_value")
            }
        }
        for key in ["stream", "logprobs", "parallel_tool_calls", "store"] where payload[key] != nil && !Self.isBool(payload[key]) {
            return openAIError(
                "Invalid type for '\(key)': expected a boolean, but got \(Self.typeName(payload[key])) instead.", param: key,
                code: "invalid_type")
        }
        if payload["stream_options"] != nil {
            guard payload["stream"] as? Bool == true, Self.isBool(payload["stream"]) else {
                return openAIError("The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: "stream_options")
            }
            guard let options = payload["stream_options"] as? [String: Any],
                options["include_usage"] == nil || Self.isBool(options["include_usage"])
            else {
                return openAIError("Invalid type for 'stream_options'.", param: "stream_options", code: "invalid_type")
            }
        }
        if let format = payload["response_format"] {
            guard let format = format as? [String: Any], let type = format["type"] as? String else {
                return openAIError("Missing required parameter: 'response_format.type'.", param: "response_format.type")
            }
            switch type {
            case "text", "json_object": break
            case "json_schema":
                guard let schema = format["json_schema"] as? [String: Any] else {
                    return openAIError("Missing required parameter: 'response_format.json_schema'.", param: "response_format.json_schema")
                }
                guard let name = schema["name"] as? String, !name.isEmpty, name.count <= 64,
                    name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
                else {
                    return openAIError(
                        "Invalid 'response_format.json_schema.name': string does not match pattern '^[a-zA-Z0-9_-]+$'.",
                        param: "response_format.json_schema.name", code: "invalid_value")
                }
                if schema["schema"] != nil, !(schema["schema"] is [String: Any]) {
                    return openAIError(
                        "Invalid type for 'response_format.json_schema.schema': expected an object.",
                        param: "response_format.json_schema.schema",
                        code: "invalid_type")
                }
                if schema["strict"] != nil, !Self.isBool(schema["strict"]) {
                    return openAIError(
                        "Invalid type for 'response_format.json_schema.strict'.", param: "response_format.json_schema.strict")
                }
            default:
                return openAIError(
                    "Invalid value: '\(type)'. Supported values are: 'text', 'json_object', and 'json_schema'.",
                    param: "response_format.type",
                    code: "invalid_value")
            }
        }
        return nil
    }

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
