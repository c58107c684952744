/// One line of an answer as words, numbers, symbols and verdict marks, with Markdown decoration
/// (`*`, `_`, `#`, `>`, backticks, `~`) dropped, so `**Score:** 78` and `Score: 78` read the same.
struct AnswerToken {
    enum Kind: Equatable {
        /// Lowercased, typographic apostrophes made straight (`I’d` → `i'd`).
        case word(String)
        case number(Double, text: String)
        case symbol(Character)
        /// ✅ 👍 🟢 🚢 → ship; ❌ 👎 🔴 ⛔ 🚫 → skip.
        case mark(Verdict)
    }

    var kind: Kind
    /// Where the token is in its line.
    var range: Range<String.Index>

    var word: String? {
        if case .word(let word) = kind { return word }
        return nil
    }

    var symbol: Character? {
        if case .symbol(let symbol) = kind { return symbol }
        return nil
    }

    func isWord(_ candidates: Set<String>) -> Bool {
        word.map(candidates.contains) ?? false
    }

    static let decorationScalars: Set<Unicode.Scalar> = ["*", "_", "#", ">", "`", "~"]
    static let shipMarks: Set<Unicode.Scalar> = ["\u{2705}", "\u{2714}", "\u{2611}", "\u{1F44D}", "\u{1F7E2}", "\u{1F6A2}"]
    static let skipMarks: Set<Unicode.Scalar> = [
        "\u{274C}", "\u{2716}", "\u{2717}", "\u{2718}", "\u{1F44E}", "\u{1F534}", "\u{26D4}", "\u{1F6AB}", "\u{1F6D1}", "\u{274E}",
    ]

    /// The tokens of one line. Works on Unicode scalars (a `Character` walk with `lowercased()` per
    /// letter was most of the parser's time on long prose answers).
    static func tokenize(_ line: Substring) -> [AnswerToken] {
        var tokens: [AnswerToken] = []
        let scalars = line.unicodeScalars
        var index = scalars.startIndex
        @inline(__always) func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 48 && s.value <= 57 }
        @inline(__always) func isLetter(_ s: Unicode.Scalar) -> Bool {
            s.isASCII ? (s.value | 0x20) >= 97 && (s.value | 0x20) <= 122 : s.properties.isAlphabetic
        }
        func appendLowercased(_ s: Unicode.Scalar, to word: inout String) {
            if s.value >= 65 && s.value <= 90 {
                word.unicodeScalars.append(Unicode.Scalar(s.value | 0x20)!)
            } else if s.isASCII {
                word.unicodeScalars.append(s)
            } else {
                word += s.properties.lowercaseMapping
            }
        }
        while index < scalars.endIndex {
            let c = scalars[index]
            let next = scalars.index(after: index)
            // White space, Markdown decoration, variation selectors and joiners carry no meaning here.
            if c.properties.isWhitespace || decorationScalars.contains(c) || c.value == 0xFE0F || c.value == 0x200D {
                index = next
                continue
            }
            if isDigit(c) {
                var end = next
                while end < scalars.endIndex, isDigit(scalars[end]) { end = scalars.index(after: end) }
                // A decimal part: `7.8`, `7,8` (not `78, ship`: a comma needs a digit right after it).
                if end < scalars.endIndex, scalars[end] == "." || scalars[end] == "," {
                    let afterPoint = scalars.index(after: end)
                    if afterPoint < scalars.endIndex, isDigit(scalars[afterPoint]) {
                        end = afterPoint
                        while end < scalars.endIndex, isDigit(scalars[end]) { end = scalars.index(after: end) }
                    }
                }
                var text = ""
                var normalized = ""
                for scalar in scalars[index..<end] {
                    text.unicodeScalars.append(scalar)
                    normalized.unicodeScalars.append(scalar == "," ? "." : scalar)
                }
                if let value = Double(normalized), value.isFinite {
                    tokens.append(AnswerToken(kind: .number(value, text: text), range: index..<end))
                } else {
                    tokens.append(AnswerToken(kind: .symbol("#"), range: index..<end))
                }
                index = end
                continue
            }
            if isLetter(c) {
                var end = next
                var word = ""
                appendLowercased(c, to: &word)
                while end < scalars.endIndex {
                    let d = scalars[end]
                    if isLetter(d) || isDigit(d) {
                        appendLowercased(d, to: &word)
                        end = scalars.index(after: end)
                        continue
                    }
                    // An apostrophe, hyphen or underscore joins two word parts: `don't`, `no-go`, `overall_score`.
                    let afterJoin = scalars.index(after: end)
                    if d == "'" || d == "\u{2019}" || d == "-" || d == "_", afterJoin < scalars.endIndex, isLetter(scalars[afterJoin]) {
                        word.unicodeScalars.append(d == "\u{2019}" ? "'" : d)
                        end = afterJoin
                        continue
                    }
                    break
                }
                tokens.append(AnswerToken(kind: .word(word), range: index..<end))
                index = end
                continue
            }
            if shipMarks.contains(c) || skipMarks.contains(c) {
                tokens.append(AnswerToken(kind: .mark(shipMarks.contains(c) ? .ship : .skip), range: index..<next))
                index = next
                continue
            }
            tokens.append(AnswerToken(kind: .symbol(Character(c)), range: index..<next))
            index = next
        }
        return tokens
    }
}

