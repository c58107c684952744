import Foundation

/// Decodes any `Decodable` from a ``JSONValue`` — the reading half of ``JSONValueEncoder``, with the same
/// conventions (dates as seconds since 2001, data as Base64, keys as written), so what the project's own
/// writer saved (a persona's result in the store) is read back by its own reader instead of going
/// through `JSONDecoder` as well. Errors are `DecodingError`s with the coding path, as `JSONDecoder`'s.
public enum JSONValueDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try unbox(value, as: type, codingPath: [])
    }

    /// Parses `text` with the project's reader and decodes it.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        guard let value = JSONValue.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not valid JSON"))
        }
        return try decode(type, from: value)
    }

    static func unbox<T: Decodable>(_ value: JSONValue, as type: T.Type, codingPath: [any CodingKey]) throws -> T {
        func mismatch() -> DecodingError {
            .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(value)"))
        }
        switch type {
        case is String.Type:
            guard case .string(let text) = value else { throw mismatch() }
            return text as! T
        case is Bool.Type:
            guard case .bool(let flag) = value else { throw mismatch() }
            return flag as! T
        case is Int.Type:
            guard let number = value.intValue else { throw mismatch() }
            return number as! T
        case is Double.Type:
            guard let number = value.numberValue else { throw mismatch() }
            return number as! T
        case is Date.Type:
            guard let number = value.numberValue else { throw mismatch() }
            return Date(timeIntervalSinceReferenceDate: number) as! T
        case is Data.Type:
            guard case .string(let text) = value, let data = Data(base64Encoded: text) else { throw mismatch() }
            return data as! T
        case is JSONValue.Type:
            return value as! T
        case is Float.Type:
            guard let number = value.numberValue else { throw mismatch() }
            return Float(number) as! T
        case let integer as any FixedWidthInteger.Type:
            // Int8…UInt64: their own `init(from:)` would ask this decoder for themselves again.
            func exactly<I: FixedWidthInteger>(_ type: I.Type) -> I? { value.intValue.flatMap { I(exactly: $0) } }
            guard let number = exactly(integer) else { throw mismatch() }
            return number as! T
        default:
            return try T(from: Decoder(value: value, codingPath: codingPath))
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) {
            self.stringValue = String(intValue)
            self.intValue = intValue
        }
    }

    struct Decoder: Swift.Decoder {
        let value: JSONValue
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<K: CodingKey>(keyedBy type: K.Type) throws -> KeyedDecodingContainer<K> {
            guard case .object(let fields) = value else {
                throw DecodingError.typeMismatch(
                    [String: JSONValue].self, .init(codingPath: codingPath, debugDescription: "expected an object, found \(value)"))
            }
            return KeyedDecodingContainer(Keyed<K>(fields: fields, codingPath: codingPath))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            guard case .array(let elements) = value else {
                throw DecodingError.typeMismatch(
                    [JSONValue].self, .init(codingPath: codingPath, debugDescription: "expected an array, found \(value)"))
            }
            return Unkeyed(elements: elements, codingPath: codingPath)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(value: value, codingPath: codingPath) }
    }

    struct Keyed<K: CodingKey>: KeyedDecodingContainerProtocol {
        let fields: [String: JSONValue]
        let codingPath: [any CodingKey]
        var allKeys: [K] { fields.keys.compactMap { K(stringValue: $0) } }

        func contains(_ key: K) -> Bool { fields[key.stringValue] != nil }

        func field(_ key: K) throws -> JSONValue {
            guard let value = fields[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no '\(key.stringValue)'"))
            }
            return value
        }

        func decodeNil(forKey key: K) throws -> Bool { try field(key) == .null }

        func decode<T: Decodable>(_ type: T.Type, forKey key: K) throws -> T {
            try JSONValueDecoder.unbox(try field(key), as: type, codingPath: codingPath + [key])
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: K) throws -> T? {
            guard let value = fields[key.stringValue], value != .null else { return nil }
            return try JSONValueDecoder.unbox(value, as: type, codingPath: codingPath + [key])
        }

        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: K) throws -> KeyedDecodingContainer<N> {
            try Decoder(value: try field(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: K) throws -> any UnkeyedDecodingContainer {
            try Decoder(value: try field(key), codingPath: codingPath + [key]).unkeyedContainer()
        }

        func superDecoder() throws -> any Swift.Decoder {
            Decoder(value: fields["super"] ?? .null, codingPath: codingPath + [JSONValueDecoder.Key(stringValue: "super")])
        }

        func superDecoder(forKey key: K) throws -> any Swift.Decoder {
            Decoder(value: fields[key.stringValue] ?? .null, codingPath: codingPath + [key])
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [JSONValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        mutating func next() throws -> (JSONValue, [any CodingKey]) {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    JSONValue.self, .init(codingPath: codingPath, debugDescription: "the array has no element \(currentIndex)"))
            }
            defer { currentIndex += 1 }
            return (elements[currentIndex], codingPath + [Key(intValue: currentIndex)])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, elements[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let (value, path) = try next()
            return try JSONValueDecoder.unbox(value, as: type, codingPath: path)
        }

        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
            let (value, path) = try next()
            return try Decoder(value: value, codingPath: path).container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let (value, path) = try next()
            return try Decoder(value: value, codingPath: path).unkeyedContainer()
        }

        mutating func superDecoder() throws -> any Swift.Decoder {
            let (value, path) = try next()
            return Decoder(value: value, codingPath: path)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        let codingPath: [any CodingKey]

        func decodeNil() -> Bool { value == .null }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONValueDecoder.unbox(value, as: type, codingPath: codingPath)
        }
    }
}
