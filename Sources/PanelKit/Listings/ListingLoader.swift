public import Foundation
public import ModelBackends
import Yams

/// Reads listings from YAML (`.yaml`/`.yml`), Markdown with YAML front matter (`.md`/`.markdown`;
/// the body is the description) and JSON (`.json`).
///
/// YAML scalars are taken as the text written, so `name: 2048` is the name "2048" and
/// `entry: no` is "no"; a list or mapping where text belongs is an error.
public enum ListingLoader {
    public static let fileExtensions = ["yaml", "yml", "md", "markdown", "json"]

    /// The most a listing may weigh: far more than any real listing, far less than what would be sent to
    /// every persona (a 50 MB listing was sent four times).
    public static let maxBytes = 256 * 1024

    /// The path that names standard input.
    public static let standardInputPath = "-"

    /// Loads one listing file; `-` reads standard input (``load(standardInput:)``).
    public static func load(path: String) throws(ListingError) -> Listing {
        if path == standardInputPath { return try load(standardInput: FileHandle.standardInput) }
        let data: Data
        do {
            // Read at most one byte past the limit: a huge file, or a device that never ends, is refused.
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw ListingError(file: path, problem: reason)
        }
        guard data.count <= maxBytes else {
            throw ListingError(file: path, problem: "is larger than \(maxBytes / 1024) KiB; a listing is a page of text, not a document")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ListingError(file: path, problem: "is not UTF-8 text; save it as UTF-8")
        }
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        switch ext {
        case "json": return try parseJSON(text, source: path)
        case "md", "markdown": return try parseMarkdown(text, source: path)
        case "yaml", "yml": return try parseYAML(text, source: path)
        default:
            throw ListingError(file: path, problem: "unknown listing format '.\(ext)'; use .yaml, .yml, .md or .json")
        }
    }

    /// Reads a listing from standard input (`pbpaste | panel review -`): JSON, Markdown with front
    /// matter or YAML, told apart by content since there is no file extension.
    public static func load(standardInput handle: FileHandle) throws(ListingError) -> Listing {
        let source = "standard input"
        let data: Data
        do {
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw ListingError(file: source, problem: "cannot be read")
        }
        guard data.count <= maxBytes else {
            throw ListingError(file: source, problem: "is larger than \(maxBytes / 1024) KiB; a listing is a page of text, not a document")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ListingError(file: source, problem: "is not UTF-8 text")
        }
        return try parse(text, source: source)
    }

    /// Parses a listing whose format is told by its content: `{` starts JSON, a `---` line starts
    /// Markdown front matter, anything else is YAML.
    public static func parse(_ text: String, source: String) throws(ListingError) -> Listing {
        var start = text.unicodeScalars.drop { $0.properties.isWhitespace || $0 == "\u{FEFF}" }
        if start.first == "{" { return try parseJSON(String(start), source: source) }
        if start.starts(with: "---".unicodeScalars) {
            start = start.dropFirst(3)
            if start.first == "\n" || start.first == "\r" || start.first == nil {
                return try parseMarkdown(
                    String(String.UnicodeScalarView(text.unicodeScalars.drop { $0.properties.isWhitespace || $0 == "\u{FEFF}" })),
                    source: source)
            }
        }
        if text.trimmedWhitespace().isEmpty { throw ListingError(file: source, problem: "is empty") }
        return try parseYAML(text, source: source)
    }

    // MARK: formats

    public static func parseYAML(_ text: String, source: String) throws(ListingError) -> Listing {
        let fields = try yamlFields(text, source: source)
        return try build(fields, source: source)
    }

    public static func parseMarkdown(_ text: String, source: String) throws(ListingError) -> Listing {
        let parts: (yaml: String, body: String)
        do {
            parts = try FrontMatter.split(text)
        } catch .noOpening {
            throw ListingError(file: source, problem: "a Markdown listing starts with YAML front matter between '---' lines")
        } catch {
            throw ListingError(file: source, problem: "the front matter has no closing '---' line")
        }
        var fields = try yamlFields(parts.yaml, source: source)
        let body = parts.body.trimmedWhitespace()
        if !body.isEmpty {
            if fields["description"] != nil {
                throw ListingError(
                    file: source, field: "description",
                    problem: "given both in the front matter and as the body; keep one (the body is the description)")
            }
            fields["description"] = .text(body)
        }
        return try build(fields, source: source)
    }