/// A score as written, before it is checked: `78`, `78/100`, `7.8/10`, `4/5`, `78%`, `78 out of 100`, `[[7.8]]`.
struct ScoreExpression {
    var value: Double
    /// 100, 10 or 5 when written, else nil (the 0–100 scale the prompt asks for).
    var scale: Double?
    var isBracketed: Bool
    var text: String
    var end: Int

    /// The score on 0–100, or why it is not one.
    var reading: ScoreReading {
        let scaled = value * 100 / (scale ?? 100)
        guard scaled >= 0, scaled <= 100 else { return .outOfRange(text) }
        // 0.78 with no scale is a 0–1 fraction, not a score of 1: asking again beats guessing.
        if scale == nil, value > 0, value < 1 { return .outOfRange(text) }
        return .value(Int(scaled.rounded()))
    }
}

enum ScoreReading: Hashable {
    case value(Int)
    case outOfRange(String)
    case notANumber(String)
}

enum AnswerGrammar {
    static let boundarySymbols: Set<Character> = [
        "|", "·", "•", ";", "(", ")", ",", ".", "!", "?", ":", "—", "–", "-", "/", "[", "]", "=", "→",
    ]
    static let negations: Set<String> = [
        "not", "don't", "dont", "never", "wouldn't", "won't", "shouldn't", "can't", "cannot", "couldn't", "no",
    ]

    static let pairFillers: Set<String> = ["and", "with", "a", "so", "verdict"]
    static let lineFillers: Set<String> = ["and", "it", "with", "verdict", "so"]
    static let overallRows: Set<String> = ["overall", "total", "final", "panel"]
    static let conjunctions: Set<String> = ["and", "so", "then"]
    static let pointWords: Set<String> = ["points", "pts", "pt"]
    static let negationsAndAuxiliaries = negations.union(["do", "would", "should"])

