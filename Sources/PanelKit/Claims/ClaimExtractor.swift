/// A claim found in a text, before it is checked: its kind, span, normalised value and what it is about.
struct ClaimDraft: Sendable, Hashable {
    var kind: Claim.Kind
    var start: Int
    var end: Int
    /// The unit of `low…high` (for a licence or a version, the kind's name).
    var unit: String
    /// The stated range; a bound leaves one side infinite, an exact figure has `low == high`.
    var low: Double
    var high: Double
    /// How far from the stated figure a value still agrees with it (the precision it was given with).
    var tolerance: Double
    var approximate: Bool
    /// A licence's id, a version's text.
    var id: String?
    /// What the figure is about — latency, context, input, memory, launch … — when nearby words say.
    var qualifier: String?

    var value: Claim.Value {
        if let id { return Claim.Value(unit: unit, id: id) }
        return Claim.Value(
            unit: unit, min: low.isFinite ? low : nil, max: high.isFinite ? high : nil, approximate: approximate ? true : nil)
    }
}

/// The deterministic claim rules: quantities with units, money per unit, licences, years and versions,
/// with bounds ("sub-300 ms", "at least 8 GB"), approximations ("~7B") and ranges ("2–4 GB").
///
/// Numbers without a unit — scores, counts of personas, list numbering — are not claims; nor is anything
/// inside the spans masked (the tool's own name: "Mistral 3 Small" states no figure).
public enum ClaimExtractor {
    static func drafts(_ scalars: [Unicode.Scalar], masks: [Range<Int>] = []) -> [ClaimDraft] {
        var parser = Parser(tokens: ClaimScanner.tokens(scalars), masks: masks)
        return parser.run()
    }

    /// The spans of `name` in `scalars`, compared case-insensitively (ASCII letters folded). Positions
    /// whose first scalar differs are passed over with one comparison.
    static func occurrences(of name: String, in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let needle = name.scalarArray.map(fold)
        guard let first = needle.first, needle.count <= scalars.count else { return [] }
        var found: [Range<Int>] = []
        scalars.withUnsafeBufferPointer { scalars in
            needle.withUnsafeBufferPointer { needle in
                let length = needle.count
                let last = scalars.count - length
                var index = 0
                while index <= last {
                    guard fold(scalars[index]) == first else {
                        index += 1
                        continue
                    }
                    var offset = 1
                    while offset < length, fold(scalars[index + offset]) == needle[offset] { offset += 1 }
                    if offset == length {
                        found.append(index..<index + length)
                        index += length
                    } else {
                        index += 1
                    }
                }
            }
        }
        return found
    }

    @inline(__always) static func fold(_ scalar: Unicode.Scalar) -> UInt32 {
        let v = scalar.value
        return v >= 65 && v <= 90 ? v + 32 : v
    }
}

extension ClaimExtractor {
    struct Parser {
        let tokens: [ClaimToken]
        let masks: [Range<Int>]
        var used: [Bool]
        var drafts: [ClaimDraft] = []

        init(tokens: [ClaimToken], masks: [Range<Int>]) {
            self.tokens = tokens
            self.masks = masks
            used = tokens.map { token in masks.contains { $0.contains(token.start) } }
        }

        mutating func run() -> [ClaimDraft] {
            // Most words start nothing: a word is looked at only when its first letter could begin a licence,
            // a free tier, a number word, "a minute" or a version (one byte compared, no hashing).
            var index = 0
            while index < tokens.count {
                if !used[index], tokens[index].kind == .word, Self.mayStartWords(tokens[index].text),
                    let next = licence(at: index) ?? free(at: index)
                {
                    index = next
                } else {
                    index += 1
                }
            }
            index = 0
            while index < tokens.count {
                if !used[index], mayStartFigure(index), let next = figure(at: index) { index = next } else { index += 1 }
            }
            drafts.sort { $0.start < $1.start }
            return drafts
        }

        /// Whether a word could be one the rules start from — a licence, a free tier, a number word, "a"/"an"/
        /// "one" before a unit, "v"/"version" — judged by its first letter and length alone (a table lookup):
        /// most words are passed over without a comparison or a hash.
        @inline(__always) static func mayStartWords(_ text: String) -> Bool {
            let utf8 = text.utf8
            guard let first = utf8.first, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z"), utf8.count < 16 else { return false }
            return startTable[Int(first - UInt8(ascii: "a"))] & (1 << utf8.count) != 0
        }

