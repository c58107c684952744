import Foundation

/// Encodes any `Encodable` into a ``JSONValue`` — with ``JSONValue/canonicalData()`` the same bytes as
/// `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` and default strategies (dates as
/// seconds since 2001, data as Base64), at a fraction of the cost: a batch saves every persona's
/// result this way. Non-finite doubles become `null` instead of an error, and an unsigned integer
/// beyond `Int.max` becomes a double (JSONValue holds `Int`s).
public enum JSONValueEncoder {
    public static func encode(_ value: some Encodable) throws -> JSONValue {
        try box(value, codingPath: [])
    }

    static func box(_ value: some Encodable, codingPath: [any CodingKey]) throws -> JSONValue {
        switch value {
        case let value as String: return .string(value)
        case let value as Int: return .int(value)
        case let value as Double: return .double(value)
        case let value as Bool: return .bool(value)
        case let value as Date: return .double(value.timeIntervalSinceReferenceDate)
        case let value as URL: return .string(value.absoluteString)
        case let value as Data: return .string(value.base64EncodedString())
        case let value as JSONValue: return value
        case let value as Float: return .double(Double(value.description) ?? Double(value))
        case let value as any FixedWidthInteger:
            if let int = Int(exactly: value) { return .int(int) }
            return .double(Double(value))
        default:
            let encoder = Encoder(codingPath: codingPath)
            try value.encode(to: encoder)
            return encoder.node.resolved
        }
    }

    /// A node being filled: nested containers write into their parent's node.
    final class Node {
        var value: JSONValue = .object([:])
        var fields: [String: Node] = [:]
        var elements: [Node] = []
        var kind = Kind.unset
        enum Kind { case unset, single, object, array }

        var resolved: JSONValue {
            switch kind {
            case .unset: return .object([:])
            case .single: return value
            case .object: return .object(fields.mapValues(\.resolved))
            case .array: return .array(elements.map(\.resolved))
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
                node.fields = [:]
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

    static func leaf(_ value: JSONValue) -> Node {
        let node = Node()
        node.kind = .single
        node.value = value
        return node
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) throws { node.fields[key.stringValue] = leaf(.null) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { node.fields[key.stringValue] = leaf(.bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { node.fields[key.stringValue] = leaf(.string(value)) }
        mutating func encode(_ value: Double, forKey key: Key) throws { node.fields[key.stringValue] = leaf(.double(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { node.fields[key.stringValue] = leaf(.int(value)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.fields[key.stringValue] = leaf(try box(value, codingPath: codingPath + [key]))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        )
            -> KeyedEncodingContainer<NestedKey>
        {
            let child = Node()
            child.kind = .object
            node.fields[key.stringValue] = child
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [key]))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            child.kind = .array
            node.fields[key.stringValue] = child
            return Unkeyed(node: child, codingPath: codingPath + [key])
        }

        mutating func superEncoder() -> any Swift.Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder {
            let encoder = Encoder(codingPath: codingPath + [key])
            node.fields[key.stringValue] = encoder.node
            return encoder
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.elements.count }

        mutating func encodeNil() throws { node.elements.append(leaf(.null)) }
        mutating func encode(_ value: Bool) throws { node.elements.append(leaf(.bool(value))) }
        mutating func encode(_ value: String) throws { node.elements.append(leaf(.string(value))) }
        mutating func encode(_ value: Double) throws { node.elements.append(leaf(.double(value))) }
        mutating func encode(_ value: Int) throws { node.elements.append(leaf(.int(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.elements.append(leaf(try box(value, codingPath: codingPath)))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = Node()
            child.kind = .object
            node.elements.append(child)
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            child.kind = .array
            node.elements.append(child)
            return Unkeyed(node: child, codingPath: codingPath)
        }

        mutating func superEncoder() -> any Swift.Encoder {
            let encoder = Encoder(codingPath: codingPath)
            node.elements.append(encoder.node)
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
