/// An object's fields: a dozen names or so, read by name while a template renders. Kept in the order
/// given and read by comparing names (lengths first) — five times cheaper to build than a dictionary
/// and cheaper to read, where hashing every name was a fifth of rendering a document. A name given
/// twice: the last counts, as in a dictionary.
public struct TemplateFields: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    /// A field (a struct: arrays of tuples are destroyed through the runtime's generic tuple witness).
    struct Field: Sendable {
        var name: String
        var value: TemplateValue
    }

    var pairs: [Field]

    public init() { pairs = [] }

    init(pairs: [Field]) { self.pairs = pairs }

    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        pairs = elements.map { Field(name: $0.0, value: $0.1) }
    }

    public init(_ dictionary: [String: TemplateValue]) {
        pairs = dictionary.map { Field(name: $0.key, value: $0.value) }
    }

    public subscript(name: String) -> TemplateValue? {
        get { index(of: name).map { pairs[$0].value } }
        set {
            switch (index(of: name), newValue) {
            case (let index?, let value?): pairs[index].value = value
            case (_?, nil): pairs.removeAll { $0.name == name }
            case (nil, let value?): pairs.append(Field(name: name, value: value))
            case (nil, nil): break
            }
        }
    }

    /// The last field named `name`.
    func index(of name: String) -> Int? {
        let count = name.utf8.count
        var index = pairs.count - 1
        while index >= 0 {
            if pairs[index].name.utf8.count == count, pairs[index].name == name { return index }
            index -= 1
        }
        return nil
    }

    /// Adds `other`'s fields, its values winning over these.
    public mutating func merge(_ other: TemplateFields) {
        pairs.append(contentsOf: other.pairs)
    }

    public func mapValues(_ transform: (TemplateValue) throws -> TemplateValue) rethrows -> TemplateFields {
        var mapped = self
        for index in mapped.pairs.indices { mapped.pairs[index].value = try transform(mapped.pairs[index].value) }
        return mapped
    }

    /// The fields as a dictionary (a name given twice: its last value).
    public var dictionary: [String: TemplateValue] {
        Dictionary(pairs.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public static func == (lhs: TemplateFields, rhs: TemplateFields) -> Bool { lhs.dictionary == rhs.dictionary }
    public func hash(into hasher: inout Hasher) { hasher.combine(dictionary) }
}