        static let startWords = [
            "apache", "mit", "gpl", "gplv", "agpl", "agplv", "lgpl", "lgplv", "bsd", "mpl", "open", "closed", "proprietary", "free",
            "a", "an", "one", "v", "version",
        ]

        /// Per first letter, a bit per length of the words above and of `Words.numbers`.
        static let startTable: [UInt16] = {
            var table = [UInt16](repeating: 0, count: 26)
            for word in startWords + Array(Words.numbers.keys) {
                let utf8 = Array(word.utf8)
                table[Int(utf8[0] - UInt8(ascii: "a"))] |= 1 << utf8.count
            }
            return table
        }()

        /// "a minute", "an hour", "one second": the figure 1 before a duration's unit.
        func isOne(_ index: Int) -> Bool {
            guard let word = word(index), word == "a" || word == "an" || word == "one", let unit = self.word(index + 1),
                let before = self.word(index - 1), Words.beforeOne.contains(before)
            else {
                return false
            }
            return unit.count > 2 && Words.durations[unit] != nil
        }

        // MARK: tokens

        /// Whether the token at `index` could start a figure: a number, or a word for one ("two", "a" before
        /// a unit, "v"). Its fields are read in place — a copy of the whole token per token was a tenth of the
        /// rules' cost.
        func mayStartFigure(_ index: Int) -> Bool {
            switch tokens[index].kind {
            case .number: return true
            case .symbol: return false
            case .word:
                let text = tokens[index].text
                guard Self.mayStartWords(text) else { return false }
                // "a", "an" and "one" (common, and no number word) start only "a minute"; the rest need no hash.
                switch text {
                case "v", "version": return true
                case "a", "an", "one": return isOne(index)
                default: return Words.numbers[text] != nil
                }
            }
        }

        func token(_ index: Int) -> ClaimToken? { index >= 0 && index < tokens.count ? tokens[index] : nil }
        func word(_ index: Int) -> String? {
            guard index >= 0, index < tokens.count, tokens[index].kind == .word else { return nil }
            return tokens[index].text
        }
        func free(_ index: Int) -> Bool { index >= 0 && index < tokens.count && !used[index] }

        mutating func add(_ draft: ClaimDraft, tokens range: ClosedRange<Int>) {
            var draft = draft
            if draft.qualifier == nil, let found = qualifier(around: range) {
                // A price is about its input or output tokens; a year about a launch; other words say nothing of them.
                switch draft.kind {
                case .money: draft.qualifier = found == "input" || found == "output" ? found : nil
                case .year: draft.qualifier = found == "launch" ? found : nil
                default: draft.qualifier = found
                }
            }
            drafts.append(draft)
            for index in range where index < used.count { used[index] = true }
        }

        /// The nearest word within four tokens of the claim (not across a sentence's end) that says what a
        /// figure is about.
        func qualifier(around range: ClosedRange<Int>) -> String? {
            for distance in 1...5 {
                let after = range.upperBound + distance
                if after < tokens.count, !tokens[range.upperBound + 1..<after].contains(where: \.isClause),
                    let word = word(after), let found = Words.qualifiers[word]
                {
                    return found
                }
                let before = range.lowerBound - distance
                if before >= 0, !tokens[before + 1...range.lowerBound].contains(where: \.isClause), let word = word(before),
                    let found = Words.qualifiers[word]
                {
                    return found
                }
            }
            return nil
        }

        // MARK: licences and free tiers