    /// A score expression starting at `i`.
    static func score(in tokens: [AnswerToken], at start: Int) -> ScoreExpression? {
        var i = start
        var brackets = 0
        while i < tokens.count, tokens[i].symbol == "[", brackets < 2 {
            brackets += 1
            i += 1
        }
        var negative = false
        if i + 1 < tokens.count, let sign = tokens[i].symbol, sign == "-" || sign == "\u{2212}",
            tokens[i].range.upperBound == tokens[i + 1].range.lowerBound
        {
            negative = true
            i += 1
        }
        guard i < tokens.count, case .number(let magnitude, let digits) = tokens[i].kind else { return nil }
        let value = negative ? -magnitude : magnitude
        var text = (negative ? "-" : "") + digits
        i += 1
        var scale: Double?
        if i + 1 < tokens.count, tokens[i].symbol == "/", case .number(let denominator, let written) = tokens[i + 1].kind {
            guard [100, 10, 5].contains(denominator) else { return nil }
            scale = denominator
            text += "/" + written
            i += 2
        } else if i + 2 < tokens.count, tokens[i].word == "out", tokens[i + 1].word == "of",
            case .number(let denominator, let written) = tokens[i + 2].kind
        {
            guard [100, 10, 5].contains(denominator) else { return nil }
            scale = denominator
            text += " out of " + written
            i += 3
        } else if i < tokens.count, tokens[i].symbol == "%" {
            scale = 100
            text += "%"
            i += 1
        } else if i < tokens.count, tokens[i].isWord(pointWords) {
            i += 1
        }
        var closing = 0
        while closing < brackets, i < tokens.count, tokens[i].symbol == "]" {
            closing += 1
            i += 1
        }
        if brackets > 0 && closing != brackets { return nil }
        return ScoreExpression(value: value, scale: scale, isBracketed: brackets == 2, text: text, end: i)
    }

    /// A verdict expression starting at `i`: `ship`, `Ship it`, `do not ship`, `skip it.`, `✅ Ship`, `❌`.
    static func verdict(in tokens: [AnswerToken], at start: Int) -> (verdict: Verdict, end: Int)? {
        var i = start
        var mark: Verdict?
        if i < tokens.count, case .mark(let marked) = tokens[i].kind {
            mark = marked
            i += 1
        }
        var negated = false
        var j = i
        while j < tokens.count, j - i < 2, tokens[j].isWord(negationsAndAuxiliaries) {
            if tokens[j].isWord(negations) { negated = true }
            j += 1
        }
        if j < tokens.count, let word = tokens[j].word, word == "ship" || word == "skip" {
            if j > i && !negated { return nil }  // `would ship` without a subject is prose, not a verdict
            var verdict: Verdict = word == "ship" ? .ship : .skip
            if negated {
                guard verdict == .ship else { return nil }  // "don't skip" is not a verdict anyone writes
                verdict = .skip
            }
            if let mark, mark != verdict { return nil }
            j += 1
            if j < tokens.count, tokens[j].word == "it" { j += 1 }
            return (verdict, j)
        }
        if let mark { return (mark, i) }
        return nil
    }

    /// The verdict a labelled value gives, reading its first words: `Ship`, `Skip — for now`, `Do not ship`,
    /// `✅`, and for a yes/no label (`Ship?`, `Would ship:`) `yes`/`no`/`true`/`false`; `go`/`no-go`.
    static func verdictValue(in tokens: [AnswerToken], at start: Int, yesNo: Bool) -> (verdict: Verdict, end: Int)? {
        if let found = verdict(in: tokens, at: start) { return found }
        guard start < tokens.count, let word = tokens[start].word else { return nil }
        let positive: Set<String> = yesNo ? ["yes", "true", "y", "go"] : ["go"]
        let negative: Set<String> = yesNo ? ["no", "false", "n", "no-go", "nogo"] : ["no-go", "nogo"]
        if positive.contains(word) { return (.ship, start + 1) }
        if negative.contains(word) { return (.skip, start + 1) }
        return nil
    }

    enum LabelKind { case score, verdict, yesNoVerdict, paragraph }

    static let scoreLabels: Set<String> = ["score", "rating", "grade", "mark", "overall_score", "final_score", "total_score"]
    static let verdictLabels: Set<String> = ["verdict", "decision", "recommendation", "call", "final_verdict"]
    static let paragraphLabels: Set<String> = [
        "rationale", "reasoning", "review", "paragraph", "analysis", "explanation", "justification", "summary", "assessment",
    ]
    static let labelPrefixes: Set<String> = ["the", "my", "final", "overall", "total", "panel", "your", "our"]

