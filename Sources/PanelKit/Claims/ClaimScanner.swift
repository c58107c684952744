import ModelBackends

/// The words, numbers and symbols of a text, with their Unicode scalar offsets: what the claim rules read.
///
/// One pass over the scalars; words are lower-cased once. A number keeps its digits as written (for a
/// version's text and for the precision a figure was given with).
struct ClaimToken {
    enum Kind: Equatable {
        case number
        case word
        case symbol
    }

    var kind: Kind
    /// Scalar offsets, end-exclusive.
    var start: Int
    var end: Int
    /// A word lower-cased; a number's digits as written (grouping commas dropped); a symbol itself.
    var text: String
    /// A number's value (`nil` for "1.2.3", which is only a version).
    var value: Double?
    /// Digits after the decimal point.
    var decimals: Int = 0
    /// No space between this token and the one before.
    var attached: Bool

    func isWord(_ word: String) -> Bool { kind == .word && text == word }
    func isSymbol(_ symbol: String) -> Bool { kind == .symbol && text == symbol }
    /// `.`, `!`, `?`, `;` or `:` followed by a space or the end: a sentence or clause ends.
    var isBoundary: Bool { kind == .symbol && (text == "." || text == "!" || text == "?" || text == ";") }
    /// A sentence's end or a comma: what a figure's subject does not cross.
    var isClause: Bool { isBoundary || (kind == .symbol && (text == "," || text == "—" || text == "(" || text == ")")) }
}

enum ClaimScanner {
    static func tokens(_ scalars: [Unicode.Scalar]) -> [ClaimToken] {
        var tokens: [ClaimToken] = []
        tokens.reserveCapacity(scalars.count / 4)
        var index = 0
        var spaced = true
        let count = scalars.count
        @inline(__always) func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 48 && s.value <= 57 }
        @inline(__always) func isLetter(_ s: Unicode.Scalar) -> Bool {
            let v = s.value
            if v < 128 { return (v >= 65 && v <= 90) || (v >= 97 && v <= 122) }
            return s.properties.isAlphabetic
        }
        while index < count {
            let scalar = scalars[index]
            if isDigit(scalar) {
                let start = index
                var digits = String.UnicodeScalarView()
                var dots = 0
                var decimals = 0
                while index < count {
                    let s = scalars[index]
                    if isDigit(s) {
                        digits.append(s)
                        if dots > 0 { decimals += 1 }
                        index += 1
                    } else if s == ",", dots == 0, index + 3 < count, isDigit(scalars[index + 1]), isDigit(scalars[index + 2]),
                        isDigit(scalars[index + 3]), index + 4 >= count || !isDigit(scalars[index + 4])
                    {
                        index += 1  // a grouping comma: 1,000
                    } else if s == ".", index + 1 < count, isDigit(scalars[index + 1]) {
                        digits.append(s)
                        dots += 1
                        decimals = 0
                        index += 1
                    } else {
                        break
                    }
                }
                let text = String(digits)
                tokens.append(
                    ClaimToken(
                        kind: .number, start: start, end: index, text: text, value: dots <= 1 ? Double(text) : nil,
                        decimals: dots <= 1 ? decimals : 0, attached: !spaced))
                spaced = false
            } else if isLetter(scalar) {
                let start = index
                var ascii = true
                while index < count {
                    let s = scalars[index]
                    if isLetter(s) {
                        if s.value >= 128 { ascii = false }
                        index += 1
                    } else if s == "'" || s == "\u{2019}", index + 1 < count, isLetter(scalars[index + 1]), index > start {
                        index += 1
                    } else {
                        break
                    }
                }
                let text: String
                if ascii {
                    // ASCII words (nearly all) are lower-cased byte by byte straight into the string, a
                    // typographic apostrophe written as `'`.
                    let length = index - start
                    text = String(unsafeUninitializedCapacity: length) { buffer in
                        for offset in 0..<length {
                            let v = scalars[start + offset].value
                            buffer[offset] = v == 0x2019 ? UInt8(ascii: "'") : UInt8(v >= 65 && v <= 90 ? v + 32 : v)
                        }
                        return length
                    }
                } else {
                    var view = String.UnicodeScalarView()
                    view.append(contentsOf: scalars[start..<index].map { $0 == "\u{2019}" ? "'" : $0 })
                    text = String(view).lowercased()
                }
                tokens.append(ClaimToken(kind: .word, start: start, end: index, text: text, attached: !spaced))
                spaced = false
            } else if scalar == " " || scalar == "\n" || scalar == "\t" || scalar == "\r"
                || (scalar.value >= 128 && scalar.properties.isWhitespace)
            {
                spaced = true
                index += 1
            } else {
                tokens.append(ClaimToken(kind: .symbol, start: index, end: index + 1, text: String(scalar), attached: !spaced))
                spaced = false
                index += 1
            }
        }
        return tokens
    }
}

extension String {
    /// The string's Unicode scalars as an array — what the claim rules read — decoded in one pass over its
    /// UTF-8 (valid, being a String's). `Array(unicodeScalars)` walked the scalars twice, counting them first.
    var scalarArray: [Unicode.Scalar] {
        var text = self
        return text.withUTF8 { bytes in
            [Unicode.Scalar](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
                var index = 0
                var count = 0
                while index < bytes.count {
                    let lead = UInt32(bytes[index])
                    var value = lead
                    var length = 1
                    if lead >= 0xF0 {
                        value = lead & 0x07
                        length = 4
                    } else if lead >= 0xE0 {
                        value = lead & 0x0F
                        length = 3
                    } else if lead >= 0xC0 {
                        value = lead & 0x1F
                        length = 2
                    }
                    for offset in 1..<length where index + offset < bytes.count {
                        value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
                    }
                    (buffer.baseAddress! + count).initialize(to: Unicode.Scalar(value) ?? "\u{FFFD}")
                    count += 1
                    index += length
                }
                initialized = count
            }
        }
    }
}