        mutating func licence(at index: Int) -> Int? {
            guard let first = word(index) else { return nil }
            func licenceWord(_ i: Int) -> Bool { word(i).map(Words.licenceNouns.contains) ?? false }
            var id: String?
            var last = index
            switch first {
            case "apache":
                // Apache 2.0, Apache-2.0, the Apache licence, Apache-licensed.
                var i = index + 1
                if token(i)?.isSymbol("-") == true { i += 1 }
                if let number = token(i), number.kind == .number, number.text == "2.0" || number.text == "2" {
                    id = "apache-2.0"
                    last = i
                    if licenceWord(i + 1) { last = i + 1 }
                } else if licenceWord(i) {
                    id = "apache"
                    last = i
                }
            case "mit":
                var i = index + 1
                if token(i)?.isSymbol("-") == true { i += 1 }
                if licenceWord(i) {
                    id = "mit"
                    last = i
                } else if let before = word(index - 1), before == "under" || before == "the" {
                    id = "mit"
                }
            case "gpl", "gplv", "agpl", "agplv", "lgpl", "lgplv":
                let family = first.hasSuffix("v") ? String(first.dropLast()) : first
                var i = index + 1
                if token(i)?.isSymbol("-") == true || word(i) == "v" { i += 1 }
                if let number = token(i), number.kind == .number, number.attached || i == index + 1 || first.hasSuffix("v") {
                    id = "\(family)-\(number.text.split(separator: ".").first.map(String.init) ?? number.text)"
                    last = i
                } else {
                    id = family
                }
                if licenceWord(last + 1) { last += 1 }
            case "bsd", "mpl":
                id = first
                if let number = token(index + 1), number.kind == .number, number.attached || tokens[index + 1].isSymbol("-") {
                    last = index + 1
                } else if token(index + 1)?.isSymbol("-") == true, token(index + 2)?.kind == .number {
                    last = index + 2
                }
                if licenceWord(last + 1) { last += 1 }
            case "open", "closed":
                var i = index + 1
                if token(i)?.isSymbol("-") == true { i += 1 }
                switch (first, word(i)) {
                case ("open", "weight"), ("open", "weights"): id = "open-weights"
                case ("open", "source"), ("open", "sourced"): id = "open-source"
                case ("closed", "source"), ("closed", "weights"), ("closed", "weight"): id = "proprietary"
                default: break
                }
                last = i
            case "proprietary":
                id = "proprietary"
            default:
                return nil
            }
            guard let id, (index...last).allSatisfy({ free($0) }) else { return nil }
            add(
                ClaimDraft(
                    kind: .licence, start: tokens[index].start, end: tokens[last].end, unit: "licence", low: 0, high: 0, tolerance: 0,
                    approximate: false, id: id, qualifier: "licence"),
                tokens: index...last)
            return last + 1
        }

        /// "free tier", "free plan", "for free", "free of charge", "free to use".
        mutating func free(at index: Int) -> Int? {
            guard word(index) == "free" else { return nil }
            var last: Int?
            var start = index
            if token(index + 1)?.isSymbol("-") == true, let next = word(index + 2), Words.freeNouns.contains(next) {
                last = index + 2
            } else if let next = word(index + 1), Words.freeNouns.contains(next) {
                last = index + 1
            } else if word(index + 1) != nil, let noun = word(index + 2), noun == "tier" || noun == "plan" {
                last = index + 2  // "a free hobby tier"
            } else if word(index + 1) == "of", word(index + 2) == "charge" {
                last = index + 2
            } else if word(index + 1) == "to", let verb = word(index + 2), verb == "use" || verb == "start" || verb == "try" {
                last = index + 2
            } else if word(index - 1) == "for" {
                start = index - 1
                last = index
            }
            guard let last, (start...last).allSatisfy({ free($0) }) else { return nil }
            add(
                ClaimDraft(
                    kind: .money, start: tokens[start].start, end: tokens[last].end, unit: "free", low: 0, high: 0, tolerance: 0,
                    approximate: false, id: "free", qualifier: "price"),
                tokens: start...last)
            return last + 1
        }

        // MARK: figures

        /// A bound or an approximation before the figure: its first token and what it says.
        enum Bound {
            case exact
            case upper
            case lower
            case approximate
            case between
        }

        func bound(before index: Int) -> (Bound, Int) {
            guard let previous = token(index - 1), free(index - 1) else { return (.exact, index) }
            if previous.kind == .symbol {
                switch previous.text {
                case "~", "≈", "∼": return (.approximate, index - 1)
                case "<", "≤": return (.upper, index - 1)
                case ">", "≥": return (.lower, index - 1)
                case "-" where word(index - 2) == "sub" && free(index - 2): return (.upper, index - 2)
                default: return (.exact, index)
                }
            }
            guard previous.kind == .word else { return (.exact, index) }
            switch previous.text {
            case "sub", "under", "below", "beneath": return (.upper, index - 1)
            case "over", "above", "exceeding": return (.lower, index - 1)
            case "about", "around", "roughly", "approximately", "approx", "nearly", "almost", "circa", "some":
                return (.approximate, index - 1)
            case "between": return (.between, index - 1)
            case "than":
                switch word(index - 2) {
                case "less", "fewer", "lower", "faster", "shorter", "smaller", "cheaper": return (.upper, index - 2)
                case "more", "greater", "higher", "over", "larger", "longer": return (.lower, index - 2)
                default: return (.exact, index)
                }
            case "to" where word(index - 2) == "up": return (.upper, index - 2)
            case "most" where word(index - 2) == "at": return (.upper, index - 2)
            case "least" where word(index - 2) == "at": return (.lower, index - 2)
            default: return (.exact, index)
            }
        }

