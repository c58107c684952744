import ModelBackends

/// Everything an answer says about its score and verdict, gathered from every shape it uses, then
/// resolved under the rules that matter: no field is defaulted, a score outside 0–100 is an error,
/// two different scores or verdicts are ambiguous.
struct AnswerFindings {
    enum VerdictReading: Hashable {
        case value(Verdict)
        case unclear(String)
    }

    /// From fields: objects, tags, labelled lines, score/verdict lines, tables.
    var scores: [ScoreReading] = []
    var verdicts: [VerdictReading] = []
    /// From sentences (`I'd give it 66 out of 100`, `I would ship it`): used only for a field no
    /// labelled form gives.
    var sentenceScores: [Int] = []
    var sentenceVerdicts: [Verdict] = []
    /// The paragraph an object's text field or a tag gave.
    var paragraph: String?
    var tagParagraph = false
    /// An object that opens, has review fields in it, and never closes.
    var truncatedObject = false

    mutating func addScore(text: String) {
        let tokens = AnswerToken.tokenize(Substring(text))
        if let expression = tokens.indices.lazy.compactMap({ AnswerGrammar.score(in: tokens, at: $0) }).first {
            scores.append(expression.reading)
        } else {
            scores.append(.notANumber(String(text.trimmedWhitespace().prefix(40))))
        }
    }

    mutating func addVerdict(text: String, yesNo: Bool) {
        let tokens = AnswerToken.tokenize(Substring(text))
        if let reading = AnswerGrammar.verdictValue(in: tokens, at: 0, yesNo: yesNo), !Self.offersBoth(tokens, after: reading.end) {
            verdicts.append(.value(reading.verdict))
        } else {
            verdicts.append(.unclear(String(text.trimmedWhitespace().prefix(40))))
        }
    }

    /// `ship/skip`, `ship or skip`: the value names both.
    static func offersBoth(_ tokens: [AnswerToken], after end: Int) -> Bool {
        guard end < tokens.count, tokens[end].symbol == "/" || tokens[end].word == "or" else { return false }
        return end + 1 < tokens.count && AnswerGrammar.verdict(in: tokens, at: end + 1) != nil
    }

    // MARK: objects

    /// The keys an object's review fields go by (normalized: ``normalizedKey(_:)``), each list in the order
    /// it is preferred in when an object has more than one.
    static let scoreKeys = ["score", "rating", "grade", "overallscore", "finalscore", "totalscore", "scoreoutof100", "score0100"]
    static let verdictKeys = ["verdict", "decision", "recommendation", "finalverdict", "call"]
    static let yesNoKeys = ["ship", "shouldship", "wouldship", "shipit", "recommendshipping"]
    static let textKeys = [
        "rationale", "review", "text", "paragraph", "reasoning", "analysis", "summary", "comment", "body", "explanation",
        "justification", "reason", "assessment", "feedback",
    ]

    enum KeyKind {
        case score, verdict, yesNo, text
    }

    /// Every key of the lists above, with its kind and its place in its list: one lookup per field.
    static let keyRoles: [String: (kind: KeyKind, rank: Int)] = {
        var roles: [String: (kind: KeyKind, rank: Int)] = [:]
        for (kind, keys) in [(KeyKind.score, scoreKeys), (.verdict, verdictKeys), (.yesNo, yesNoKeys), (.text, textKeys)] {
            for (rank, key) in keys.enumerated() { roles[key] = (kind, rank) }
        }
        return roles
    }()

