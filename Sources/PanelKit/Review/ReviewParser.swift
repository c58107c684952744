import Foundation
import ModelBackends

/// A persona's ship/skip call.
public enum Verdict: String, Sendable, Hashable, Codable {
    case ship, skip
}

/// What a persona said, once parsed: never partly defaulted.
public struct ParsedReview: Sendable, Hashable {
    public var score: Int
    public var verdict: Verdict
    public var text: String

    public init(score: Int, verdict: Verdict, text: String) {
        self.score = score
        self.verdict = verdict
        self.text = text
    }
}

/// Why an answer could not be read as a review; sent back to the model on a repair.
public struct ParseFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Reads a score, a verdict and a paragraph out of whatever a model wrote.
///
/// Accepts, in order: a JSON object (the whole answer, inside a fenced block, or embedded in prose);
/// the comparison page's own shape (`78/100 · ship`, then the paragraph); labelled prose
/// (`Score: 78/100`, `**Verdict:** Ship`). Scores may be written `78`, `78/100`, `7.8/10` or `78%`.
/// A missing field is a failure, never a default; a score outside 0–100 is a failure, not a clamp.
public enum ReviewParser {
    public static func parse(_ answer: String) -> Result<ParsedReview, ParseFailure> {
        let text = answer.trimmedWhitespace()
        guard !text.isEmpty else { return .failure(ParseFailure("the answer is empty")) }
        var failures: [ParseFailure] = []
        for attempt in [parseJSON, parseScoreLine, parseLabelled] {
            switch attempt(text) {
            case .success(let review)?: return .success(review)
            case .failure(let failure)?: failures.append(failure)
            case nil: continue
            }
        }
        if let specific = failures.first { return .failure(specific) }
        return .failure(ParseFailure("found no score and verdict (expected a JSON object with rationale, score and verdict)"))
    }

    // MARK: JSON

    static let textKeys = [
        "rationale", "review", "text", "paragraph", "reasoning", "analysis", "summary", "comment", "body", "explanation",
    ]

    static func parseJSON(_ text: String) -> Result<ParsedReview, ParseFailure>? {
        var firstFailure: ParseFailure?
        func read(_ candidate: String) -> ParsedReview? {
            guard let object = JSONValue.parse(candidate)?.objectValue else { return nil }
            for object in [object] + object.values.compactMap(\.objectValue) {
                let fields = Dictionary(object.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
                guard fields["score"] != nil || fields["verdict"] != nil else { continue }
                switch review(from: fields) {
                case .success(let review): return review
                case .failure(let failure): firstFailure = firstFailure ?? failure
                }
            }
            return nil
        }
        // The whole answer first: a model asked for JSON usually answers with only JSON, and then the
        // fenced and embedded candidates need not be looked for at all.
        let wholeIsObject = text.hasPrefix("{")
        if wholeIsObject, let review = read(text) { return .success(review) }
        for candidate in jsonCandidates(text, includingWhole: !wholeIsObject) {
            if let review = read(candidate) { return .success(review) }
        }
        return firstFailure.map { .failure($0) }
    }

    static func review(from fields: [String: JSONValue]) -> Result<ParsedReview, ParseFailure> {
        let score: Int
        switch fields["score"] {
        case .int(let value)?: score = value
        case .double(let value)?:
            guard value.isFinite else { return .failure(ParseFailure("the score is not a number")) }
            score = Int(value.rounded())
        case .string(let value)?:
            switch parseScore(value) {
            case .success(let value): score = value
            case .failure(let failure): return .failure(failure)
            }
        case nil, .null?: return .failure(ParseFailure("the JSON answer has no score"))
        default: return .failure(ParseFailure("the score is not a number"))
        }
        guard (0...100).contains(score) else { return .failure(ParseFailure("the score \(score) is outside 0–100")) }
        guard let verdictText = fields["verdict"]?.stringValue else {
            return .failure(ParseFailure("the JSON answer has no verdict (ship or skip)"))
        }
        let verdict: Verdict
        switch parseVerdict(verdictText) {
        case .success(let value): verdict = value
        case .failure(let failure): return .failure(failure)
        }
        let paragraph = textKeys.lazy.compactMap { fields[$0]?.stringValue }
            .map(clean).first { !$0.isEmpty }
        guard let paragraph else { return .failure(ParseFailure("the JSON answer has no rationale paragraph")) }
        return .success(ParsedReview(score: score, verdict: verdict, text: paragraph))
    }

    /// The whole answer, fenced blocks, then balanced `{…}` spans, in that order.
    static func jsonCandidates(_ text: String, includingWhole: Bool = true) -> [String] {
        var candidates = includingWhole ? [text] : []
        if text.contains("```") {
            let fence = try! Regex("```[a-zA-Z]*[ \\t]*\\n([\\s\\S]*?)```")
            for match in text.matches(of: fence) {
                if let body = match.output[1].substring { candidates.append(String(body)) }
            }
        }
        candidates.append(contentsOf: balancedObjects(in: text))
        return candidates
    }

    /// Substrings that are brace-balanced `{…}` objects, skipping braces inside JSON strings.
    static func balancedObjects(in text: String) -> [String] {
        var results: [String] = []
        let chars = Array(text.unicodeScalars)
        var index = 0
        while index < chars.count {
            guard chars[index] == "{" else {
                index += 1
                continue
            }
            var depth = 0
            var inString = false
            var escaped = false
            var end: Int?
            for j in index..<chars.count {
                let c = chars[j]
                if inString {
                    if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                    continue
                }
                if c == "\"" {
                    inString = true
                } else if c == "{" {
                    depth += 1
                } else if c == "}" {
                    depth -= 1
                    if depth == 0 {
                        end = j
                        break
                    }
                }
            }
            guard let end else { break }
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: chars[index...end])
            results.append(String(scalars))
            index = end + 1
        }
        return results
    }