        /// A number (or a number word) with an optional magnitude after it: its value, scale and tokens.
        struct Amount {
            var value: Double
            var decimals: Int
            var scale: Double
            var first: Int
            var last: Int
            var magnitudeWord: String?
        }

        func amount(at index: Int) -> Amount? {
            guard let token = token(index) else { return nil }
            var value: Double
            if token.kind == .number, let number = token.value {
                value = number
            } else if token.kind == .word, let number = Words.numbers[token.text] {
                value = number
            } else if isOne(index) {
                value = 1
            } else {
                return nil
            }
            var result = Amount(value: value, decimals: token.decimals, scale: 1, first: index, last: index)
            var at = index + 1
            // "7-billion-parameter": a spelled-out magnitude after a hyphen.
            if self.token(at)?.isSymbol("-") == true, let word = word(at + 1), word.count > 2, Words.magnitudes[word] != nil { at += 1 }
            if let next = self.token(at), next.kind == .word, free(at), let scale = Words.magnitudes[next.text],
                next.attached || next.text.count > 2
            {
                result.scale = scale
                result.last = at
                result.magnitudeWord = next.text
            }
            return result
        }

        mutating func figure(at index: Int) -> Int? {
            let token = tokens[index]
            if token.kind == .word, !isOne(index) {
                if token.text == "v" || token.text == "version" { return version(at: index) }
                return multipleInWords(at: index)
            }
            if token.kind == .number, token.value == nil { return version(at: index) }
            // Currency before the number (after any bound): "$0.40", "under €10".
            var start = index
            var currency: String?
            if let symbol = self.token(index - 1), symbol.kind == .symbol, let code = Words.currencySymbols[symbol.text], free(index - 1) {
                currency = code
                start = index - 1
            }
            var (bound, boundStart) = bound(before: start)
            guard var low = amount(at: index) else { return nil }
            var high: Amount?
            var cursor = low.last + 1
            // A range: "2–4 GB", "2 to 4", "between 2 and 4", "$5-$10".
            if let dash = self.token(cursor), free(cursor),
                dash.isSymbol("-") || dash.isSymbol("–") || dash.isSymbol("—") || dash.isWord("to")
                    || (bound == .between && dash.isWord("and"))
            {
                var next = cursor + 1
                if let symbol = self.token(next), symbol.kind == .symbol, Words.currencySymbols[symbol.text] != nil { next += 1 }
                if self.token(next)?.kind == .number, let second = amount(at: next), second.value * second.scale >= low.value * low.scale {
                    if low.magnitudeWord == nil, let word = second.magnitudeWord, second.scale > 1 {
                        low.scale = second.scale
                        low.magnitudeWord = word
                    }
                    high = second
                    cursor = second.last + 1
                }
            }
            if bound == .between && high == nil { bound = .exact }
            if bound == .between || bound == .exact { boundStart = high == nil && bound == .exact ? start : boundStart }
            if currency == nil, let word = word(cursor), let code = Words.currencyWords[word] {
                currency = code
                cursor += 1
            } else if currency == nil, let word = word(cursor), word == "cents" || word == "cent" {
                currency = "USD"
                low.scale *= 0.01
                high?.scale *= 0.01
                cursor += 1
            }
            if let currency {
                return money(
                    currency: currency, low: low, high: high, bound: bound, start: boundStart, cursor: cursor)
            }
            guard let (kind, unit, factor, last) = unit(after: cursor, amount: low) else {
                if high == nil, bound == .exact || bound == .approximate { return year(at: index) ?? version(at: index) }
                return nil
            }
            return quantity(kind: kind, unit: unit, factor: factor, low: low, high: high, bound: bound, start: boundStart, last: last)
        }

