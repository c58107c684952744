import ModelBackends

/// A software tool to review: what the panel reads. All text in it is untrusted input.
public struct Listing: Sendable, Hashable, Codable {
    public var name: String
    public var description: String
    public var tagline: String?
    public var category: String?
    public var pricing: String?
    /// The entry price in a word or two: "Free", "Paid", "Free tier".
    public var entry: String?
    public var bestFor: String?
    public var url: String?
    /// Free text about community reception; absent means no community votes yet.
    public var community: String?
    /// Where the listing came from (a file path, or `file:line` for JSON Lines); for messages.
    public var source: String
    /// Keys of the file that are not listing fields (each named with the field it is nearest, when one
    /// is): a front end says them. Not part of the listing's JSON.
    public var unknownFields: [String] = []

    enum CodingKeys: String, CodingKey {
        case name, description, tagline, category, pricing, entry, bestFor, url, community, source
    }

    public init(
        name: String,
        description: String,
        tagline: String? = nil,
        category: String? = nil,
        pricing: String? = nil,
        entry: String? = nil,
        bestFor: String? = nil,
        url: String? = nil,
        community: String? = nil,
        source: String = ""
    ) {
        self.name = name
        self.description = description
        self.tagline = tagline
        self.category = category
        self.pricing = pricing
        self.entry = entry
        self.bestFor = bestFor
        self.url = url
        self.community = community
        self.source = source
    }

    /// The fields a listing file may hold, by their key in the file.
    public static let fieldKeys = ["name", "description", "tagline", "category", "pricing", "entry", "best_for", "url", "community"]

    /// The fields it has, by their key, in ``fieldKeys``' order: what claims are checked against.
    public var fields: [(key: String, text: String)] {
        let values = [name, description, tagline, category, pricing, entry, bestFor, url, community]
        return zip(Self.fieldKeys, values).compactMap { key, value in value.map { (key, $0) } }
    }
}

extension Listing {
    /// The JSON its `Codable` form writes — keys sorted, absent fields left out — as a listing is queued in
    /// the store (``init(encoded:)`` reads it back), written by the project's writer: Foundation's encoder
    /// was most of queuing a batch's listings, all of it before the first call.
    public var encoded: String {
        var writer = JSONTextWriter(pretty: false, capacity: 256 + description.utf8.count)
        writer.object { fields in
            fields.field("bestFor", ifPresent: bestFor)
            fields.field("category", ifPresent: category)
            fields.field("community", ifPresent: community)
            fields.field("description", description)
            fields.field("entry", ifPresent: entry)
            fields.field("name", name)
            fields.field("pricing", ifPresent: pricing)
            fields.field("source", source)
            fields.field("tagline", ifPresent: tagline)
            fields.field("url", ifPresent: url)
        }
        return writer.text
    }

    /// A listing from the JSON its `Codable` form writes (a listing queued in the store), read by the
    /// project's JSON reader — Foundation's decoder took about a tenth of a listing's own work in a batch.
    /// The same keys (``CodingKeys``) and rules: `name`, `description` and `source` text, the rest text,
    /// null or absent. Nil for anything else; `JSONDecoder` then says what is wrong.
    public init?(encoded text: String) {
        guard case .success(let value) = JSONValue.parseStrictly(text), let object = value.objectValue else { return nil }
        /// .some(nil) for a null or absent field, nil for one that is not text.
        func optional(_ key: CodingKeys) -> String?? {
            switch object[key.rawValue] {
            case .string(let text)?: return .some(text)
            case .null?, nil: return .some(nil)
            default: return nil
            }
        }
        guard case .string(let name)? = object[CodingKeys.name.rawValue],
            case .string(let description)? = object[CodingKeys.description.rawValue],
            case .string(let source)? = object[CodingKeys.source.rawValue],
            let tagline = optional(.tagline), let category = optional(.category), let pricing = optional(.pricing),
            let entry = optional(.entry), let bestFor = optional(.bestFor), let url = optional(.url),
            let community = optional(.community)
        else { return nil }
        self.init(
            name: name, description: description, tagline: tagline, category: category, pricing: pricing, entry: entry,
            bestFor: bestFor, url: url, community: community, source: source)
    }
}

/// A listing file that cannot be used, with the file, the field and what is wrong.
public struct ListingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var field: String?
    public var problem: String

    public init(file: String, field: String? = nil, problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String {
        if let field { return "\(file): field '\(field)': \(problem)" }
        return "\(file): \(problem)"
    }
}