    /// A key as the parser compares keys: lower case, without `_`, `-` or spaces.
    static func normalizedKey(_ key: String) -> String {
        // ASCII keys (a model's JSON nearly always) byte by byte; others by their characters.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(key.utf8.count)
        for byte in key.utf8 {
            guard byte < 0x80 else {
                var normalized = ""
                for character in key.lowercased() where character != "_" && character != "-" && character != " " {
                    normalized.append(character)
                }
                return normalized
            }
            switch byte {
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: " "): continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes.append(byte | 0x20)
            default: bytes.append(byte)
            }
        }
        return String(validUTF8: bytes, isASCII: true)
    }

    /// Reads an object's review fields (and those of objects nested in it); false when it has none.
    ///
    /// Each field's key is looked up once in ``keyRoles``; where several keys name one thing (`score` and
    /// `rating`), the one listed first in its list counts — whatever order the object's fields come in.
    @discardableResult
    mutating func add(object: [String: JSONValue], depth: Int = 0) -> Bool {
        var score: (rank: Int, value: JSONValue)?
        var verdict: (rank: Int, value: JSONValue)?
        var yesNo: (rank: Int, value: JSONValue)?
        var texts: [(rank: Int, value: JSONValue)] = []
        for (key, value) in object {
            guard let role = Self.keyRoles[Self.normalizedKey(key)] else { continue }
            // Two keys that normalize alike (`final_score`, `finalScore`): the first met counts, as before.
            switch role.kind {
            case .score: if score.map({ role.rank < $0.rank }) ?? true { score = (role.rank, value) }
            case .verdict: if verdict.map({ role.rank < $0.rank }) ?? true { verdict = (role.rank, value) }
            case .yesNo: if yesNo.map({ role.rank < $0.rank }) ?? true { yesNo = (role.rank, value) }
            case .text: if !texts.contains(where: { $0.rank == role.rank }) { texts.append((role.rank, value)) }
            }
        }
        var found = false
        if let value = score?.value {
            found = true
            switch value {
            case .int(let number):
                scores.append(ScoreExpression(value: Double(number), scale: nil, isBracketed: false, text: "\(number)", end: 0).reading)
            case .double(let number):
                scores.append(ScoreExpression(value: number, scale: nil, isBracketed: false, text: "\(number)", end: 0).reading)
            case .string(let text): addScore(text: text)
            case .null: found = verdict != nil || yesNo != nil
            default: scores.append(.notANumber(String(value.canonicalText().prefix(40))))
            }
        }
        if let value = verdict?.value {
            found = true
            switch value {
            case .string(let text): addVerdict(text: text, yesNo: false)
            case .null: break
            default: verdicts.append(.unclear(String(value.canonicalText().prefix(40))))
            }
        } else if let value = yesNo?.value {
            found = true
            switch value {
            case .bool(let flag): verdicts.append(.value(flag ? .ship : .skip))
            case .string(let text): addVerdict(text: text, yesNo: true)
            default: verdicts.append(.unclear(String(value.canonicalText().prefix(40))))
            }
        }
        if found, paragraph == nil || tagParagraph {
            texts.sort { $0.rank < $1.rank }
            if let text = texts.lazy.compactMap({ $0.value.stringValue?.trimmedWhitespace() }).first(where: { !$0.isEmpty }) {
                paragraph = text
                tagParagraph = false
            }
        }
        guard depth < 2 else { return found }
        for value in object.values {
            switch value {
            case .object(let nested): found = add(object: nested, depth: depth + 1) || found
            case .array(let items):
                for case .object(let nested) in items { found = add(object: nested, depth: depth + 1) || found }
            default: continue
            }
        }
        return found
    }

    // MARK: resolution

    func resolve(prose: String) -> Result<ParsedReview, ParseFailure> {
        let score: Int?
        let fieldScores = scores
        if let outOfRange = fieldScores.lazy.compactMap({ reading -> String? in
            if case .outOfRange(let text) = reading { return text }
            return nil
        }).first {
            return .failure(Self.outOfRangeFailure(outOfRange))
        }
        var values = Self.unique(fieldScores.compactMap { if case .value(let v) = $0 { return v } else { return nil } })
        if values.isEmpty { values = Self.unique(sentenceScores) }
        if values.count > 1 {
            return .failure(
                ParseFailure(
                    .ambiguousScore,
                    "the answer gives different scores (\(values.map(String.init).joined(separator: ", "))); give exactly one"))
        }
        score = values.first
        var verdictValues = Self.unique(verdicts.compactMap { if case .value(let v) = $0 { return v } else { return nil } })
        if verdictValues.isEmpty { verdictValues = Self.unique(sentenceVerdicts) }
        if verdictValues.count > 1 {
            return .failure(ParseFailure(.ambiguousVerdict, "the answer says both ship and skip; give exactly one verdict"))
        }
        let unreadableScore = fieldScores.lazy.compactMap { reading -> String? in
            if case .notANumber(let text) = reading { return text }
            return nil
        }.first
        let unclearVerdict = verdicts.lazy.compactMap { reading -> String? in
            if case .unclear(let text) = reading { return text }
            return nil
        }.first
        guard let score else {
            if let unreadableScore { return .failure(ParseFailure(.scoreNotANumber, "the score '\(unreadableScore)' is not a number")) }
            if verdictValues.isEmpty {
                if truncatedObject {
                    return .failure(ParseFailure(.truncated, "the answer stops before its JSON object closes (cut off?)"))
                }
                if let unclearVerdict {
                    return .failure(
                        ParseFailure(.verdictUnclear, "the verdict '\(unclearVerdict)' is neither ship nor skip, and there is no score"))
                }
                return .failure(
                    ParseFailure(.noReview, "found no score and verdict (expected a JSON object with rationale, score and verdict)"))
            }
            return .failure(ParseFailure(.missingScore, "found a verdict but no score (an integer from 0 to 100)"))
        }
        guard let verdict = verdictValues.first else {
            if let unclearVerdict {
                return .failure(ParseFailure(.verdictUnclear, "the verdict '\(unclearVerdict)' is neither ship nor skip"))
            }
            return .failure(ParseFailure(.missingVerdict, "found a score but no verdict (ship or skip)"))
        }
        let text = paragraph ?? prose
        guard !text.isEmpty else {
            return .failure(ParseFailure(.missingParagraph, "found a score and a verdict but no review paragraph"))
        }
        if Self.isPlaceholder(text) {
            return .failure(
                ParseFailure(.missingParagraph, "the paragraph is the placeholder '\(text.prefix(40))', not a review; write the paragraph"))
        }
        return .success(ParsedReview(score: score, verdict: verdict, text: text))
    }

    /// `<your paragraph>`, `...`, `string`: what a model copies from the prompt's example instead of writing.
    /// Asked of every answer's paragraph: a real paragraph is ruled out by its length before anything is
    /// lowercased (lowercasing whole paragraphs was 7% of a batch's instructions).
    static func isPlaceholder(_ text: String) -> Bool {
        let bytes = text.utf8.count
        if bytes <= 240, text.hasPrefix("<"), text.hasSuffix(">"), text.count <= 60,
            !text.dropFirst().dropLast().contains(where: { $0 == "<" || $0 == ">" })
        {
            return true
        }
        guard bytes <= Self.longestPlaceholder * 3 else { return false }  // room for a case mapping that grows
        return Self.placeholders.contains(text.lowercased())
    }

    static let placeholders: Set<String> = ["...", "…", "string", "text", "paragraph", "your paragraph", "tbd", "todo", "n/a"]
    /// No placeholder is longer (in UTF-8 bytes); a longer text, whatever its case, is not one.
    static let longestPlaceholder = placeholders.map(\.utf8.count).max() ?? 0

    static func outOfRangeFailure(_ written: String) -> ParseFailure {
        if let value = Double(written), value > 0, value < 1 {
            return ParseFailure(.scoreOutOfRange, "the score \(written) looks like a 0–1 fraction; the scale is 0–100")
        }
        return ParseFailure(.scoreOutOfRange, "the score \(written) is outside 0–100")
    }

    static func unique<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }
}
