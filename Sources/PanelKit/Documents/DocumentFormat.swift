public import Foundation
import ModelBackends

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
    /// By the project's writer, field by field (``ReviewDocument/write(to:)``): the same text as
    /// `JSONEncoder` with `.prettyPrinted, .sortedKeys, .withoutEscapingSlashes` (a test holds them equal),
    /// without its per-value dynamic casts or a tree of nodes to sort.
    public static func render(_ document: ReviewDocument) -> String {
        var writer = JSONTextWriter()
        guard (try? document.write(to: &writer)) != nil else { return "{}\n" }
        return writer.finishedText()
    }

    /// Reads a v1 document back, rejecting other schema versions with a clear message.
    /// Documents are read with Foundation's `JSONDecoder` alone (the schema first, then the whole): they
    /// are Codable types with nested optionals, read once per file, where its error paths name the field.
    public static func decode(_ data: Data, source: String) throws -> ReviewDocument {
        struct Header: Decodable { var schema: JSONValue? }
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(Header.self, from: data) else { throw DocumentError("\(source): not a JSON object") }
        guard let schema = header.schema?.stringValue else {
            throw DocumentError("\(source): no 'schema' field; expected \(ReviewDocument.schemaVersion)")
        }
        guard schema == ReviewDocument.schemaVersion else {
            throw DocumentError("\(source): schema '\(schema)' is not supported; this panel reads \(ReviewDocument.schemaVersion)")
        }
        do {
            let document = try decoder.decode(ReviewDocument.self, from: data)
            try validate(document, source: source)
            return document
        } catch let error as DocumentError {
            throw error
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

extension JSONDocumentRenderer {
    /// The ranges a v1 document's numbers keep: a document from elsewhere saying otherwise is refused
    /// with the field's path, rather than rendered as nonsense (a score of -5, a share of 1e308).
    static func validate(_ document: ReviewDocument, source: String) throws {
        func fail(_ path: String, _ problem: String) -> DocumentError { DocumentError("\(source): field '\(path)': \(problem)") }
        func count(_ value: Int?, _ path: String) throws {
            if let value, value < 0 { throw fail(path, "must be 0 or more, found \(value)") }
        }
        func amount(_ value: Double?, _ path: String) throws {
            if let value, !(value.isFinite && value >= 0) { throw fail(path, "must be a finite number, 0 or more") }
        }
        for (t, tool) in document.tools.enumerated() {
            let panel = tool.panel
            let at = "tools.\(t).panel"
            for (name, value) in [("ship", panel.ship), ("skip", panel.skip), ("abstained", panel.abstained)] {
                try count(value, "\(at).\(name)")
            }
            if let share = panel.shipShare, !(0...1).contains(share) { throw fail("\(at).ship_share", "must be from 0 to 1") }
            if let median = panel.scoreMedian, !(0...100).contains(median) { throw fail("\(at).score_median", "must be from 0 to 100") }
            for (name, value) in [("score_min", panel.scoreMin), ("score_max", panel.scoreMax)] {
                if let value, !(0...100).contains(value) { throw fail("\(at).\(name)", "must be from 0 to 100") }
            }
            for (r, review) in tool.reviews.enumerated() {
                let at = "tools.\(t).reviews.\(r)"
                if let score = review.score, !(0...100).contains(score) {
                    throw fail("\(at).score", "must be from 0 to 100, found \(score)")
                }
                try count(review.attempts, "\(at).attempts")
                try count(review.latencyMS, "\(at).latency_ms")
                try count(review.ttftMS, "\(at).ttft_ms")
                try count(review.inputTokens, "\(at).input_tokens")
                try count(review.outputTokens, "\(at).output_tokens")
                try amount(review.costUSD, "\(at).cost_usd")
            }
        }
        let totals = document.totals
        try count(totals.calls, "totals.calls")
        try count(totals.wallMS, "totals.wall_ms")
        try count(totals.inputTokens, "totals.input_tokens")
        try count(totals.outputTokens, "totals.output_tokens")
        try amount(totals.costUSD, "totals.cost_usd")
    }
}

public struct DocumentError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