    // MARK: prose

    static let number = "(\\d{1,3}(?:[.,]\\d+)?)"
    static let scale = "(?:\\s*(/|out of)\\s*(100|10)\\b|\\s*(%))?"

    /// `78/100 · ship` on a line of its own (the comparison page's scorecard shape), then the paragraph.
    static func parseScoreLine(_ text: String) -> Result<ParsedReview, ParseFailure>? {
        let pattern = try! Regex("(?im)^[\\s*_#>]*\(number)\(scale)[\\s*_]*[·•|\\-–—,:;]+[\\s*_]*(ship|skip)(?:\\s+it)?\\b[\\s*_.!]*$")
        guard let match = text.firstMatch(of: pattern) else { return nil }
        let scoreText = String(text[match.range])
        let verdictWord = match.output[5].substring.map(String.init) ?? ""
        let rest = (String(text[..<match.range.lowerBound]) + "\n" + String(text[match.range.upperBound...]))
        return assemble(scoreText: scoreText, verdictText: verdictWord, rest: rest)
    }

    /// `Score: 78/100` and `Verdict: Ship` lines, in any order, with Markdown emphasis.
    static func parseLabelled(_ text: String) -> Result<ParsedReview, ParseFailure>? {
        let scorePattern = try! Regex("(?im)^[\\s*_#>-]*score[\\s*_]*[:=\\-–—][\\s*_]*\(number)\(scale)[^\\n]*$")
        let verdictPattern = try! Regex("(?im)^[\\s*_#>-]*(?:verdict|decision|recommendation)[\\s*_]*[:=\\-–—][\\s*_]*([^\\n]+)$")
        let scoreMatch = text.firstMatch(of: scorePattern)
        let verdictMatch = text.firstMatch(of: verdictPattern)
        if scoreMatch == nil && verdictMatch == nil { return nil }
        guard let scoreMatch else { return .failure(ParseFailure("found a verdict but no score line (Score: N/100)")) }
        guard let verdictMatch else { return .failure(ParseFailure("found a score but no verdict line (Verdict: ship or skip)")) }
        var rest = text
        for range in [scoreMatch.range, verdictMatch.range].sorted(by: { $0.lowerBound > $1.lowerBound }) {
            rest.replaceSubrange(range, with: "")
        }
        let scoreLine = String(text[scoreMatch.range])
        let colon = scoreLine.firstIndex { $0 == ":" || $0 == "=" } ?? scoreLine.startIndex
        return assemble(
            scoreText: String(scoreLine[colon...]).trimmingCharacters(in: CharacterSet(charactersIn: ":= ")),
            verdictText: String(verdictMatch.output[1].substring ?? ""),
            rest: rest)
    }