    public static func parseJSON(_ text: String, source: String) throws(ListingError) -> Listing {
        let dictionary: [String: JSONValue]
        switch JSONValue.parseStrictly(text) {
        case .failure(let error) where error.duplicateKey != nil:
            throw ListingError(file: source, problem: "is ambiguous: \(error); keep one")
        case .failure(let error):
            throw ListingError(file: source, problem: "is not valid JSON (\(error))")
        case .success(let value):
            guard let object = value.objectValue else {
                throw ListingError(file: source, problem: "must be a JSON object with the listing's fields")
            }
            dictionary = object
        }
        return try listing(fromJSON: dictionary, source: source)
    }

    /// A listing from a JSON object already parsed (an element of a request's `listings`), with the
    /// messages `parseJSON` gives.
    public static func listing(fromJSON dictionary: [String: JSONValue], source: String) throws(ListingError) -> Listing {
        var fields: [String: FieldValue] = [:]
        for (key, value) in dictionary {
            switch value {
            case .null: fields[key] = .absent
            case .string(let string): fields[key] = .text(string)
            case .array: fields[key] = .wrongType("a list")
            case .object: fields[key] = .wrongType("an object")
            case .int, .double, .bool: fields[key] = .wrongType("a number or true/false")
            }
        }
        return try build(fields, source: source)
    }

    // MARK: building

    enum FieldValue {
        case text(String)
        case absent
        case wrongType(String)
    }

    static func yamlFields(_ text: String, source: String) throws(ListingError) -> [String: FieldValue] {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ListingError(file: source, problem: "is not valid YAML (\(describe(error)))")
        }
        guard let node else { throw ListingError(file: source, problem: "is empty") }
        guard let mapping = node.mapping else {
            throw ListingError(file: source, problem: "must be a mapping of fields (name: …, description: …)")
        }
        var fields: [String: FieldValue] = [:]
        for (key, value) in mapping {
            guard let key = key.scalar?.string else { continue }
            switch value {
            case .scalar(let scalar):
                let isNull = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
                fields[key] = isNull ? .absent : .text(scalar.string)
            case .sequence: fields[key] = .wrongType("a list")
            case .mapping: fields[key] = .wrongType("a mapping")
            case .alias: fields[key] = .wrongType("an alias")
            }
        }
        return fields
    }

    static func build(_ fields: [String: FieldValue], source: String) throws(ListingError) -> Listing {
        func text(_ key: String) throws(ListingError) -> String? {
            switch fields[key] {
            case .text(let value)?:
                let trimmed = value.trimmedWhitespace()
                return trimmed.isEmpty ? nil : trimmed
            case .wrongType(let kind)?:
                throw ListingError(file: source, field: key, problem: "must be text, found \(kind)")
            case .absent?, nil:
                return nil
            }
        }
        let unknown = fields.keys.filter { !Listing.fieldKeys.contains($0) }.sorted()
        /// A missing field's message names the unknown key that is most likely it, misspelt.
        func missing(_ field: String, _ what: String) -> String {
            if let typo = unknown.first(where: { Suggestion.nearest($0, in: Listing.fieldKeys) == field }) {
                return "is missing; '\(typo)' is not a listing field — did you mean '\(field)'?"
            }
            return "is missing (\(what))"
        }
        guard let name = try text("name") else {
            let present = fields["name"] != nil
            throw ListingError(file: source, field: "name", problem: present ? "is empty" : missing("name", "every listing needs a name"))
        }
        guard let description = try text("description") else {
            let present = fields["description"] != nil
            throw ListingError(
                file: source, field: "description",
                problem: present ? "is empty" : missing("description", "give a description, or the Markdown body"))
        }
        let url = try text("url")
        if let url, !(url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://")) {
            throw ListingError(file: source, field: "url", problem: "must be an http(s) URL, found '\(url.prefix(60))'")
        }
        var listing = Listing(
            name: name, description: description,
            tagline: try text("tagline"), category: try text("category"), pricing: try text("pricing"),
            entry: try text("entry"), bestFor: try text("best_for"), url: url,
            community: try text("community"), source: source)
        listing.unknownFields = unknown.map { Suggestion.describe($0, in: Listing.fieldKeys) }
        return listing
    }

    /// What a front end says of a listing's unknown keys (nil when it has none).
    public static func unknownFieldsWarning(_ listing: Listing) -> String? {
        guard !listing.unknownFields.isEmpty else { return nil }
        return
            "\(listing.source): ignoring unknown field(s) \(listing.unknownFields.joined(separator: ", ")) (known: \(Listing.fieldKeys.joined(separator: ", ")))"
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? YamlError { return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)" }
        return (error as NSError).localizedDescription
    }
}
