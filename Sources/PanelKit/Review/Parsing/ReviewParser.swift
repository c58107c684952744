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
    /// The class of a failure (fixtures/answers/README.md lists them).
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case empty
        case reasoningOnly = "reasoning_only"
        case truncated
        case noReview = "no_review"
        case missingScore = "missing_score"
        case missingVerdict = "missing_verdict"
        case missingParagraph = "missing_paragraph"
        case scoreOutOfRange = "score_out_of_range"
        case scoreNotANumber = "score_not_a_number"
        case verdictUnclear = "verdict_unclear"
        case ambiguousScore = "ambiguous_score"
        case ambiguousVerdict = "ambiguous_verdict"
    }

    public var kind: Kind
    public var reason: String
    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }
    public var description: String { reason }
}

/// Reads a score, a verdict and a paragraph out of whatever a model wrote.
///
/// Every shape an answer uses is read and the findings pooled: JSON, Python-dict and JSON5 objects
/// (whole, fenced or embedded), XML-style tags, labelled fields (`Score: 78/100`, `**Rating:** 8/10`,
/// `Verdict — ship it`, `Ship? yes`), score-and-verdict lines in either order (`78/100 · ship`,
/// `✅ Ship (82)`), Markdown tables, and — for a field no labelled form gives — sentences (`I'd give
/// it 66 out of 100`, `I would ship it`). Reasoning blocks and chat-template tokens are removed first.
/// A missing field is a failure, never a default; a score outside 0–100 is a failure, not a clamp;
/// two different scores or verdicts are ambiguous, and the paragraph is the prose without the field lines.
public enum ReviewParser {
    public static func parse(_ answer: String) -> Result<ParsedReview, ParseFailure> {
        let text: String
        switch AnswerText.prepare(answer) {
        case .success(let prepared): text = prepared
        case .failure(let failure): return .failure(failure)
        }
        guard !text.isEmpty else { return .failure(ParseFailure(.empty, "the answer is empty")) }
        var findings = AnswerFindings()
        // A model asked for JSON usually answers with only JSON: then there is no prose to read.
        if text.hasPrefix("{"), text.hasSuffix("}"), let object = JSONValue.parse(text)?.objectValue, findings.add(object: object) {
            return findings.resolve(prose: "")
        }
        var prose = extractObjects(text, into: &findings)
        prose = AnswerText.extractTags(prose, into: &findings)
        let kept = AnswerLines.scan(prose, into: &findings)
        if findings.scores.isEmpty || findings.verdicts.isEmpty { AnswerLines.readSentences(kept, into: &findings) }
        return findings.resolve(prose: AnswerLines.paragraph(from: kept))
    }

    // MARK: objects

    /// Removes every object literal with review fields (fenced or embedded) from the text, reading its fields.
    static func extractObjects(_ text: String, into findings: inout AnswerFindings) -> String {
        guard text.contains("{") else { return text }
        var rest = text
        var removals: [Range<String.Index>] = []
        for span in fencedBlocks(in: rest) where rest[span.body].contains("{") {
            if let value = readLiteral(rest[span.body]), add(value, to: &findings) { removals.append(span.whole) }
        }
        for range in removals.reversed() { rest.replaceSubrange(range, with: "\n") }
        removals = []
        let scan = balancedObjects(in: rest)
        for range in scan.objects {
            if let value = readLiteral(rest[range]), add(value, to: &findings) { removals.append(range) }
        }
        // The unclosed object comes after every closed one: cut it first, while the indices hold.
        if let open = scan.unclosed {
            let tail = rest[open...].lowercased()
            if ["score", "verdict", "rationale"].contains(where: { tail.contains("\"\($0)\"") || tail.contains("'\($0)'") }) {
                findings.truncatedObject = true
                rest.removeSubrange(open...)
            }
        }
        for range in removals.reversed() { rest.replaceSubrange(range, with: "\n") }
        return rest
    }

    static func readLiteral(_ text: Substring) -> JSONValue? {
        JSONValue.parse(String(text)) ?? LenientObject.parse(text)
    }

    static func add(_ value: JSONValue, to findings: inout AnswerFindings) -> Bool {
        switch value {
        case .object(let object): return findings.add(object: object)
        case .array(let items):
            var found = false
            for case .object(let object) in items { found = findings.add(object: object) || found }
            return found
        default: return false
        }
    }

    /// ```` ```lang … ``` ```` blocks: the whole block and its body.
    static func fencedBlocks(in text: String) -> [(whole: Range<String.Index>, body: Range<String.Index>)] {
        var blocks: [(Range<String.Index>, Range<String.Index>)] = []
        var searchStart = text.startIndex
        while let open = text.range(of: "```", range: searchStart..<text.endIndex) {
            guard let lineEnd = text[open.upperBound...].firstIndex(of: "\n") else { break }
            let bodyStart = text.index(after: lineEnd)
            guard let close = text.range(of: "```", range: bodyStart..<text.endIndex) else { break }
            blocks.append((open.lowerBound..<close.upperBound, bodyStart..<close.lowerBound))
            searchStart = close.upperBound
        }
        return blocks
    }

    /// Brace-balanced `{…}` spans, skipping braces inside strings (double-quoted, and single-quoted
    /// where a Python/JSON5 string can start), and the start of one that never closes.
    static func balancedObjects(in text: String) -> (objects: [Range<String.Index>], unclosed: String.Index?) {
        var objects: [Range<String.Index>] = []
        var index = text.startIndex
        while let open = text[index...].firstIndex(of: "{") {
            var depth = 0
            var quote: Character?
            var escaped = false
            var previousSignificant: Character = "{"
            var end: String.Index?
            var j = open
            while j < text.endIndex {
                let c = text[j]
                if let active = quote {
                    if escaped {
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == active {
                        quote = nil
                        previousSignificant = c
                    }
                } else if c == "\"" || (c == "'" && "{[,:".contains(previousSignificant)) {
                    quote = c
                } else if c == "{" {
                    depth += 1
                } else if c == "}" {
                    depth -= 1
                    if depth == 0 {
                        end = j
                        break
                    }
                }
                if quote == nil, !c.isWhitespace { previousSignificant = c }
                j = text.index(after: j)
            }
            guard let end else { return (objects, open) }
            objects.append(open..<text.index(after: end))
            index = text.index(after: end)
        }
        return (objects, nil)
    }

    // MARK: fields

    /// `78`, `78/100`, `7.8/10`, `78%`, `78 out of 100`, `[[78]]` → 0…100.
    public static func parseScore(_ raw: String) -> Result<Int, ParseFailure> {
        var findings = AnswerFindings()
        findings.addScore(text: raw)
        switch findings.scores.first {
        case .value(let value)?: return .success(value)
        case .outOfRange(let text)?: return .failure(AnswerFindings.outOfRangeFailure(text))
        default: return .failure(ParseFailure(.scoreNotANumber, "the score '\(raw.prefix(40))' is not a number"))
        }
    }

    /// `ship`, `SHIP`, `Ship it`, `**Skip**`, `skip it.`, `Do not ship`, `✅` → a verdict.
    public static func parseVerdict(_ raw: String) -> Result<Verdict, ParseFailure> {
        var findings = AnswerFindings()
        findings.addVerdict(text: raw, yesNo: false)
        if case .value(let verdict)? = findings.verdicts.first { return .success(verdict) }
        return .failure(ParseFailure(.verdictUnclear, "the verdict '\(raw.prefix(40))' is neither ship nor skip"))
    }
}
