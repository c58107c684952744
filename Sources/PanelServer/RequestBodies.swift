import Foundation
import Hummingbird
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit

/// Reading request bodies: the size limit, JSON objects, and listings given the ways the CLI takes
/// them — with the same file/field messages.
enum RequestBodies {
    /// The body as UTF-8 text, refused past the context's limit (413) or when it is not UTF-8 (400).
    static func text(_ request: Request, context: ServerContext) async throws -> String {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw APIError.tooLarge(context.maxUploadSize)
        }
        let bytes = buffer.readableBytesView
        guard let text = String(validating: bytes, as: UTF8.self) else { throw APIError.badRequest("the body is not UTF-8 text") }
        return text
    }

    /// Refuses the keys of a JSON object body that `allowed` does not name, naming them.
    static func check(_ object: [String: JSONValue], allowed: Set<String>) throws(APIError) {
        let unknown = Set(object.keys).subtracting(allowed).sorted()
        if !unknown.isEmpty {
            throw .badRequest(
                "unknown field(s) \(unknown.joined(separator: ", ")); the body may have \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// The listings of a review request: `{"listings": [{…}, …]}`, one listing as a JSON object, or one
    /// listing file's text (YAML, or Markdown with front matter).
    static func listings(_ text: String, limit: Int) throws(APIError) -> [Listing] {
        let trimmed = text.drop { $0.isWhitespace || $0 == "\u{FEFF}" }
        if trimmed.isEmpty {
            throw .badRequest("the body is empty; send {\"listings\": [{\"name\": …, \"description\": …}]} or a listing file")
        }
        var listings: [Listing] = []
        if trimmed.first == "{" {
            guard case .success(let value) = JSONValue.parseStrictly(text), let object = value.objectValue else {
                return try [parse(text, source: "body")]
            }
            guard let list = object["listings"] else { return [try listing(object, source: "body")] }
            guard let array = list.arrayValue, !array.isEmpty else {
                throw .badRequest("body: field 'listings': must be a non-empty list of listing objects")
            }
            let extra = Set(object.keys).subtracting(["listings"]).sorted()
            if !extra.isEmpty { throw .badRequest("unknown field(s) \(extra.joined(separator: ", ")) beside 'listings'") }
            for (index, item) in array.enumerated() {
                guard let fields = item.objectValue else {
                    throw .badRequest("listings[\(index)]: must be a JSON object with the listing's fields")
                }
                listings.append(try listing(fields, source: "listings[\(index)]"))
            }
        } else {
            listings = [try parse(text, source: "body")]
        }
        guard listings.count <= limit else {
            throw .badRequest("\(listings.count) listings: a review compares at most \(limit); use POST /v1/batches for more")
        }
        return listings
    }

    /// A listing of a request's `listings`, read from the body's parse (not written out and parsed again).
    static func listing(_ fields: [String: JSONValue], source: String) throws(APIError) -> Listing {
        let size = fields.reduce(0) { $0 + $1.key.utf8.count + ($1.value.stringValue?.utf8.count ?? 0) }
        guard size <= ListingLoader.maxBytes else { throw tooLong(source) }
        do {
            return try ListingLoader.listing(fromJSON: fields, source: source)
        } catch {
            throw .badRequest(error.description)
        }
    }

    static func parse(_ text: String, source: String) throws(APIError) -> Listing {
        guard text.utf8.count <= ListingLoader.maxBytes else { throw tooLong(source) }
        do {
            return try ListingLoader.parse(text, source: source)
        } catch {
            throw .badRequest(error.description)
        }
    }

    static func tooLong(_ source: String) -> APIError {
        .badRequest("\(source): is larger than \(ListingLoader.maxBytes / 1024) KiB; a listing is a page of text")
    }

    /// The rows of a batch: `{"listings": [...]}` (with optional `name` and `budget_usd`) or JSON Lines.
    /// A row that is not a valid listing is kept as a failed row, as `panel batch` does.
    static func batch(_ text: String) throws(APIError) -> (rows: [BatchRow], name: String?, budgetUSD: Double?) {
        let trimmed = text.drop { $0.isWhitespace || $0 == "\u{FEFF}" }
        if trimmed.isEmpty { throw .badRequest("the body is empty; send {\"listings\": [...]} or JSON Lines, one listing per line") }
        if case .success(let value) = JSONValue.parseStrictly(text), let object = value.objectValue, object["listings"] != nil {
            try check(object, allowed: ["listings", "name", "budget_usd"])
            guard let array = object["listings"]?.arrayValue, !array.isEmpty else {
                throw .badRequest("body: field 'listings': must be a non-empty list of listing objects")
            }
            var name: String?
            if let value = object["name"], value != .null {
                guard let text = value.stringValue else { throw .badRequest("body: field 'name': must be text") }
                name = text
            }
            var budget: Double?
            if let value = object["budget_usd"], value != .null {
                guard let number = value.numberValue, number.isFinite, number >= 0 else {
                    throw .badRequest("body: field 'budget_usd': must be a number, 0 or more")
                }
                budget = number
            }
            let rows = array.enumerated().map { index, item in
                let key = "listings[\(index)]"
                guard let fields = item.objectValue else {
                    return BatchRow(
                        key: key, listing: .failure(ListingError(file: key, problem: "must be a JSON object with the listing's fields")))
                }
                return BatchRow(
                    key: key, listing: Result { () throws(ListingError) in try ListingLoader.listing(fromJSON: fields, source: key) })
            }
            return (rows, name, budget)
        }
        var rows: [BatchRow] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(line)
            if line.allSatisfy(\.isWhitespace) { continue }
            let key = "line \(number + 1)"
            rows.append(BatchRow(key: key, listing: Result { () throws(ListingError) in try ListingLoader.parseJSON(line, source: key) }))
        }
        return (rows, nil, nil)
    }
}
