/// Where JSON text stops being JSON.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// Set when the text is JSON but an object holds this key twice.
    public var duplicateKey: String?

    public var description: String {
        if let duplicateKey { return "the key '\(duplicateKey)' appears twice (line \(line), column \(column))" }
        return "at line \(line), column \(column)"
    }
}

/// An RFC 8259 reader (no comments, no raw control characters in strings; a trailing comma is allowed, as
/// Foundation's reader allows it), with a nesting limit so hostile model output cannot exhaust the stack.
/// Used through `JSONValue.parse` and `parseStrictly` (JSONValue+Text.swift).
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    /// Whether `bytes` are known to be UTF-8 (the text of a String, or data checked once): its strings are
    /// then copied without checking them again; otherwise each is decoded, invalid bytes replaced.
    let validUTF8: Bool
    var index = 0
    var depth = 0
    /// Fail on an object that has a key twice (noting it) instead of keeping the last.
    var rejectDuplicateKeys = false
    var duplicateKey: String?
    static let maximumDepth = 512

    init(bytes: UnsafeBufferPointer<UInt8>, validUTF8: Bool) {
        self.bytes = bytes
        self.validUTF8 = validUTF8
    }

    mutating func document() -> JSONValue? {
        guard let value = value() else { return nil }
        skipWhitespace()
        return index == bytes.count ? value : nil
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func value() -> JSONValue? {
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default: return number()
        }
    }

    mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return nil }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return nil }
        index += count
        return value
    }

    /// Skips white space; whether `byte` comes next.
    mutating func peek(_ byte: UInt8) -> Bool {
        skipWhitespace()
        return index < bytes.count && bytes[index] == byte
    }

    /// Skips white space, then `byte` if it comes next; whether it did.
    mutating func take(_ byte: UInt8) -> Bool {
        guard peek(byte) else { return false }
        index += 1
        return true
    }

    /// An object or array: elements read by `element`, separated by commas, up to `close`. A trailing
    /// comma is accepted, as Foundation's JSON reader accepts it (models write them).
    mutating func container(close: UInt8, _ element: (inout JSONReader) -> Bool) -> Bool {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { return false }
        index += 1
        if take(close) { return true }
        while true {
            guard element(&self) else { return false }
            if take(close) { return true }
            guard take(UInt8(ascii: ",")) else { return false }
            if take(close) { return true }
        }
    }

    mutating func object() -> JSONValue? {
        if rejectDuplicateKeys { return strictObject() }
        // Fields gathered first and the dictionary made once at its size: growing it field by field
        // rehashed every key at each doubling (a response's objects have a handful of fields each).
        var fields: [Field] = []
        let closed = container(close: UInt8(ascii: "}")) { reader in
            guard reader.peek(UInt8(ascii: "\"")), let key = reader.string(), reader.take(UInt8(ascii: ":")), let value = reader.value()
            else { return false }
            fields.append(Field(key: key, value: value))
            return true
        }
        // A key given twice: the last counts, as in Foundation's reader.
        return closed ? .object(Dictionary(fields.lazy.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })) : nil
    }

    /// A field read (a struct: an array of tuples is destroyed through the runtime's generic tuple witness).
    struct Field {
        var key: String
        var value: JSONValue
    }

    /// An object whose reading stops at a key it has already read, noting the key (where the error is).
    mutating func strictObject() -> JSONValue? {
        var fields: [String: JSONValue] = [:]
        let closed = container(close: UInt8(ascii: "}")) { reader in
            guard reader.peek(UInt8(ascii: "\"")), let key = reader.string(), reader.take(UInt8(ascii: ":")), let value = reader.value()
            else { return false }
            if fields[key] != nil {
                reader.duplicateKey = key
                return false
            }
            fields[key] = value
            return true
        }
        return closed ? .object(fields) : nil
    }

    mutating func array() -> JSONValue? {
        var values: [JSONValue] = []
        let closed = container(close: UInt8(ascii: "]")) { reader in
            guard let value = reader.value() else { return false }
            values.append(value)
            return true
        }
        return closed ? .array(values) : nil
    }

    /// A string starting at the opening quote.
    mutating func string() -> String? {
        index += 1
        let start = index
        guard let base = bytes.baseAddress else { return nil }
        // Fast path: no escapes.
        index = JSONValue.plainRun(base, from: index, count: bytes.count)
        if index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                return validUTF8 ? String(validUTF8: slice) : String(decoding: slice, as: UTF8.self)
            }
            if byte < 0x20 { return nil }
        }
        var scalars: [UInt8] = []
        scalars.reserveCapacity(index - start + 256)
        scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            // The bytes up to the next quote, escape or control character are copied whole (a model's
            // answer is often JSON inside this string, an escaped quote every few words).
            let run = index
            index = JSONValue.plainRun(base, from: index, count: bytes.count)
            if index > run { scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index])) }
            guard index < bytes.count else { break }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                // Valid runs cut at ASCII bytes, and escapes written as whole scalars.
                return validUTF8 ? String(validUTF8: scalars) : String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    guard var code = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    {
                        let save = index
                        index += 2
                        if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            index = save
                        }
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    scalars.append(contentsOf: String(scalar).utf8)
                default: return nil
                }
            case 0..<0x20:
                return nil
            default:
                scalars.append(byte)
            }
        }
        return nil
    }

    mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?` — an integer when it has no fraction or
    /// exponent and fits an Int, a Double otherwise.
    mutating func number() -> JSONValue? {
        let start = index
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { return nil }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { return nil }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { return nil }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        let digits = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if isInteger, digits.count <= 18 {
            // Up to 18 digits always fit an Int: summed in place (most numbers in panel's traffic: token
            // counts, scores).
            let negative = digits[0] == UInt8(ascii: "-")
            var value = 0
            for digit in digits[(negative ? 1 : 0)...] { value = value * 10 + Int(digit &- UInt8(ascii: "0")) }
            return .int(negative ? -value : value)
        }
        let text = String(validUTF8: digits, isASCII: true)
        if isInteger, let value = Int(text) { return .int(value) }
        return Double(text).map(JSONValue.double)
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

/// Reading part of a document: an object's fields one by one, and values passed over without building
/// them (their syntax checked as `value()` checks it), for a caller that wants a few fields of a large
/// answer — a chat completion's text, not its ids, log probabilities and fingerprints.
extension JSONReader {
    /// An object's fields in order (the reader at `{`): `field` gets each key and must read or skip its
    /// value. False when the object is not JSON or `field` says so.
    mutating func fields(_ field: (inout JSONReader, String) -> Bool) -> Bool {
        container(close: UInt8(ascii: "}")) { reader in
            guard reader.peek(UInt8(ascii: "\"")), let key = reader.string(), reader.take(UInt8(ascii: ":")) else { return false }
            reader.skipWhitespace()
            return field(&reader, key)
        }
    }

    /// Reads past one value; false where `value()` would fail.
    mutating func skipValue() -> Bool {
        skipWhitespace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return container(close: UInt8(ascii: "}")) { reader in
                reader.peek(UInt8(ascii: "\"")) && reader.skipString() && reader.take(UInt8(ascii: ":")) && reader.skipValue()
            }
        case UInt8(ascii: "["): return container(close: UInt8(ascii: "]")) { reader in reader.skipValue() }
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "t"): return literal("true", .bool(true)) != nil
        case UInt8(ascii: "f"): return literal("false", .bool(false)) != nil
        case UInt8(ascii: "n"): return literal("null", .null) != nil
        default: return number() != nil
        }
    }

    /// Reads past a string (the reader at its opening quote); false where `string()` would fail: a control
    /// character, an unknown escape or a `\u` without four hex digits, or no closing quote.
    mutating func skipString() -> Bool {
        index += 1
        guard let base = bytes.baseAddress else { return false }
        while true {
            index = JSONValue.plainRun(base, from: index, count: bytes.count)
            guard index < bytes.count else { return false }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return false }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                    UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    guard hex4() != nil else { return false }
                default: return false
                }
            case UInt8(ascii: "\""): return true
            case 0..<0x20: return false
            default: continue
            }
        }
    }
}