        /// The unit after a figure: its kind, the normalised unit's name, the factor into it and its last token.
        func unit(after cursor: Int, amount: Amount) -> (Claim.Kind, String, Double, Int)? {
            guard let next = token(cursor), free(cursor) else {
                // "7B" alone: a model's size.
                if amount.magnitudeWord == "b" || amount.magnitudeWord == "bn", let magnitude = token(amount.last), magnitude.attached {
                    return (.parameters, "parameters", 1, amount.last)
                }
                return nil
            }
            if next.kind == .symbol {
                switch next.text {
                case "%": return (.percent, "%", 1, cursor)
                case "×": return multipleAfter(cursor)
                case "-":
                    // "1M-token", "7B-parameter", "300-ms".
                    if let word = word(cursor + 1), free(cursor + 1), let found = unitWord(word, at: cursor + 1, amount: amount) {
                        return found
                    }
                default: break
                }
            }
            if next.kind == .word {
                if next.text == "x", next.attached || Words.comparatives.contains(word(cursor + 1) ?? ""),
                    token(cursor + 1)?.kind != .number || !(token(cursor + 1)?.attached ?? false)
                {
                    return multipleAfter(cursor)
                }
                if next.text == "times" || next.text == "fold", Words.comparatives.contains(word(cursor + 1) ?? "") || next.text == "fold" {
                    return multipleAfter(cursor)
                }
                if next.text == "percent" { return (.percent, "%", 1, cursor) }
                if next.text == "per", word(cursor + 1) == "cent" { return (.percent, "%", 1, cursor + 1) }
                if let found = unitWord(next.text, at: cursor, amount: amount) { return found }
            }
            if amount.magnitudeWord == "b" || amount.magnitudeWord == "bn", let magnitude = token(amount.last), magnitude.attached {
                return (.parameters, "parameters", 1, amount.last)
            }
            return nil
        }

        func multipleAfter(_ cursor: Int) -> (Claim.Kind, String, Double, Int) {
            (.multiple, "×", 1, cursor)
        }

        func unitWord(_ word: String, at cursor: Int, amount: Amount) -> (Claim.Kind, String, Double, Int)? {
            if let seconds = Words.durations[word] {
                // "1990s" is a decade, "5 s" needs the space or the attachment to be a unit.
                if word == "h" || word == "us", !(token(cursor)?.attached ?? false) { return nil }
                if word == "s", amount.value >= 1000, amount.decimals == 0, amount.scale == 1 { return nil }
                return (.duration, "s", seconds, cursor)
            }
            if let bytes = Words.bytes[word] { return (.bytes, "bytes", bytes, cursor) }
            if Words.parameterWords.contains(word) { return (.parameters, "parameters", 1, cursor) }
            if Words.tokenWords.contains(word) {
                var last = cursor
                if Words.contextWords.contains(self.word(cursor + 1) ?? "") { last = cursor + 1 }
                return (.tokens, "tokens", 1, last)
            }
            if Words.contextWords.contains(word), amount.scale > 1 || amount.value >= 1000 {
                var last = cursor
                if self.word(cursor + 1) == "window" { last = cursor + 1 }
                return (.tokens, "tokens", 1, last)
            }
            return nil
        }

        mutating func quantity(
            kind: Claim.Kind, unit: String, factor: Double, low: Amount, high: Amount?, bound: Bound, start: Int, last: Int
        ) -> Int? {
            let scale = low.scale * factor
            let first = low.value * scale
            let precision = Self.precision(low, relative: kind != .percent) * scale
            var draft = ClaimDraft(
                kind: kind, start: tokens[start].start, end: tokens[last].end, unit: unit, low: first, high: first,
                tolerance: precision, approximate: bound == .approximate)
            if let high {
                draft.high = high.value * high.scale * factor
                draft.tolerance = max(precision, Self.precision(high, relative: kind != .percent) * high.scale * factor)
            }
            apply(high == nil && bound == .exact ? boundAfter(last) : bound, to: &draft)
            if kind == .tokens, Words.contextWords.contains(word(last) ?? "") || word(last) == "window" { draft.qualifier = "context" }
            guard (start...last).allSatisfy({ free($0) }) else { return nil }
            add(draft, tokens: start...last)
            return last + 1
        }

