public import Foundation

/// JSON text in and out without `JSONDecoder`/`JSONEncoder`: every call encodes a request body and
/// parses a response and an answer, and the Codable machinery was a sixth of a batch's CPU time.
///
/// The output is byte-for-byte what `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes`
/// writes (request hashes, recordings and cache keys depend on it; tests compare the two).
extension JSONValue {
    /// Parses JSON text; `nil` when the text is not JSON.
    public static func parse(_ text: String) -> JSONValue? {
        var text = text
        return text.withUTF8 { bytes in
            var reader = JSONReader(bytes: bytes, validUTF8: true)
            return reader.document()
        }
    }

    /// Parses JSON bytes; `nil` when they are not JSON.
    public static func parse(_ data: Data) -> JSONValue? {
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            // Checked once as a whole, so that its strings need not be checked one by one.
            var reader = JSONReader(bytes: bytes, validUTF8: (try? UTF8Span(validating: Span(_unsafeElements: bytes))) != nil)
            return reader.document()
        }
    }

    /// Parses JSON text strictly, saying where it fails: a syntax error's line and column, or a key an
    /// object has twice (which most readers silently resolve by keeping one).
    public static func parseStrictly(_ text: String) -> Result<JSONValue, JSONSyntaxError> {
        var text = text
        return text.withUTF8 { bytes in
            var reader = JSONReader(bytes: bytes, validUTF8: true)
            reader.rejectDuplicateKeys = true
            if let value = reader.document() { return .success(value) }
            var line = 1
            var column = 1
            for byte in bytes[..<min(reader.index, bytes.count)] {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return .failure(JSONSyntaxError(line: line, column: column, duplicateKey: reader.duplicateKey))
        }
    }

    /// Canonical bytes: sorted keys, no insignificant whitespace, slashes unescaped.
    public func canonicalData() -> Data {
        Data(canonicalBytes())
    }

    func canonicalBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1024)
        write(into: &bytes)
        return bytes
    }

    /// Canonical text (see ``canonicalData()``).
    public func canonicalText() -> String {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(validUTF8: bytes)
    }

    /// Indented text for people and scripts (the CLI's `--format json` outputs): two spaces a level, keys
    /// sorted by code point, `"key" : value`, slashes unescaped, a trailing newline — as Foundation's pretty printer lays
    /// it out, written by this writer instead of bridging every value through `JSONSerialization`.
    public func prettyText() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1024)
        write(into: &bytes, indent: 0)
        bytes.append(0x0A)
        return String(validUTF8: bytes)
    }

    func write(into out: inout [UInt8], indent: Int) {
        switch self {
        case .array(let values):
            Self.writePrettyArray(values, indent: indent, into: &out) { $0.write(into: &$1, indent: indent + 1) }
        case .object(let fields):
            Self.writePrettyObject(fields.sorted(by: { $0.key < $1.key }), key: \.key, indent: indent, into: &out) {
                $0.value.write(into: &$1, indent: indent + 1)
            }
        default:
            write(into: &out)
        }
    }

    /// The pretty layout of an array at `indent`, each element written by `element` (at `indent + 1`):
    /// the one layout for ``JSONValue`` and for ``JSONValueEncoder/prettyText(_:)``'s nodes.
    static func writePrettyArray<C: Collection>(
        _ values: C, indent: Int, into out: inout [UInt8], _ element: (C.Element, inout [UInt8]) -> Void
    ) {
        out.append(UInt8(ascii: "["))
        if values.isEmpty { out.append(0x0A) }
        var first = true
        for value in values {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            newline(indent + 1, into: &out)
            element(value, &out)
        }
        newline(indent, into: &out)
        out.append(UInt8(ascii: "]"))
    }

    /// The pretty layout of an object at `indent`, its fields already sorted by key.
    static func writePrettyObject<C: Collection>(
        _ fields: C, key: (C.Element) -> String, indent: Int, into out: inout [UInt8], _ element: (C.Element, inout [UInt8]) -> Void
    ) {
        out.append(UInt8(ascii: "{"))
        if fields.isEmpty { out.append(0x0A) }
        var first = true
        for field in fields {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            newline(indent + 1, into: &out)
            write(string: key(field), into: &out)
            out.append(UInt8(ascii: " "))
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            element(field, &out)
        }
        newline(indent, into: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// A newline and two spaces a level (copied from a row of spaces: appending `repeatElement` went
    /// byte by byte, a twentieth of a document's writing).
    @inline(__always) static func newline(_ level: Int, into out: inout [UInt8]) {
        out.append(0x0A)
        var count = level * 2
        while count > 0 {
            let run = min(count, spaces.count)
            spaces.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<run])) }
            count -= run
        }
    }

    static let spaces = [UInt8](repeating: UInt8(ascii: " "), count: 64)

    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): out.append(contentsOf: String(value).utf8)
        case .double(let value): out.append(contentsOf: Self.text(of: value).utf8)
        case .string(let value): Self.write(string: value, into: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.write(string: key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// As `JSONEncoder` writes a Double: its description without a trailing `.0`; non-finite values
    /// (which JSON cannot hold) as `null`.
    static func text(of value: Double) -> String {
        guard value.isFinite else { return "null" }
        let text = value.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static func write(string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied whole (found by ``plainRun``).
            guard let base = bytes.baseAddress else { return }
            let count = bytes.count
            var run = 0
            while true {
                let index = Self.plainRun(base, from: run, count: count)
                guard index < count else { break }
                out.append(contentsOf: UnsafeBufferPointer(start: base + run, count: index - run))
                escape(base[index], into: &out)
                run = index + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(start: base + run, count: count - run))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Where the run of bytes from `index` that JSON strings hold as they are ends: at the first control
    /// character, `"` or `\\`, or at `count`. Sixteen bytes at a time (SSE compares), then eight (SWAR),
    /// while none is one of those (most of a paragraph); the writer's and the reader's one scan.
    @inline(__always) static func plainRun(_ base: UnsafePointer<UInt8>, from index: Int, count: Int) -> Int {
        var index = index
        let quote = SIMD16<UInt8>(repeating: UInt8(ascii: "\"")), backslash = SIMD16<UInt8>(repeating: UInt8(ascii: "\\"))
        let space = SIMD16<UInt8>(repeating: 0x20)
        while index + 16 <= count {
            let bytes = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<UInt8>.self)
            if any((bytes .< space) .| (bytes .== quote) .| (bytes .== backslash)) { break }
            index += 16
        }
        while index + 8 <= count, !needsEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) { index += 8 }
        while index < count {
            let byte = base[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return index }
            index += 1
        }
        return count
    }

    /// Whether any of eight bytes is a control character, `"` or `\\` (the bit tricks of "Bit Twiddling
    /// Hacks": a byte below n, a byte equal to c — exact for whether any byte is, not for which).
    @inline(__always) static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        return (control | ((quote &- ones) & ~quote & highs) | ((backslash &- ones) & ~backslash & highs)) != 0
    }

    static func escape(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default: out.append(byte)
        }
    }
}

/// An RFC 8259 reader (no comments, no raw control characters in strings; a trailing comma is allowed, as
/// Foundation's reader allows it),
/// with a nesting limit so hostile model output cannot exhaust the stack.
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
