import Foundation

/// Encodes any `Encodable` into a ``JSONValue`` — with ``JSONValue/canonicalData()`` the same bytes as
/// `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` and default strategies (dates as
/// seconds since 2001, data as Base64), at a fraction of the cost — for any type; the few written once per
/// call or listing (a saved result, the kept document) list their fields to ``JSONTextWriter`` instead.
/// Non-finite doubles become `null` instead of an error, and an unsigned integer beyond `Int.max` becomes
/// a double (JSONValue holds `Int`s).
public enum JSONValueEncoder {
    public static func encode(_ value: some Encodable) throws -> JSONValue {
        try box(value, codingPath: [])
    }

    /// A leaf type by its metadata: one pointer comparison per candidate, where `value as? String` is a
    /// dynamic cast each — and the cast to `any FixedWidthInteger` (an existential with associated types)
    /// checked its generic requirements uncached, ~8,000 instructions for every value that is not a leaf.
    /// The coding path is made only for a value that opens an encoder of its own (it is read on errors alone).
    static func box<T: Encodable>(_ value: T, codingPath: @autoclosure () -> [any CodingKey]) throws -> JSONValue {
        try child(value, codingPath: codingPath()).resolved
    }

    /// `value` as a leaf, or as the node its own encoder filled (made a ``JSONValue``, or written as text,
    /// at the end).
    static func child<T: Encodable>(_ value: T, codingPath: @autoclosure () -> [any CodingKey]) throws -> Child {
        switch ObjectIdentifier(T.self) {
        case ObjectIdentifier(String.self): return .leaf(.string(leaf(value, String.self)))
        case ObjectIdentifier(Int.self): return .leaf(.int(leaf(value, Int.self)))
        case ObjectIdentifier(Double.self): return .leaf(.double(leaf(value, Double.self)))
        case ObjectIdentifier(Bool.self): return .leaf(.bool(leaf(value, Bool.self)))
        case ObjectIdentifier(JSONValue.self): return .leaf(leaf(value, JSONValue.self))
        // Optional leaves, as `c.encode(score, forKey: .score)` hands them over (`encodeIfPresent` does not).
        case ObjectIdentifier(String?.self): return .leaf(leaf(value, String?.self).map(JSONValue.string) ?? .null)
        case ObjectIdentifier(Int?.self): return .leaf(leaf(value, Int?.self).map(JSONValue.int) ?? .null)
        case ObjectIdentifier(Double?.self): return .leaf(leaf(value, Double?.self).map(JSONValue.double) ?? .null)
        case ObjectIdentifier(Bool?.self): return .leaf(leaf(value, Bool?.self).map(JSONValue.bool) ?? .null)
        case ObjectIdentifier(Date.self): return .leaf(.double(leaf(value, Date.self).timeIntervalSinceReferenceDate))
        case ObjectIdentifier(URL.self): return .leaf(.string(leaf(value, URL.self).absoluteString))
        case ObjectIdentifier(Data.self): return .leaf(.string(leaf(value, Data.self).base64EncodedString()))
        case ObjectIdentifier(Float.self):
            let float = leaf(value, Float.self)
            return .leaf(.double(Double(float.description) ?? Double(float)))
        case ObjectIdentifier(Int8.self): return .leaf(.int(Int(leaf(value, Int8.self))))
        case ObjectIdentifier(Int16.self): return .leaf(.int(Int(leaf(value, Int16.self))))
        case ObjectIdentifier(Int32.self): return .leaf(.int(Int(leaf(value, Int32.self))))
        case ObjectIdentifier(Int64.self): return .leaf(.int(Int(leaf(value, Int64.self))))
        case ObjectIdentifier(UInt8.self): return .leaf(.int(Int(leaf(value, UInt8.self))))
        case ObjectIdentifier(UInt16.self): return .leaf(.int(Int(leaf(value, UInt16.self))))
        case ObjectIdentifier(UInt32.self): return .leaf(.int(Int(leaf(value, UInt32.self))))
        case ObjectIdentifier(UInt.self): return .leaf(integer(leaf(value, UInt.self)))
        case ObjectIdentifier(UInt64.self): return .leaf(integer(leaf(value, UInt64.self)))
        default:
            let encoder = Encoder(codingPath: codingPath())
            try value.encode(to: encoder)
            return .node(encoder.node)
        }
    }

    /// `value` as the leaf type its metadata was found equal to: read in place, where `as!` is a dynamic
    /// cast (~2,800 instructions each in a document, most of them for optionals).
    @inline(__always) static func leaf<T, Leaf>(_ value: T, _ type: Leaf.Type) -> Leaf {
        precondition(T.self == Leaf.self)
        return withUnsafePointer(to: value) { UnsafeRawPointer($0).load(as: Leaf.self) }
    }

    static func integer(_ value: some FixedWidthInteger) -> JSONValue {
        if let int = Int(exactly: value) { return .int(int) }
        return .double(Double(value))
    }

    /// A node being filled: nested containers write into their parent's node; a leaf is kept as its
    /// value (no node of its own).
    final class Node {
        var value: JSONValue = .object([:])
        /// Keyed fields in the order encoded (a key given twice: the last counts, as in a dictionary).
        var fields: [Field] = []
        var elements: [Child] = []
        var kind = Kind.unset
        enum Kind { case unset, single, object, array }

