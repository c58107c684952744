/// Writes JSON text with sorted keys straight into bytes, for a type that lists its fields itself, **in
/// sorted order**, instead of building a tree of values or nodes to sort and write: a kept document is
/// written once per listing and a persona's result once per call, and the `Codable` walk, its nodes and
/// its key sorting were a seventh of a batch call's instructions. Pretty, it is the layout of
/// ``JSONValue/prettyText()`` and of `JSONEncoder` with `.prettyPrinted, .sortedKeys, .withoutEscapingSlashes`
/// (`"key" : value`, two spaces a level, `{\n\n}` for an empty container); compact, that of
/// ``JSONValue/canonicalText()``. A type written this way keeps its `Encodable` conformance as the
/// definition, and a test holds the two to the same bytes.
public struct JSONTextWriter {
    public private(set) var bytes: [UInt8]
    /// Pretty-printed, or compact (canonical).
    public let pretty: Bool
    /// Nesting depth of the container being written.
    var level = 0
    /// Whether the container being written has no element yet.
    var empty = true

    public init(pretty: Bool = true, capacity: Int = 4096) {
        self.pretty = pretty
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The text written (valid UTF-8 by construction: Swift strings and ASCII — copied, not checked again).
    public var text: String { String(validUTF8: bytes) }

    /// The text written, with the trailing newline a document file ends with.
    public mutating func finishedText() -> String {
        bytes.append(0x0A)
        return text
    }

    /// An object whose fields `body` writes, each with ``key(_:)`` then its value, keys in sorted order.
    public mutating func object(_ body: (inout JSONTextWriter) throws -> Void) rethrows {
        try container(open: UInt8(ascii: "{"), close: UInt8(ascii: "}"), body)
    }

    /// An array of `items`, each written by `element` as one value.
    public mutating func array<S: Sequence>(_ items: S, _ element: (inout JSONTextWriter, S.Element) throws -> Void) rethrows {
        try container(open: UInt8(ascii: "["), close: UInt8(ascii: "]")) { writer in
            for item in items {
                writer.separate()
                try element(&writer, item)
            }
        }
    }

    /// The next field's key (a plain ASCII name: written as it is, unescaped), and `" : "` (`:` compact).
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        JSONValue.append(name.utf8Start, count: name.utf8CodeUnitCount, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        colon()
    }

    /// A key known only at run time (a dictionary's), escaped as a string.
    public mutating func key(_ name: String) {
        separate()
        JSONValue.write(string: name, into: &bytes)
        colon()
    }

    mutating func colon() {
        if pretty {
            bytes.append(UInt8(ascii: " "))
            bytes.append(UInt8(ascii: ":"))
            bytes.append(UInt8(ascii: " "))
        } else {
            bytes.append(UInt8(ascii: ":"))
        }
    }

    public mutating func string(_ value: String) { JSONValue.write(string: value, into: &bytes) }
    public mutating func int(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }
    public mutating func double(_ value: Double) { bytes.append(contentsOf: JSONValue.text(of: value).utf8) }
    public mutating func bool(_ value: Bool) { bytes.append(contentsOf: (value ? "true" : "false").utf8) }
    public mutating func null() { bytes.append(contentsOf: "null".utf8) }

    public mutating func string(_ value: String?) { if let value { string(value) } else { null() } }
    public mutating func int(_ value: Int?) { if let value { int(value) } else { null() } }
    public mutating func double(_ value: Double?) { if let value { double(value) } else { null() } }

    /// A field written as `Encodable`'s `encode` writes it: null when absent.
    public mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        string(value)
    }
    public mutating func field(_ name: StaticString, _ value: Int?) {
        key(name)
        int(value)
    }
    public mutating func field(_ name: StaticString, _ value: Double?) {
        key(name)
        double(value)
    }
    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// A field written as `encodeIfPresent` writes it: left out when absent.
    public mutating func field(_ name: StaticString, ifPresent value: String?) { if let value { field(name, value) } }
    public mutating func field(_ name: StaticString, ifPresent value: Int?) { if let value { field(name, value) } }
    public mutating func field(_ name: StaticString, ifPresent value: Double?) { if let value { field(name, value) } }
    public mutating func field(_ name: StaticString, ifPresent value: Bool?) { if let value { field(name, value) } }

    /// A ``JSONValue`` (its objects' keys sorted as it writes them).
    public mutating func value(_ value: JSONValue) {
        if pretty { value.write(into: &bytes, indent: level) } else { value.write(into: &bytes) }
    }

    /// Any other value by its `Encodable` conformance (through ``JSONValueEncoder``), or null: for the
    /// parts of a written type that are rare or small.
    public mutating func encodable(_ value: (some Encodable)?) throws {
        guard let value else { return null() }
        let child = try JSONValueEncoder.child(value, codingPath: [])
        if pretty { child.write(into: &bytes, indent: level) } else { child.resolved.write(into: &bytes) }
    }

    /// A string-keyed dictionary of strings, keys sorted.
    public mutating func strings(_ dictionary: [String: String]) {
        object { writer in
            for (key, value) in dictionary.sorted(by: { $0.key < $1.key }) {
                writer.key(key)
                writer.string(value)
            }
        }
    }

    mutating func container(open: UInt8, close: UInt8, _ body: (inout JSONTextWriter) throws -> Void) rethrows {
        bytes.append(open)
        let outerEmpty = empty
        empty = true
        level += 1
        try body(&self)
        level -= 1
        if pretty {
            if empty { bytes.append(0x0A) }
            JSONValue.newline(level, into: &bytes)
        }
        bytes.append(close)
        empty = outerEmpty
    }

    /// Before an element of the container being written: a comma after the one before, a new line.
    mutating func separate() {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        if pretty { JSONValue.newline(level, into: &bytes) }
    }
}
