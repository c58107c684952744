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
            Self.writePretty(values, key: nil, indent: indent, into: &out) { $0.write(into: &$1, indent: indent + 1) }
        case .object(let fields):
            Self.writePretty(fields.sorted(by: { $0.key < $1.key }), key: \.key, indent: indent, into: &out) {
                $0.value.write(into: &$1, indent: indent + 1)
            }
        default:
            write(into: &out)
        }
    }

    /// The pretty layout of an array (`key` nil) or of an object (its fields already sorted by key) at
    /// `indent`, each element written by `element` (at `indent + 1`): the one layout for ``JSONValue`` and
    /// for the encoder's nodes (``JSONTextWriter/encodable(_:)``).
    static func writePretty<C: Collection>(
        _ items: C, key: ((C.Element) -> String)?, indent: Int, into out: inout [UInt8], _ element: (C.Element, inout [UInt8]) -> Void
    ) {
        out.append(key == nil ? UInt8(ascii: "[") : UInt8(ascii: "{"))
        if items.isEmpty { out.append(0x0A) }
        var first = true
        for item in items {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            newline(indent + 1, into: &out)
            if let key {
                write(string: key(item), into: &out)
                out.append(UInt8(ascii: " "))
                out.append(UInt8(ascii: ":"))
                out.append(UInt8(ascii: " "))
            }
            element(item, &out)
        }
        newline(indent, into: &out)
        out.append(key == nil ? UInt8(ascii: "]") : UInt8(ascii: "}"))
    }

    /// A newline and two spaces a level (copied from a row of spaces: appending `repeatElement` went
    /// byte by byte, a twentieth of a document's writing).
    @inline(__always) static func newline(_ level: Int, into out: inout [UInt8]) {
        out.append(0x0A)
        var count = level * 2
        if count <= 8 {
            for _ in 0..<count { out.append(UInt8(ascii: " ")) }
            return
        }
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
                append(base + run, count: index - run, to: &out)
                escape(base[index], into: &out)
                run = index + 1
            }
            append(base + run, count: count - run, to: &out)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `count` bytes: one by one when they are a few — `append(contentsOf:)` costs about 90
    /// instructions a call however short, and a document's keys, separators and short values are most of
    /// its appends — whole otherwise.
    @inline(__always) static func append(_ base: UnsafePointer<UInt8>, count: Int, to out: inout [UInt8]) {
        if count <= 8 {
            for index in 0..<count { out.append(base[index]) }
        } else {
            out.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        }
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
        let short: UInt8
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): short = byte
        case 0x0A: short = UInt8(ascii: "n")
        case 0x0D: short = UInt8(ascii: "r")
        case 0x09: short = UInt8(ascii: "t")
        case 0x08: short = UInt8(ascii: "b")
        case 0x0C: short = UInt8(ascii: "f")
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            return
        default:
            out.append(byte)
            return
        }
        out.append(UInt8(ascii: "\\"))
        out.append(short)
    }
}