    static func assemble(scoreText: String, verdictText: String, rest: String) -> Result<ParsedReview, ParseFailure> {
        let score: Int
        switch parseScore(scoreText) {
        case .success(let value): score = value
        case .failure(let failure): return .failure(failure)
        }
        let verdict: Verdict
        switch parseVerdict(verdictText) {
        case .success(let value): verdict = value
        case .failure(let failure): return .failure(failure)
        }
        let paragraph = clean(rest)
        guard !paragraph.isEmpty else { return .failure(ParseFailure("found a score and a verdict but no review paragraph")) }
        return .success(ParsedReview(score: score, verdict: verdict, text: paragraph))
    }

    // MARK: fields

    /// `78`, `78/100`, `7.8/10`, `78%`, `78 out of 100` → 0…100.
    public static func parseScore(_ raw: String) -> Result<Int, ParseFailure> {
        let pattern = try! Regex("\(number)\(scale)")
        let stripped = raw.replacingOccurrences(of: "*", with: "")
        guard let match = stripped.firstMatch(of: pattern), let digits = match.output[1].substring,
            let value = Double(digits.replacingOccurrences(of: ",", with: "."))
        else { return .failure(ParseFailure("the score '\(raw.prefix(40))' is not a number")) }
        let denominator = match.output[3].substring.flatMap { Double($0) } ?? 100
        let scaled = value * 100 / denominator
        guard scaled >= 0, scaled <= 100 else {
            let written = String(stripped[match.range]).trimmingCharacters(in: .whitespaces)
            return .failure(ParseFailure("the score \(written) is outside 0–100"))
        }
        return .success(Int(scaled.rounded()))
    }

    /// `ship`, `SHIP`, `Ship it`, `**Skip**`, `skip it.`, `Do not ship` → a verdict.
    public static func parseVerdict(_ raw: String) -> Result<Verdict, ParseFailure> {
        let lowered = raw.lowercased()
        let words = lowered.split { !$0.isLetter && $0 != "'" }.map(String.init)
        guard !words.isEmpty else { return .failure(ParseFailure("the verdict is empty (expected ship or skip)")) }
        let negations: Set<String> = ["not", "don't", "dont", "never", "no"]
        for (index, word) in words.enumerated() where word == "ship" {
            if index > 0, negations.contains(words[index - 1]) { return .success(.skip) }
        }
        let hasShip = words.contains("ship")
        let hasSkip = words.contains("skip")
        if hasShip != hasSkip { return .success(hasShip ? .ship : .skip) }
        return .failure(ParseFailure("the verdict '\(raw.prefix(40))' is neither ship nor skip"))
    }

    /// Trims a paragraph and drops a leading label such as `**Rationale:**`.
    static func clean(_ text: String) -> String {
        let trimmed = text.trimmedWhitespace()
        var rest = trimmed.drop { $0 == "*" || $0 == "_" || $0 == "#" || $0 == " " }
        let lowered = rest.prefix(12).lowercased()
        guard let label = ["rationale", "reasoning", "analysis", "paragraph", "summary", "review"].first(where: { lowered.hasPrefix($0) })
        else { return trimmed }
        rest = rest.dropFirst(label.count).drop { $0 == "*" || $0 == "_" || $0 == " " }
        guard let separator = rest.first, [":", "-", "–", "—"].contains(separator) else { return trimmed }
        rest = rest.dropFirst().drop { $0 == "*" || $0 == "_" || $0 == " " }
        return rest.trimmedWhitespace()
    }
}
