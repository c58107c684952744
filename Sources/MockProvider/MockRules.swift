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
}