        /// A bound said after the figure, within its clause: "8 GB of RAM at minimum", "the 20 ms ceiling".
        func boundAfter(_ last: Int) -> Bound {
            var index = last + 1
            while index < tokens.count, index <= last + 6, !tokens[index].isClause {
                if let word = word(index) {
                    let previous = self.word(index - 1)
                    if word == "minimum" || (word == "more" && previous == "or") || (word == "least" && previous == "at") { return .lower }
                    if Words.upperAfter.contains(word) && word != "less" || (word == "less" && previous == "or")
                        || (word == "most" && previous == "at")
                    {
                        return .upper
                    }
                }
                index += 1
            }
            return .exact
        }

        /// Whether the sentence around `index` speaks of tokens ("$0.2/M" is then per million tokens).
        func sentenceMentionsTokens(around index: Int) -> Bool {
            var start = index
            while start > 0, !tokens[start - 1].isBoundary { start -= 1 }
            var end = index
            while end < tokens.count, !tokens[end].isBoundary { end += 1 }
            return tokens[start..<end].contains { $0.kind == .word && Words.tokenWords.contains($0.text) }
        }

        func apply(_ bound: Bound, to draft: inout ClaimDraft) {
            switch bound {
            case .upper:
                draft.high = draft.low
                draft.low = 0
            case .lower:
                draft.high = .infinity
            case .approximate:
                draft.tolerance = max(draft.tolerance, abs(draft.low) * 0.1)
            case .exact, .between:
                break
            }
        }

        /// Half a unit of the last digit given, at least 2% of the figure (5% for a round figure: "300");
        /// a percentage only to its last digit (99.9% is not 99.99%).
        static func precision(_ amount: Amount, relative: Bool = true) -> Double {
            var half = 0.5
            for _ in 0..<amount.decimals { half /= 10 }
            guard relative else { return half }
            let round = amount.decimals == 0 && amount.value >= 100 && amount.value.truncatingRemainder(dividingBy: 100) == 0
            return max(half, abs(amount.value) * (round ? 0.05 : 0.02))
        }

        mutating func money(currency: String, low: Amount, high: Amount?, bound: Bound, start: Int, cursor: Int) -> Int? {
            var units: [String] = []
            var divisor = 1.0
            var qualifier: String?
            var sawInput = false
            var sawOutput = false
            var cursor = cursor
            var last = (high ?? low).last
            if let word = word(cursor - 1), Words.currencyWords[word] != nil, cursor - 1 > (high ?? low).last { last = cursor - 1 }
            perUnit: while let token = token(cursor), free(cursor) {
                if let word = word(cursor), let unit = Words.periodAdverbs[word] {
                    units.append(unit)
                    last = cursor
                    cursor += 1
                    continue
                }
                guard token.isWord("per") || token.isSymbol("/") || token.isWord("a") || token.isWord("an") || token.isWord("each") else {
                    break
                }
                var next = cursor + 1
                var scale = 1.0
                var input = false
                var output = false
                while let part = self.token(next), free(next) {
                    if part.kind == .number, let value = part.value {
                        scale *= value
                    } else if part.kind == .word, let magnitude = Words.perMagnitudes[part.text] {
                        scale *= magnitude
                    } else if part.kind == .word, Words.perQualifiers.contains(part.text) {
                        if part.text == "input" || part.text == "prompt" { input = true }
                        if part.text == "output" || part.text == "completion" { output = true }
                    } else {
                        break
                    }
                    next += 1
                }
                guard let word = word(next), free(next), let unit = Words.perUnits[word] else {
                    // "$0.2/M" in a sentence about tokens: per million tokens.
                    if scale > 1, next > cursor + 1, sentenceMentionsTokens(around: cursor) {
                        units.append("token")
                        divisor *= scale
                        last = next - 1
                        cursor = next
                    }
                    break perUnit
                }
                if word == "mtok" { scale *= 1_000_000 }
                if word == "ktok" { scale *= 1_000 }
                units.append(unit)
                divisor *= scale
                sawInput = sawInput || input
                sawOutput = sawOutput || output
                last = next
                cursor = next + 1
            }
            if sawInput != sawOutput { qualifier = sawInput ? "input" : "output" }
            let unit = ([currency] + units).joined(separator: "/")
            let factor = low.scale / divisor
            let value = low.value * factor
            var draft = ClaimDraft(
                kind: .money, start: tokens[start].start, end: tokens[last].end, unit: unit, low: value, high: value,
                tolerance: Self.precision(low) * factor, approximate: bound == .approximate, qualifier: qualifier)
            if let high {
                let factor = high.scale / divisor
                draft.high = high.value * factor
                draft.tolerance = max(draft.tolerance, Self.precision(high) * factor)
            }
            apply(bound, to: &draft)
            guard (start...last).allSatisfy({ free($0) }) else { return nil }
            add(draft, tokens: start...last)
            return last + 1
        }

