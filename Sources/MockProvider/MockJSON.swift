import Foundation

/// The mock's JSON writer for the values it builds itself (text, integers, doubles, flags, null,
/// arrays and objects); anything else goes through JSONSerialization. Written apart from panel's own
/// JSON code on purpose: the mock is what that code is tested against. Profiling showed
/// JSONSerialization's bridging at a fifth of the mock's CPU, which skewed the benchmarks' wall times.
enum MockJSON {
    static func text(_ value: Any) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    static func write(_ value: Any, into out: inout String) {
        switch value {
        case let text as String: quote(text, into: &out)
        case let number as Int: out += String(number)
        case let number as Double: out += number.isFinite ? String(number) : "null"
        case let flag as Bool: out += flag ? "true" : "false"
        case is NSNull: out += "null"
        case let object as [String: Any]:
            out += "{"
            var first = true
            for (key, element) in object {
                if !first { out += "," }
                first = false
                quote(key, into: &out)
                out += ":"
                write(element, into: &out)
            }
            out += "}"
        case let array as [Any]:
            out += "["
            for (index, element) in array.enumerated() {
                if index > 0 { out += "," }
                write(element, into: &out)
            }
            out += "]"
        default:
            let data = (try? JSONSerialization.data(withJSONObject: [value], options: [.fragmentsAllowed])) ?? Data("[null]".utf8)
            out += String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
        }
    }

    static func quote(_ text: String, into out: inout String) {
        out += "\""
        var run = text.unicodeScalars.startIndex
        let scalars = text.unicodeScalars
        var index = run
        while index < scalars.endIndex {
            let scalar = scalars[index]
            let escaped: String?
            switch scalar {
            case "\"": escaped = "\\\""
            case "\\": escaped = "\\\\"
            case "\n": escaped = "\\n"
            case "\r": escaped = "\\r"
            case "\t": escaped = "\\t"
            case _ where scalar.value < 0x20:
                escaped = "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: escaped = nil
            }
            if let escaped {
                out += String(scalars[run..<index])
                out += escaped
                run = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        out += String(scalars[run..<scalars.endIndex])
        out += "\""
    }

    static let hexDigits = Array("0123456789abcdef")

    /// Lowercase hex of bytes.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        }
        return out
    }
}