    /// A field label at `i` — `Score:`, `Final verdict —`, `Rating (0-100):`, `Ship?`, `Would ship:` —
    /// and where its value starts. A label needs a separator (`:`, `=`, a dash, `is`) unless a value
    /// follows directly (`Score 81`).
    static func label(in tokens: [AnswerToken], at start: Int) -> (kind: LabelKind, valueStart: Int, hasSeparator: Bool)? {
        var i = start
        var prefixWords = 0
        while i < tokens.count, tokens[i].isWord(labelPrefixes), prefixWords < 2 {
            i += 1
            prefixWords += 1
        }
        guard i < tokens.count, let word = tokens[i].word else { return nil }
        var kind: LabelKind
        if scoreLabels.contains(word) {
            kind = .score
        } else if verdictLabels.contains(word) {
            kind = .verdict
        } else if paragraphLabels.contains(word), prefixWords == 0 || word != "review" {
            kind = .paragraph
        } else if word == "ship" || word == "would" || word == "should" || word == "ship_it" {
            // `Ship?`, `Ship: yes`, `Would ship?`, `Should ship:`, `Ship it?`
            var j = i + (word == "ship" || word == "ship_it" ? 1 : 0)
            if word != "ship" && word != "ship_it" {
                guard i + 1 < tokens.count, tokens[i + 1].word == "ship" else { return nil }
                j = i + 2
            }
            if j < tokens.count, tokens[j].word == "it" { j += 1 }
            guard j < tokens.count, let symbol = tokens[j].symbol, symbol == "?" || symbol == ":" || symbol == "=" else { return nil }
            j += 1
            if j < tokens.count, tokens[j].symbol == ":" { j += 1 }
            return (.yesNoVerdict, j, true)
        } else {
            return nil
        }
        i += 1
        // `Score (0-100):`, `Rating (out of 100):`, `Score [1-10]`
        if i < tokens.count, let open = tokens[i].symbol, open == "(" || open == "[" {
            let close: Character = open == "(" ? ")" : "]"
            var j = i + 1
            while j < tokens.count, j - i < 8, tokens[j].symbol != close {
                if let inner = tokens[j].word, !["out", "of", "to", "scale", "from"].contains(inner) { break }
                j += 1
            }
            if j < tokens.count, tokens[j].symbol == close, j > i + 1 || kind != .score { i = j + 1 }
        }
        var hasSeparator = false
        if i < tokens.count, let symbol = tokens[i].symbol, [":", "=", "-", "–", "—", "→"].contains(symbol) {
            hasSeparator = true
            i += 1
            if i < tokens.count, let again = tokens[i].symbol, [":", "-", "–", "—"].contains(again), again != "-" || kind != .score {
                i += 1
            }
        } else if i < tokens.count, tokens[i].word == "is" {
            // `The score is 78`: a value may follow, but `the rating is based on…` is prose, not a field.
            i += 1
        }
        if kind == .paragraph && !hasSeparator { return nil }
        return (kind, i, hasSeparator)
    }

    /// True where a segment of a line starts: the line's start, or after a separator.
    static func isSegmentStart(_ tokens: [AnswerToken], _ i: Int) -> Bool {
        guard i > 0 else { return true }
        if let symbol = tokens[i - 1].symbol { return boundarySymbols.contains(symbol) }
        if case .mark = tokens[i - 1].kind { return true }
        return false
    }

    /// True where a segment ends: the line's end or a separator.
    static func isSegmentEnd(_ tokens: [AnswerToken], _ i: Int) -> Bool {
        guard i < tokens.count else { return true }
        if let symbol = tokens[i].symbol { return boundarySymbols.contains(symbol) && symbol != "/" }
        if case .mark = tokens[i].kind { return true }
        return false
    }
}
