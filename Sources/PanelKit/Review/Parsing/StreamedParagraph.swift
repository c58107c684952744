/// What a live view shows of an answer while it streams: the paragraph, not the model's raw output.
/// A structured answer (`{"rationale": "…", "score": …}`, fenced or not) is read as it arrives and only
/// its paragraph's text — the first string under one of the parser's text keys, escapes decoded — is
/// passed on; an answer that is not a JSON object passes through as it is. The raw text is kept for the
/// document (the parser reads the whole answer). Pieces may split anywhere, escapes included.
public struct StreamedParagraph: Sendable {
    enum Mode: Sendable {
        /// Nothing but white space yet.
        case start
        /// Inside a ```` ``` ```` fence's first line.
        case fence
        /// Not JSON: everything passes through.
        case plain
        /// Inside the top-level object.
        case object(ObjectState)
        /// The paragraph was read (or the object ended): nothing more is shown.
        case done
    }

    enum ObjectState: Sendable {
        case keyOrEnd
        case key(escaped: Bool)
        case colon
        case value
        case paragraph
        case skipString(escaped: Bool)
        case skipNested(depth: Int, inString: Bool, escaped: Bool)
        case skipScalar
    }

    var bytes: [UInt8] = []
    var index = 0
    var mode = Mode.start
    var key: [UInt8] = []

    public init() {}

    /// Takes the next piece of the raw answer; returns the text to show now (possibly empty).
    public mutating func feed(_ piece: String) -> String {
        if case .plain = mode { return piece }
        bytes.append(contentsOf: piece.utf8)
        var shown: [UInt8] = []
        advance(into: &shown)
        if case .plain = mode {
            // Decided just now: all that came so far is shown.
            defer { bytes = [] }
            return String(decoding: bytes, as: UTF8.self)
        }
        return String(decoding: shown, as: UTF8.self)
    }

    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    /// Whether a key names the paragraph: the parser's text keys, compared as it compares them.
    static func isParagraphKey(_ key: [UInt8]) -> Bool {
        AnswerFindings.keyRoles[AnswerFindings.normalizedKey(String(decoding: key, as: UTF8.self))]?.kind == .text
    }

    mutating func advance(into shown: inout [UInt8]) {
        while index < bytes.count {
            let byte = bytes[index]
            switch mode {
            case .start:
                if Self.isSpace(byte) {
                    index += 1
                } else if byte == UInt8(ascii: "{") {
                    index += 1
                    mode = .object(.keyOrEnd)
                } else if byte == UInt8(ascii: "`") {
                    mode = .fence
                } else {
                    mode = .plain
                    return
                }
            case .fence:
                // The fence's opening line (```json) ends at its newline; then the object is expected.
                guard let newline = bytes[index...].firstIndex(of: 0x0A) else { return }
                index = newline + 1
                mode = .start
            case .plain, .done:
                return
            case .object(let state):
                guard let next = step(state, byte, into: &shown) else { return }
                mode = next
            }
        }
    }

    /// One step inside the object: the next mode, or nil to wait for more bytes.
    mutating func step(_ state: ObjectState, _ byte: UInt8, into shown: inout [UInt8]) -> Mode? {
        switch state {
        case .keyOrEnd:
            index += 1
            if byte == Self.quote {
                key = []
                return .object(.key(escaped: false))
            }
            return byte == UInt8(ascii: "}") ? .done : .object(.keyOrEnd)
        case .key(let escaped):
            index += 1
            if escaped { return .object(.key(escaped: false)) }
            if byte == Self.backslash { return .object(.key(escaped: true)) }
            if byte == Self.quote { return .object(.colon) }
            key.append(byte)
            return .object(.key(escaped: false))
        case .colon:
            index += 1
            return byte == UInt8(ascii: ":") ? .object(.value) : .object(.colon)
        case .value:
            if Self.isSpace(byte) {
                index += 1
                return .object(.value)
            }
            index += 1
            switch byte {
            case Self.quote: return Self.isParagraphKey(key) ? .object(.paragraph) : .object(.skipString(escaped: false))
            case UInt8(ascii: "{"), UInt8(ascii: "["): return .object(.skipNested(depth: 1, inString: false, escaped: false))
            default: return .object(.skipScalar)
            }
        case .paragraph:
            if byte == Self.quote {
                index += 1
                return .done
            }
            guard byte == Self.backslash else {
                shown.append(byte)
                index += 1
                return .object(.paragraph)
            }
            guard let (decoded, length) = decodeEscape(at: index) else { return nil }
            shown.append(contentsOf: decoded)
            index += length
            return .object(.paragraph)
        case .skipString(let escaped):
            index += 1
            if escaped { return .object(.skipString(escaped: false)) }
            if byte == Self.backslash { return .object(.skipString(escaped: true)) }
            return byte == Self.quote ? .object(.keyOrEnd) : .object(.skipString(escaped: false))
        case .skipNested(let depth, let inString, let escaped):
            index += 1
            if inString {
                if escaped { return .object(.skipNested(depth: depth, inString: true, escaped: false)) }
                if byte == Self.backslash { return .object(.skipNested(depth: depth, inString: true, escaped: true)) }
                return .object(.skipNested(depth: depth, inString: byte != Self.quote, escaped: false))
            }
            switch byte {
            case Self.quote: return .object(.skipNested(depth: depth, inString: true, escaped: false))
            case UInt8(ascii: "{"), UInt8(ascii: "["): return .object(.skipNested(depth: depth + 1, inString: false, escaped: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                return depth == 1 ? .object(.keyOrEnd) : .object(.skipNested(depth: depth - 1, inString: false, escaped: false))
            default: return .object(.skipNested(depth: depth, inString: false, escaped: false))
            }
        case .skipScalar:
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") { return .object(.keyOrEnd) }
            index += 1
            return .object(.skipScalar)
        }
    }

    /// The escape at `at` (a backslash) decoded, and its length; nil while it is incomplete.
    func decodeEscape(at start: Int) -> ([UInt8], Int)? {
        guard start + 1 < bytes.count else { return nil }
        switch bytes[start + 1] {
        case UInt8(ascii: "n"): return ([0x0A], 2)
        case UInt8(ascii: "t"): return ([0x09], 2)
        case UInt8(ascii: "r"): return ([0x0D], 2)
        case UInt8(ascii: "b"), UInt8(ascii: "f"): return ([], 2)
        case UInt8(ascii: "u"):
            guard let high = hex(at: start + 2) else { return nil }
            var scalar = high
            var length = 6
            if (0xD800..<0xDC00).contains(high) {
                // A surrogate pair: its second half must follow.
                guard start + 12 <= bytes.count else { return nil }
                if bytes[start + 6] == Self.backslash, bytes[start + 7] == UInt8(ascii: "u"), let low = hex(at: start + 8),
                    (0xDC00..<0xE000).contains(low)
                {
                    scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    length = 12
                }
            }
            return (Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8), length)
        default:
            // \" \\ \/ and anything else: the character itself.
            return ([bytes[start + 1]], 2)
        }
    }

    /// Four hex digits at `at`, or nil while they have not all arrived (or are not hex).
    func hex(at start: Int) -> UInt32? {
        guard start + 4 <= bytes.count else { return nil }
        return UInt32(String(decoding: bytes[start..<start + 4], as: UTF8.self), radix: 16)
    }
}
