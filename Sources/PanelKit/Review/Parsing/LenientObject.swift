import ModelBackends

/// Reads the object literals models write when they mean JSON but produce something else: Python
/// dicts (`{'score': 64, 'ship': True}`), JavaScript/JSON5 objects (unquoted keys, single quotes,
/// trailing commas, `//` comments), and plain JSON. Values only — nothing is ever evaluated.
///
/// Used after ``JSONValue/parse(_:)`` fails, so plain JSON keeps its fast reader.
enum LenientObject {
    /// The value of the whole text, or `nil` when it is not one literal.
    static func parse(_ text: Substring) -> JSONValue? {
        var reader = Reader(scalars: String(text).scalarArray)
        reader.skipSpace()
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipSpace()
        return reader.index == reader.scalars.count ? value : nil
    }

    private struct Reader {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        static let maximumDepth = 64

        var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        mutating func skipSpace() {
            while let c = current {
                if c.properties.isWhitespace {
                    index += 1
                } else if c == "/", index + 1 < scalars.count, scalars[index + 1] == "/" {
                    while let c = current, c != "\n" { index += 1 }
                } else if c == "#" {
                    while let c = current, c != "\n" { index += 1 }
                } else {
                    return
                }
            }
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < Self.maximumDepth, let c = current else { return nil }
            switch c {
            case "{": return object(depth: depth + 1)
            case "[": return array(depth: depth + 1)
            case "\"", "'": return string().map(JSONValue.string)
            case "-", "+", "0"..."9", ".": return number()
            default:
                guard let word = identifier() else { return nil }
                switch word {
                case "true", "True": return .bool(true)
                case "false", "False": return .bool(false)
                case "null", "None", "nil", "undefined": return .null
                default: return nil
                }
            }
        }

        mutating func object(depth: Int) -> JSONValue? {
            index += 1
            var fields: [String: JSONValue] = [:]
            while true {
                skipSpace()
                guard let c = current else { return nil }
                if c == "}" {
                    index += 1
                    return .object(fields)
                }
                let key: String?
                if c == "\"" || c == "'" { key = string() } else { key = identifier() }
                guard let key else { return nil }
                skipSpace()
                guard current == ":" || current == "=" else { return nil }
                index += 1
                skipSpace()
                guard let value = value(depth: depth) else { return nil }
                if fields[key] == nil { fields[key] = value }
                skipSpace()
                if current == "," {
                    index += 1
                } else if current != "}" {
                    return nil
                }
            }
        }

        mutating func array(depth: Int) -> JSONValue? {
            index += 1
            var values: [JSONValue] = []
            while true {
                skipSpace()
                guard let c = current else { return nil }
                if c == "]" {
                    index += 1
                    return .array(values)
                }
                guard let value = value(depth: depth) else { return nil }
                values.append(value)
                skipSpace()
                if current == "," {
                    index += 1
                } else if current != "]" {
                    return nil
                }
            }
        }

        mutating func identifier() -> String? {
            var scalarsOfWord = String.UnicodeScalarView()
            while let c = current, c.properties.isAlphabetic || c == "_" || c == "$" || ("0"..."9").contains(c) {
                scalarsOfWord.append(c)
                index += 1
            }
            return scalarsOfWord.isEmpty ? nil : String(scalarsOfWord)
        }

        mutating func string() -> String? {
            guard let quote = current else { return nil }
            index += 1
            var out = String.UnicodeScalarView()
            while let c = current {
                index += 1
                if c == quote { return String(out) }
                guard c == "\\" else {
                    out.append(c)
                    continue
                }
                guard let escaped = current else { return nil }
                index += 1
                switch escaped {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "0": out.append("\u{FFFD}")
                case "u":
                    guard index + 4 <= scalars.count,
                        let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16)
                    else { return nil }
                    index += 4
                    out.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                case "\n": continue
                case "\"", "'", "\\", "/": out.append(escaped)
                default:
                    // Python keeps an unknown escape as written.
                    out.append("\\")
                    out.append(escaped)
                }
            }
            return nil
        }

        mutating func number() -> JSONValue? {
            let start = index
            if current == "-" || current == "+" { index += 1 }
            while let c = current, ("0"..."9").contains(c) || c == "." || c == "e" || c == "E" || c == "_" {
                index += 1
                if (c == "e" || c == "E"), current == "-" || current == "+" { index += 1 }
            }
            let text = String(String.UnicodeScalarView(scalars[start..<index].filter { $0 != "_" }))
            let unsigned = text.hasPrefix("+") ? String(text.dropFirst()) : text
            if let value = Int(unsigned) { return .int(value) }
            if let value = Double(unsigned), value.isFinite { return .double(value) }
            return nil
        }
    }
}
