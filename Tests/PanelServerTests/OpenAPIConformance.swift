import Foundation
import HTTPTypes
import HummingbirdTesting
import ModelBackends
import NIOCore
import Yams

/// The repository's `openapi.yaml`, read as JSON values, and a check of responses against it: the
/// status is one the operation declares, the content type is one it declares for that status, and a
/// JSON body matches the schema (`$ref`, `type` — one or several —, `enum`, `const`, `required`,
/// `properties`, `additionalProperties`, `items`, `allOf`, `oneOf`, `minimum`).
struct OpenAPIDocument {
    let root: JSONValue

    static let repository: OpenAPIDocument = {
        let text = (try? String(contentsOf: repositoryRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)) ?? ""
        return OpenAPIDocument(root: convert((try? Yams.load(yaml: text)) ?? [:]))
    }()

    static func convert(_ value: Any?) -> JSONValue {
        switch value {
        case let value as [String: Any]: return .object(value.mapValues(convert))
        case let value as [Any]: return .array(value.map(convert))
        case let value as Bool: return .bool(value)
        case let value as Int: return .int(value)
        case let value as Double: return .double(value)
        case let value as String: return .string(value)
        default: return .null
        }
    }

    /// Every operation: path template, method (lowercase), and the operation object.
    var operations: [(path: String, method: String, operation: [String: JSONValue])] {
        var result: [(String, String, [String: JSONValue])] = []
        for (path, item) in root["paths"]?.objectValue ?? [:] {
            for method in ["get", "post", "patch", "put", "delete"] {
                if let operation = item[method]?.objectValue { result.append((path, method, operation)) }
            }
        }
        return result.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    func operation(_ path: String, _ method: String) -> [String: JSONValue]? {
        root["paths"]?[path]?[method]?.objectValue
    }

    func resolve(_ value: JSONValue) -> JSONValue {
        guard let reference = value["$ref"]?.stringValue, reference.hasPrefix("#/") else { return value }
        var current = root
        for part in reference.dropFirst(2).split(separator: "/") { current = current[String(part)] ?? .null }
        return resolve(current)
    }

    /// What is wrong with a response to `method path` (empty: it conforms).
    func problems(_ response: TestResponse, path: String, method: String) -> [String] {
        guard let operation = operation(path, method) else { return ["\(method) \(path) is not in openapi.yaml"] }
        let status = String(response.status.code)
        guard let declared = operation["responses"]?[status] else { return ["\(method) \(path): status \(status) is not declared"] }
        let answer = resolve(declared)
        guard let content = answer["content"]?.objectValue else { return [] }
        let type =
            (response.headers[.contentType] ?? "").split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        guard let media = content[type] else {
            return [
                "\(method) \(path) \(status): content type '\(type)' is not declared (\(content.keys.sorted().joined(separator: ", ")))"
            ]
        }
        guard type == "application/json", let schema = media["schema"] else { return [] }
        guard let body = JSONValue.parse(String(buffer: response.body)) else {
            return ["\(method) \(path) \(status): the body is not JSON"]
        }
        return validate(body, schema, at: "body").map { "\(method) \(path) \(status): \($0)" }
    }

    func validate(_ value: JSONValue, _ schema: JSONValue, at path: String) -> [String] {
        let schema = resolve(schema)
        var problems: [String] = []
        if let parts = schema["allOf"]?.arrayValue {
            for part in parts { problems += validate(value, part, at: path) }
        }
        if let options = schema["oneOf"]?.arrayValue {
            let matching = options.filter { validate(value, $0, at: path).isEmpty }.count
            if matching != 1 { problems.append("\(path): matches \(matching) of oneOf's \(options.count) schemas") }
        }
        if let expected = schema["const"], !same(value, expected) { problems.append("\(path): must be \(expected.canonicalText())") }
        if let options = schema["enum"]?.arrayValue, !options.contains(where: { same(value, $0) }) {
            problems.append("\(path): \(value.canonicalText()) is not one of \(JSONValue.array(options).canonicalText())")
        }
        if let type = schema["type"] {
            let types = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !types.contains(where: { matches(value, $0) }) {
                problems.append("\(path): \(value.canonicalText().prefix(60)) is not of type \(types.joined(separator: "|"))")
                return problems
            }
        }
        if let minimum = schema["minimum"]?.numberValue, let number = value.numberValue, number < minimum {
            problems.append("\(path): \(number) is below \(minimum)")
        }
        if let object = value.objectValue {
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
                problems.append("\(path): '\(key)' is required")
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, item) in object {
                if let property = properties[key] {
                    problems += validate(item, property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) {
                        problems.append("\(path): '\(key)' is not allowed")
                    } else if additional.objectValue != nil {
                        problems += validate(item, additional, at: "\(path).\(key)")
                    }
                }
            }
        }
        if let array = value.arrayValue, let items = schema["items"] {
            for (index, item) in array.enumerated() { problems += validate(item, items, at: "\(path)[\(index)]") }
        }
        return problems
    }

    func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("object", .object), ("array", .array): return true
        case ("integer", .int): return true
        case ("integer", .double(let number)): return number == number.rounded()
        case ("number", .int), ("number", .double): return true
        default: return false
        }
    }

    func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.numberValue, let y = b.numberValue { return x == y }
        return a == b
    }
}
