import Foundation
import HTTPTypes
import HummingbirdCore

/// What each field a client sends must be, as the API says it when the field is wrong — one text per
/// field, whether the generated decoder refused the value (a wrong type, a value not in its enum, a
/// missing field) or the operation did (out of range, not a tool of this review).
enum FieldRules {
    /// By operation, then by the field's path (`edits[].text`: any element of `edits`).
    static let rules: [String: [String: String]] = [
        Operations.ListReviews.id: [
            "q": "at most 200 characters", "verdict": "one of ship, skip, split, incomplete",
            "limit": "a whole number from 1 to 100", "cursor": "not a cursor this server gave (use next_cursor from the previous page)",
        ],
        Operations.EditReview.id: [
            "edits": "a non-empty list of {tool, persona, text}", "edits[]": "an object {tool, persona, text}",
            "override": "an object {tool, verdict, note}", "override.verdict": "ship or skip",
            "approve": "true (an approval is not taken back; override instead)",
            "confirm": "true or false (with approve: the contradicted claims were checked)",
        ],
        Operations.SetVoting.id: ["voting": "open or closed"],
        Operations.CreateToken.id: [
            "name": "1-64 letters, digits, '.', '_', '-', '@' or spaces", "role": "viewer, editor or admin",
            "budget_usd": "a number, 0 or more", "display_name": "1-100 characters, no control characters",
        ],
        Operations.PurgeVotes.id: [
            "network": "a network hash", "since": "an ISO 8601 time (2026-12-01T00:00:00Z)",
            "until": "an ISO 8601 time (2026-12-01T00:00:00Z)",
        ],
    ]

    /// The query parameters of an operation that the generated decoder can refuse (the others are text), and
    /// whether it takes a value: its error does not say which parameter it could not read.
    static let queryValues: [String: [(name: String, takes: @Sendable (String) -> Bool)]] = [
        Operations.ListReviews.id: [
            ("limit", { Int($0) != nil }), ("verdict", { Components.Schemas.PanelVerdict(rawValue: $0) != nil }),
        ]
    ]

    /// `field: rule` for a field of `operation`.
    static func refusal(_ operation: String, _ field: String) -> APIError {
        APIError.badRequest("\(field): \(rules[operation]?[field] ?? "not a valid value")")
    }

    /// The message for a body or parameter the generated decoder could not read.
    static func message(_ error: DecodingError, operation: String, request: HTTPRequest) -> String {
        let rules = self.rules[operation] ?? [:]
        if request.method == .get || request.method == .delete {
            // No body: a query parameter it could not read.
            let given = URI(request.path ?? "").queryParameters
            let refused = (queryValues[operation] ?? []).first { rule in
                given[Substring(rule.name)].map { rule.takes(String($0)) } == false
            }
            if let refused { return "\(refused.name): \(rules[refused.name] ?? "not a valid value")" }
            return "a query parameter is not one this operation takes"
        }
        func rule(_ path: [any CodingKey], otherwise: String) -> String {
            let (shown, key) = names(path)
            return "\(shown): \(rules[key] ?? otherwise)"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let (shown, field) = names(context.codingPath + [key])
            return "\(shown): required" + (rules[field].map { " — \($0)" } ?? "")
        case .typeMismatch(let type, let context):
            return rule(context.codingPath, otherwise: "must be \(expected(type))")
        case .valueNotFound(let type, let context):
            return rule(context.codingPath, otherwise: "must be \(expected(type)), not null")
        case .dataCorrupted(let context):
            if context.debugDescription.hasPrefix("Additional properties"), let key = context.codingPath.last {
                let (container, _) = names(context.codingPath.dropLast())
                return (container.isEmpty ? "" : "\(container): ") + "unknown field(s) \(key.stringValue)"
            }
            if context.codingPath.isEmpty {
                let detail = (context.underlyingError as? any CustomStringConvertible).map { " (\($0.description.prefix(200)))" } ?? ""
                return "the body is not valid JSON\(detail)"
            }
            return rule(context.codingPath, otherwise: "not a valid value")
        @unknown default:
            return "the body or a parameter is not what this operation takes"
        }
    }

    /// A coding path as shown (`edits[0].text`) and as the rules key it (`edits[].text`).
    static func names(_ path: some Collection<any CodingKey>) -> (shown: String, key: String) {
        var shown = ""
        var key = ""
        for part in path {
            if let index = part.intValue, part.stringValue.hasPrefix("Index ") || part.stringValue == String(index) {
                shown += "[\(index)]"
                key += "[]"
            } else {
                let separator = shown.isEmpty ? "" : "."
                shown += separator + part.stringValue
                key += separator + part.stringValue
            }
        }
        return (shown, key)
    }

    static func expected(_ type: Any.Type) -> String {
        switch "\(type)" {
        case let name where name.contains("String"): "text"
        case let name where name.contains("Int"): "a whole number"
        case let name where name.contains("Double"): "a number"
        case let name where name.contains("Bool"): "true or false"
        case let name where name.contains("Array"): "a list"
        case let name where name.contains("Dictionary"): "an object"
        default: "another kind of value"
        }
    }
}
