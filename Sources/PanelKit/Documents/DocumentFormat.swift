public import Foundation

/// The formats a document can be written in.
public enum DocumentFormat: String, Sendable, CaseIterable {
    case markdown, html, json

    public func render(_ document: ReviewDocument, templates: DocumentTemplates = .builtIn()) -> String {
        switch self {
        case .markdown: return templates.renderMarkdown(document)
        case .html: return templates.renderHTML(document)
        case .json: return JSONDocumentRenderer.render(document)
        }
    }
}

/// Writes the v1 JSON contract: pretty-printed, keys sorted (stable output for diffs), a trailing newline.
public enum JSONDocumentRenderer {
    public static func render(_ document: ReviewDocument) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(document) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Reads a v1 document back, rejecting other schema versions with a clear message.
    public static func decode(_ data: Data, source: String) throws -> ReviewDocument {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw DocumentError("\(source): not a JSON object")
        }
        guard let schema = json["schema"] as? String else {
            throw DocumentError("\(source): no 'schema' field; expected \(ReviewDocument.schemaVersion)")
        }
        guard schema == ReviewDocument.schemaVersion else {
            throw DocumentError("\(source): schema '\(schema)' is not supported; this panel reads \(ReviewDocument.schemaVersion)")
        }
        do {
            return try JSONDecoder().decode(ReviewDocument.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw DocumentError("\(source): missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw DocumentError("\(source): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            throw DocumentError(
                "\(source): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)")
        }
    }
}

public struct DocumentError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