        /// "three times faster", "twice as fast".
        mutating func multipleInWords(at index: Int) -> Int? {
            guard let value = Words.numbers[tokens[index].text] else { return nil }
            var last = index
            if tokens[index].text == "twice" {
                guard word(index + 1) == "as" || Words.comparatives.contains(word(index + 1) ?? "") else { return nil }
            } else {
                guard word(index + 1) == "times", Words.comparatives.contains(word(index + 2) ?? "") || word(index + 2) == "as" else {
                    return nil
                }
                last = index + 1
            }
            let draft = ClaimDraft(
                kind: .multiple, start: tokens[index].start, end: tokens[last].end, unit: "×", low: value, high: value, tolerance: 0.05,
                approximate: false)
            add(draft, tokens: index...last)
            return last + 1
        }

        /// A year from 1990 to 2039 standing alone ("since 2023", "in March 2024").
        mutating func year(at index: Int) -> Int? {
            let token = tokens[index]
            guard token.text.count == 4, token.decimals == 0, let value = token.value, value >= 1990, value <= 2039 else { return nil }
            if let previous = self.token(index - 1), previous.attached || token.attached, previous.kind != .symbol || previous.text == "#" {
                if previous.kind == .word || previous.text == "#" || previous.kind == .number { return nil }
            }
            if let next = self.token(index + 1), next.attached, next.kind == .word || next.kind == .number { return nil }
            var first = index
            if let month = word(index - 1), Words.months.contains(month), free(index - 1) { first = index - 1 }
            let draft = ClaimDraft(
                kind: .year, start: tokens[first].start, end: token.end, unit: "year", low: value, high: value, tolerance: 0,
                approximate: false)
            add(draft, tokens: first...index)
            return index + 1
        }

        /// "v2.1", "version 3", "1.2.3".
        mutating func version(at index: Int) -> Int? {
            let token = tokens[index]
            var first = index
            var number = index
            if token.kind == .word {
                guard let next = self.token(index + 1), next.kind == .number, free(index + 1) else { return nil }
                if token.text == "v", !next.attached { return nil }
                number = index + 1
            } else if token.value != nil {
                return nil  // a bare number with one dot or none is not a version
            }
            if token.kind == .number, word(index - 1) == "v", free(index - 1), tokens[index].attached { first = index - 1 }
            guard (first...number).allSatisfy({ free($0) }) else { return nil }
            var qualifier: String?
            var before = first - 1
            if word(before) == "version" { before -= 1 }
            if let word = word(before), !Words.stop.contains(word) { qualifier = word }
            let draft = ClaimDraft(
                kind: .version, start: tokens[first].start, end: tokens[number].end, unit: "version", low: 0, high: 0, tolerance: 0,
                approximate: false, id: tokens[number].text, qualifier: qualifier.map { "product:" + $0 })
            add(draft, tokens: first...number)
            return number + 1
        }
    }
}

extension ClaimExtractor {
    /// A price a text states: the amount, its currency (`USD`, `EUR`, `GBP`) and what it is per (`month`,
    /// `seat/month`, `token`…; empty for a one-off price).
    public struct Price: Sendable, Hashable {
        public var amount: Double
        public var currency: String
        public var per: String
    }

    /// The prices a text states, in order, read by the claim rules (a free tier is a price of 0 with
    /// `per` "free"); ranges and bounds give their lower figure.
    public static func prices(in text: String) -> [Price] {
        drafts(text.scalarArray).compactMap { draft in
            guard draft.kind == .money else { return nil }
            if draft.unit == "free" { return Price(amount: 0, currency: "USD", per: "free") }
            let parts = draft.unit.split(separator: "/", maxSplits: 1).map(String.init)
            guard let currency = parts.first, draft.low.isFinite else { return nil }
            return Price(amount: draft.low, currency: currency, per: parts.count > 1 ? parts[1] : "")
        }
    }
}
