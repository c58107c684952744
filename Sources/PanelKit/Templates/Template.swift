import ModelBackends

/// What a template sees: text, numbers, flags, lists and objects (Mustache's "context").
public enum TemplateValue: Sendable, Hashable {
    case text(String)
    case number(Int)
    case flag(Bool)
    case list([TemplateValue])
    case object(TemplateFields)

    subscript(name: String) -> TemplateValue? {
        if case .object(let fields) = self { return fields[name] }
        return nil
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .flag(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .object(TemplateFields(pairs: elements.map { TemplateFields.Field(name: $0.0, value: $0.1) }))
    }
}

/// How `{{name}}` escapes text (`{{{name}}}` and `{{&name}}` never do).
public enum TemplateEscaping: Sendable {
    /// `& < > " '` — for HTML.
    case html
    /// Backslash escapes where Markdown would read something into the text — an entity (`&amp;`), a tag or
    /// autolink (`<b>`), a block quote, a link (`[x](…)`) — and nothing else, so names read as written.
    /// Never HTML entities: those belong to the HTML page.
    case markdown
    /// Nothing — for prompts, which are plain text.
    case none
}

/// A Mustache template: variables (`{{x}}`, `{{{x}}}`, `{{&x}}`, dotted names, `{{.}}`), sections
/// (`{{#x}}…{{/x}}`) over lists, objects, flags and text, inverted sections (`{{^x}}…{{/x}}`),
/// comments, and the spec's standalone-line rule (a line holding only a section tag or a comment
/// leaves no blank line behind). Partials, lambdas and delimiter changes are not supported and are
/// reported when a template uses them; pragmas (`{{% … }}`) are ignored.
///
/// Compiled once into a tree and rendered against ``TemplateValue``: lookups are dictionary reads,
/// with no reflection or dynamic casts (swift-mustache's were most of a batch's rendering time).
public struct Template: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case variable(path: [String], escaped: Bool)
        case section(path: [String], inverted: Bool, body: [Node])
    }

    let nodes: [Node]
    public let escaping: TemplateEscaping

    public init(_ source: String, escaping: TemplateEscaping) throws(TemplateSyntaxError) {
        var parser = TemplateParser(source: Array(source.utf8))
        nodes = try parser.parse()
        self.escaping = escaping
    }

    /// Whether the template is text alone (no variable, no section): it renders the same for any value.
    var isConstant: Bool {
        nodes.allSatisfy { if case .text = $0 { true } else { false } }
    }

    public func render(_ value: TemplateValue) -> String {
        var output = ""
        var stack = [value]
        render(nodes, stack: &stack, into: &output)
        return output
    }

    func render(_ nodes: [Node], stack: inout [TemplateValue], into output: inout String) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .variable(let path, let escaped):
                switch Self.lookup(path, in: stack) {
                case .text(let text)?: escaped ? Self.escape(text, escaping, into: &output) : output.append(text)
                case .number(let number)?: output += String(number)
                case .flag(let flag)?: output += flag ? "true" : "false"
                case .list?, .object?, nil: break
                }
            case .section(let path, let inverted, let body):
                let value = Self.lookup(path, in: stack)
                if inverted {
                    switch value {
                    case nil, .flag(false)?: render(body, stack: &stack, into: &output)
                    case .list(let items)? where items.isEmpty: render(body, stack: &stack, into: &output)
                    default: break
                    }
                    continue
                }
                switch value {
                case nil, .flag(false)?: break
                case .flag(true)?: render(body, stack: &stack, into: &output)
                case .list(let items)?:
                    for item in items {
                        stack.append(item)
                        render(body, stack: &stack, into: &output)
                        stack.removeLast()
                    }
                case let value?:
                    stack.append(value)
                    render(body, stack: &stack, into: &output)
                    stack.removeLast()
                }
            }
        }
    }

    /// `.` is the innermost value; otherwise the first name is looked up from the innermost object
    /// outwards and the rest are read from what it found.
    static func lookup(_ path: [String], in stack: [TemplateValue]) -> TemplateValue? {
        guard let first = path.first else { return stack.last }
        var found: TemplateValue?
        for value in stack.reversed() {
            if let child = value[first] {
                found = child
                break
            }
        }
        for name in path.dropFirst() {
            found = found?[name]
        }
        return found
    }

    /// Text escaped as `{{x}}` escapes it: the one HTML (or Markdown) escaping rule, for pages built
    /// outside a template.
    public static func escaped(_ text: String, _ escaping: TemplateEscaping) -> String {
        var output = ""
        escape(text, escaping, into: &output)
        return output
    }

    /// Whether a byte may need escaping (Markdown's `&`, `<` and `>` only where they would start something).
    static func needsEscape(_ byte: UInt8, _ escaping: TemplateEscaping) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"): return escaping != .none
        case UInt8(ascii: "\""), UInt8(ascii: "'"): return escaping == .html
        // `[` and `]` in Markdown: untrusted text never makes a live link (`[click](javascript:…)`).
        case UInt8(ascii: "["), UInt8(ascii: "]"): return escaping == .markdown
        // Control characters (ESC and the rest of C0, DEL; C1 begins with 0xC2) never reach a document.
        case 0x00...0x08, 0x0B, 0x0C, 0x0E...0x1F, 0x7F, 0xC2: return escaping != .none
        default: return false
        }
    }

    /// ``needsEscape(_:_:)`` as a table per escaping, for the scan of text that needs none (most of it).
    static let htmlTable = (0...255).map { needsEscape(UInt8($0), .html) }
    static let markdownTable = (0...255).map { needsEscape(UInt8($0), .markdown) }

    static func escape(_ text: String, _ escaping: TemplateEscaping, into output: inout String) {
        guard escaping != .none else {
            output += text
            return
        }
        func needsEscape(_ byte: UInt8) -> Bool { Self.needsEscape(byte, escaping) }
        let utf8 = text.utf8
        // Most text needs no escape: scanned as contiguous bytes (a native string's storage), not index by
        // index, each byte looked up in its escaping's table.
        let table = escaping == .html ? Self.htmlTable : Self.markdownTable
        let needed =
            utf8.withContiguousStorageIfAvailable { bytes in
                table.withUnsafeBufferPointer { table in bytes.contains { table[Int($0)] } }
            } ?? utf8.contains(where: needsEscape)
        guard needed else {
            output += text
            return
        }
        /// In Markdown, `&`, `<` and `>` need a backslash only where they would start something: an entity
        /// (`&amp;`, `&#60;`), a tag or autolink (`<b`, `</`, `<!`, `<?`), a block quote (`>` first). Elsewhere
        /// they stay as written, so `API & Router` reads `API & Router` in the Markdown source too.
        func markdownNeedsEscape(_ byte: UInt8, at index: String.UTF8View.Index) -> Bool {
            let next = utf8.index(after: index)
            let following = next < utf8.endIndex ? utf8[next] : nil
            func isAlphanumeric(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A || (0x30...0x39).contains(b) }
            switch byte {
            case UInt8(ascii: "&"):
                // `&name;` or `&#123;`: an entity reference a Markdown reader would decode.
                var cursor = next
                var count = 0
                if cursor < utf8.endIndex, utf8[cursor] == UInt8(ascii: "#") { cursor = utf8.index(after: cursor) }
                while cursor < utf8.endIndex, isAlphanumeric(utf8[cursor]), count < 32 {
                    cursor = utf8.index(after: cursor)
                    count += 1
                }
                // At the end of the text the entity could go on in the next value a template writes after it
                // (a paragraph is written in segments around its claims): escaped.
                return cursor == utf8.endIndex || count > 0 && utf8[cursor] == UInt8(ascii: ";")
            case UInt8(ascii: "<"):
                guard let following else { return true }  // a tag could go on in the next value written
                return isAlphanumeric(following) || "/!?".utf8.contains(following)
            case UInt8(ascii: ">"):
                if index == utf8.startIndex { return true }
                return utf8[utf8.index(before: index)] == UInt8(ascii: "\n")
            default: return true
            }
        }
        var run = utf8.startIndex
        var index = run
        while index < utf8.endIndex {
            let byte = utf8[index]
            guard needsEscape(byte), escaping != .markdown || markdownNeedsEscape(byte, at: index) else {
                index = utf8.index(after: index)
                continue
            }
            var next = utf8.index(after: index)
            let replacement: String
            switch byte {
            case UInt8(ascii: "&"): replacement = escaping == .markdown ? "\\&" : "&amp;"
            case UInt8(ascii: "<"): replacement = escaping == .markdown ? "\\<" : "&lt;"
            case UInt8(ascii: ">"): replacement = escaping == .markdown ? "\\>" : "&gt;"
            case UInt8(ascii: "\""): replacement = "&quot;"
            case UInt8(ascii: "'"): replacement = "&#39;"
            case UInt8(ascii: "["): replacement = "\\["
            case UInt8(ascii: "]"): replacement = "\\]"
            case 0xC2:
                // U+0080–U+00BF: only U+0080–U+009F (C1 controls) go; `©`, `°`, a no-break space stay.
                guard next < utf8.endIndex, (0x80...0x9F).contains(utf8[next]) else {
                    index = next
                    continue
                }
                next = utf8.index(after: next)
                replacement = "\u{FFFD}"
            default: replacement = "\u{FFFD}"
            }
            output += text[run..<index]
            output += replacement
            run = next
            index = next
        }
        output += text[run..<utf8.endIndex]
    }
}