        var resolved: JSONValue {
            switch kind {
            case .unset: return .object([:])
            case .single: return value
            case .object:
                return .object(Dictionary(fields.lazy.map { ($0.key, $0.child.resolved) }, uniquingKeysWith: { _, last in last }))
            case .array: return .array(elements.map(\.resolved))
            }
        }

        func write(into out: inout [UInt8], indent: Int) {
            switch kind {
            case .unset: JSONValue.object([:]).write(into: &out, indent: indent)
            case .single: value.write(into: &out, indent: indent)
            case .object:
                JSONValue.writePretty(Self.sorted(fields), key: \.key, indent: indent, into: &out) {
                    $0.child.write(into: &$1, indent: indent + 1)
                }
            case .array:
                JSONValue.writePretty(elements, key: nil, indent: indent, into: &out) { $0.write(into: &$1, indent: indent + 1) }
            }
        }

        /// Fields sorted by key as the writer sorts a dictionary's, a key given twice kept once with its last
        /// value. Insertion sort, stable (an object has a dozen fields, most already nearly in order).
        static func sorted(_ fields: [Field]) -> [Field] {
            var sorted = fields
            if sorted.count > 1 {
                for index in 1..<sorted.count {
                    let field = sorted[index]
                    var slot = index
                    while slot > 0, field.key < sorted[slot - 1].key {
                        sorted[slot] = sorted[slot - 1]
                        slot -= 1
                    }
                    sorted[slot] = field
                }
            }
            var unique: [Field] = []
            unique.reserveCapacity(sorted.count)
            for field in sorted {
                if let last = unique.last, last.key == field.key {
                    unique[unique.count - 1] = field
                } else {
                    unique.append(field)
                }
            }
            return unique
        }
    }

    /// A keyed field (a struct: arrays of tuples are destroyed through the runtime's generic tuple witness).
    struct Field {
        var key: String
        var child: Child
    }

    enum Child {
        case leaf(JSONValue)
        case node(Node)

        var resolved: JSONValue {
            switch self {
            case .leaf(let value): return value
            case .node(let node): return node.resolved
            }
        }

        /// As `resolved.write(into:indent:)` writes it.
        func write(into out: inout [UInt8], indent: Int) {
            switch self {
            case .leaf(let value): value.write(into: &out, indent: indent)
            case .node(let node): node.write(into: &out, indent: indent)
            }
        }
    }

    final class Encoder: Swift.Encoder {
        let codingPath: [any CodingKey]
        let userInfo: [CodingUserInfoKey: Any] = [:]
        let node = Node()

        init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if node.kind != .object {
                node.kind = .object
                node.fields = []
            }
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if node.kind != .array {
                node.kind = .array
                node.elements = []
            }
            return Unkeyed(node: node, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            Single(node: node, codingPath: codingPath)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        func add(_ key: Key, _ child: Child) { node.fields.append(Field(key: key.stringValue, child: child)) }

        mutating func encodeNil(forKey key: Key) throws { add(key, .leaf(.null)) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, .leaf(.bool(value))) }
        mutating func encode(_ value: String, forKey key: Key) throws { add(key, .leaf(.string(value))) }
        mutating func encode(_ value: Double, forKey key: Key) throws { add(key, .leaf(.double(value))) }
        mutating func encode(_ value: Int, forKey key: Key) throws { add(key, .leaf(.int(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            add(key, try child(value, codingPath: codingPath + [key]))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        )
            -> KeyedEncodingContainer<NestedKey>
        {
            let child = Node()
            child.kind = .object
            add(key, .node(child))
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [key]))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            child.kind = .array
            add(key, .node(child))
            return Unkeyed(node: child, codingPath: codingPath + [key])
        }

        mutating func superEncoder() -> any Swift.Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder {
            let encoder = Encoder(codingPath: codingPath + [key])
            add(key, .node(encoder.node))
            return encoder
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.elements.count }

        mutating func encodeNil() throws { node.elements.append(.leaf(.null)) }
        mutating func encode(_ value: Bool) throws { node.elements.append(.leaf(.bool(value))) }
        mutating func encode(_ value: String) throws { node.elements.append(.leaf(.string(value))) }
        mutating func encode(_ value: Double) throws { node.elements.append(.leaf(.double(value))) }
        mutating func encode(_ value: Int) throws { node.elements.append(.leaf(.int(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.elements.append(try child(value, codingPath: codingPath))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            child.kind = .object
            node.elements.append(.node(child))
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            child.kind = .array
            node.elements.append(.node(child))
            return Unkeyed(node: child, codingPath: codingPath)
        }

        mutating func superEncoder() -> any Swift.Encoder {
            let encoder = Encoder(codingPath: codingPath)
            node.elements.append(.node(encoder.node))
            return encoder
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]

        func set(_ value: JSONValue) {
            node.kind = .single
            node.value = value
        }

        mutating func encodeNil() throws { set(.null) }
        mutating func encode(_ value: Bool) throws { set(.bool(value)) }
        mutating func encode(_ value: String) throws { set(.string(value)) }
        mutating func encode(_ value: Double) throws { set(.double(value)) }
        mutating func encode(_ value: Int) throws { set(.int(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { set(try box(value, codingPath: codingPath)) }
    }
}