/// A template that cannot be compiled, with the line it fails on.
public struct TemplateSyntaxError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var problem: String
    public var description: String { "line \(line): \(problem)" }
}

/// Tokenizes and nests a template in one pass over its UTF-8 bytes.
struct TemplateParser {
    let source: [UInt8]
    /// Where the last tag ended: the text from here on is not emitted yet.
    var position = 0

    init(source: [UInt8]) { self.source = source }

    static let opener = Array("{{".utf8)
    static let closer = Array("}}".utf8)
    static let tripleCloser = Array("}}}".utf8)
    /// Tags that stand alone on their line leave no blank line behind.
    static let standaloneKinds = Array("#^/!%".utf8)

    mutating func parse() throws(TemplateSyntaxError) -> [Template.Node] {
        /// An open section (the bottom one is the template itself).
        struct Frame {
            var path: [String] = []
            var name = ""
            var inverted = false
            var nodes: [Template.Node] = []
            /// Where its tag opens: its line is counted only for an error (counting it for every section
            /// read the template from its start again at each one).
            var offset = 0
        }
        var frames = [Frame()]
        /// The text from `position` (where the last tag ended) to `end`, if any.
        func emitText(_ end: Int, into frames: inout [Frame]) {
            if end > position {
                frames[frames.count - 1].nodes.append(.text(String(decoding: source[position..<end], as: UTF8.self)))
            }
        }
        while let open = find(Self.opener, from: position) {
            var kind: UInt8 = 0
            var contentStart = open + 2
            if contentStart < source.count, "{&#^/!%>=<$".utf8.contains(source[contentStart]) {
                kind = source[contentStart]
                contentStart += 1
            }
            let closer = kind == UInt8(ascii: "{") ? Self.tripleCloser : Self.closer
            guard let close = find(closer, from: contentStart) else {
                throw TemplateSyntaxError(line: line(at: open), problem: "a tag opened with '{{' is never closed")
            }
            let name = String(decoding: source[contentStart..<close], as: UTF8.self).trimmedWhitespace()
            var tagEnd = close + closer.count
            var tagStart = open
            if Self.standaloneKinds.contains(kind), let (lineStart, lineEnd) = standaloneLine(tagStart: open, tagEnd: tagEnd) {
                tagStart = lineStart
                tagEnd = lineEnd
            }
            emitText(max(tagStart, position), into: &frames)
            let path = name == "." ? [] : name.split(separator: ".").map(String.init)
            switch kind {
            case UInt8(ascii: "#"), UInt8(ascii: "^"):
                guard !name.isEmpty else { throw TemplateSyntaxError(line: line(at: open), problem: "a section tag has no name") }
                frames.append(Frame(path: path, name: name, inverted: kind == UInt8(ascii: "^"), offset: open))
            case UInt8(ascii: "/"):
                let frame = frames.removeLast()
                guard !frames.isEmpty, frame.name == name else {
                    let expected = frames.isEmpty ? "no section is open" : "expected {{/\(frame.name)}}"
                    throw TemplateSyntaxError(line: line(at: open), problem: "{{/\(name)}} closes nothing here (\(expected))")
                }
                frames[frames.count - 1].nodes.append(.section(path: frame.path, inverted: frame.inverted, body: frame.nodes))
            case UInt8(ascii: "!"), UInt8(ascii: "%"):
                break
            case UInt8(ascii: ">"), UInt8(ascii: "<"), UInt8(ascii: "$"):
                throw TemplateSyntaxError(line: line(at: open), problem: "partials and blocks ({{>…}}) are not supported")
            case UInt8(ascii: "="):
                throw TemplateSyntaxError(line: line(at: open), problem: "changing delimiters ({{=…=}}) is not supported")
            default:
                guard !name.isEmpty else { throw TemplateSyntaxError(line: line(at: open), problem: "a tag has no name") }
                frames[frames.count - 1].nodes.append(.variable(path: path, escaped: kind == 0))
            }
            position = tagEnd
        }
        emitText(source.count, into: &frames)
        guard frames.count == 1, let root = frames.first else {
            let open = frames[frames.count - 1]
            throw TemplateSyntaxError(line: line(at: open.offset), problem: "section {{#\(open.name)}} is never closed")
        }
        return root.nodes
    }

    /// When only blanks share the tag's line, the line's range (its line break included), which
    /// renders as nothing; nil otherwise.
    func standaloneLine(tagStart: Int, tagEnd: Int) -> (Int, Int)? {
        var start = tagStart
        while start > 0, source[start - 1] == UInt8(ascii: " ") || source[start - 1] == UInt8(ascii: "\t") { start -= 1 }
        guard start == 0 || source[start - 1] == UInt8(ascii: "\n") else { return nil }
        var end = tagEnd
        while end < source.count, source[end] == UInt8(ascii: " ") || source[end] == UInt8(ascii: "\t") { end += 1 }
        if end == source.count { return (start, end) }
        if source[end] == UInt8(ascii: "\n") { return (start, end + 1) }
        if source[end] == UInt8(ascii: "\r"), end + 1 < source.count, source[end + 1] == UInt8(ascii: "\n") { return (start, end + 2) }
        return nil
    }

    func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard needle.count <= source.count else { return nil }
        var index = start
        while index + needle.count <= source.count {
            if source[index] == needle[0], source[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    func line(at offset: Int) -> Int { source[..<min(offset, source.count)].reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 } }
}
