import Foundation
import ModelBackends
import PropertyBased
import Testing

@testable import PanelKit

/// Random and mutated answers against the parser's invariants: it never crashes, never reads a score
/// outside 0–100, never reads an answer from text that has no score or no verdict in it, and reads a
/// review written in any of its shapes back exactly. 10,000 cases for each random property.
struct ReviewParserPropertyTests {
    /// Pieces that matter to the grammar, so random text often comes close to an answer.
    static let fragments: [String] = [
        "Score", "score:", "Verdict:", "verdict", "Rating: ", "ship", "Ship it", "skip", "SKIP", "do not ship", "✅", "❌", "👍", "🚢",
        "78", "100", "7.8", "/100", "/10", "/", "%", " out of ", "140", "-5", "0.5", "[[", "]]", "{", "}", "\"", "'", ":", ",", ".",
        "|", "·", "—", "(", ")", "\n", "\n\n", " ", "  ", "**", "#", "```json\n", "```", "<think>", "</think>", "<score>", "</score>",
        "<verdict>", "</verdict>", "{\"score\": ", "\"verdict\": \"ship\"", "'score': ", "True", "None", "rationale", "\"rationale\": \"",
        "the primitive is clean", "I'd give it", "I would", "not", "it", "and", "yes", "no", "Ship?", "|---|---|", "\\", "\u{0}",
        "\u{FEFF}",
        "é", "İ", "日本", "🧑‍💻", "\r\n", "<|im_end|>", "[THINK]", "[/THINK]", "<|channel|>final<|message|>",
    ]

    static let fragment = Gen<String?>.element(of: fragments).map { $0 ?? "" }
    static let randomAnswer = fragment.array(of: 0...40).map { $0.joined() }

    static func checkInvariants(_ text: String) {
        switch ReviewParser.parse(text) {
        case .success(let review):
            #expect((0...100).contains(review.score), "score \(review.score) from \(text.debugDescription)")
            #expect(!review.text.isEmpty, "empty paragraph from \(text.debugDescription)")
            #expect(text.contains { $0.isASCII && $0.isNumber }, "an answer without a digit from \(text.debugDescription)")
            // Keys are read with their separators ignored ("should ship", "should_ship"), so a key "s  hip"
            // is the key "ship": the text says a verdict when it does so once they are taken out.
            let lowered = text.lowercased()
            let squeezed = String(lowered.filter { !["_", "-", " "].contains($0) })
            let saysVerdict =
                squeezed.contains("ship") || squeezed.contains("skip") || squeezed.contains("go")
                || text.unicodeScalars.contains { AnswerToken.shipMarks.contains($0) || AnswerToken.skipMarks.contains($0) }
            #expect(saysVerdict, "a verdict from text without one: \(text.debugDescription)")
        case .failure(let failure):
            #expect(!failure.reason.isEmpty)
        }
    }

    @Test func randomAnswersKeepTheInvariants() async {
        await propertyCheck(count: 10_000, input: Self.randomAnswer) { text in
            Self.checkInvariants(text)
        }
    }

    /// Corpus answers with a piece cut out, a random fragment put in, or a span repeated.
    @Test func mutatedCorpusAnswersKeepTheInvariants() async throws {
        let answers = try AnswerCase.load().map(\.answer)
        let answer = Gen<String?>.element(of: answers).map { $0 ?? "" }
        let position = Gen.int(in: 0...10_000)
        let operation = Gen.int(in: 0...3)
        await propertyCheck(count: 10_000, input: answer, position, position, operation, Self.fragment) { text, a, b, op, fragment in
            var characters = Array(text)
            guard !characters.isEmpty else { return }
            let lower = min(a, b) % characters.count
            let upper = min(characters.count, lower + max(a, b) % 40)
            switch op {
            case 0: characters.removeSubrange(lower..<upper)
            case 1: characters.insert(contentsOf: fragment, at: lower)
            case 2: characters.insert(contentsOf: characters[lower..<upper], at: upper)
            default: characters.replaceSubrange(lower..<upper, with: Array(fragment))
            }
            Self.checkInvariants(String(characters))
        }
    }

    /// Text with no digit never yields a score; text with neither `ship`, `skip` nor a mark never yields a verdict.
    @Test func noScoreOrNoVerdictNeverAnswers() async {
        let withoutDigits = Self.randomAnswer.map { $0.filter { !($0.isASCII && $0.isNumber) } }
        await propertyCheck(count: 5_000, input: withoutDigits) { text in
            #expect((try? ReviewParser.parse(text).get()) == nil, "\(text.debugDescription)")
        }
        let withoutVerdicts = Self.randomAnswer.map {
            $0.replacingOccurrences(of: "ship", with: "shop", options: .caseInsensitive)
                .replacingOccurrences(of: "skip", with: "skim", options: .caseInsensitive)
                .filter { !$0.unicodeScalars.contains { AnswerToken.shipMarks.contains($0) || AnswerToken.skipMarks.contains($0) } }
        }
        await propertyCheck(count: 5_000, input: withoutVerdicts) { text in
            #expect((try? ReviewParser.parse(text).get()) == nil, "\(text.debugDescription)")
        }
    }

    static let words = [
        "the", "primitive", "is", "clean", "teams", "pay", "for", "latency", "router", "moat", "docs", "break", "under", "load",
        "works", "thesis", "agents", "cost", "falls", "when", "self-hosting", "pricing", "Azure", "buyers", "churn", "voice",
    ]

    /// A review written in any shape reads back as the same score, verdict and paragraph.
    @Test func everyShapeReadsBack() async {
        let paragraph = Gen<String?>.element(of: Self.words).map { $0 ?? "" }.array(of: 3...25).map { words -> String in
            let sentence = words.joined(separator: " ")
            return sentence.prefix(1).uppercased() + sentence.dropFirst() + "."
        }
        await propertyCheck(count: 4_000, input: Gen.int(in: 0...100), Gen.bool, Gen.int(in: 0...11), Gen.int(in: 0...3), paragraph) {
            score, ship, shape, spelling, text in
            let verdictWord = ship ? ["ship", "Ship it", "SHIP", "✅ Ship"][spelling] : ["skip", "Skip", "do not ship", "❌ Skip"][spelling]
            let json = #"{"rationale": "\#(text)", "score": \#(score), "verdict": "\#(verdictWord)"}"#
            let answer: String
            switch shape {
            case 0: answer = json
            case 1: answer = "Here is my review:\n\n```json\n\(json)\n```\n"
            case 2: answer = "{'rationale': '\(text)', 'score': \(score), 'verdict': '\(verdictWord)'}"
            case 3: answer = "Score: \(score)/100\nVerdict: \(verdictWord)\n\n\(text)"
            case 4: answer = "\(text)\n\n**\(score)/100 · \(verdictWord)**"
            case 5: answer = "<score>\(score)</score>\n<verdict>\(verdictWord)</verdict>\n<rationale>\(text)</rationale>"
            case 6: answer = "| Score | Verdict |\n|---|---|\n| \(score) | \(verdictWord) |\n\n\(text)"
            case 7: answer = "\(verdictWord) (\(score)/100)\n\n\(text)"
            case 8: answer = "<think>Maybe 12/100 and ship, or skip? Score: 99.</think>\n\(json)"
            case 9: answer = "Verdict: \(verdictWord). Score \(score).\n\n\(text)"
            case 10: answer = "\(text) Score: \(score)/100, \(verdictWord)."
            default: answer = "**Score:** \(score)\n**Verdict:** \(verdictWord)\n\n**Rationale:** \(text)"
            }
            switch ReviewParser.parse(answer) {
            case .success(let review):
                #expect(review.score == score, "\(answer.debugDescription)")
                #expect(review.verdict == (ship ? .ship : .skip), "\(answer.debugDescription)")
                #expect(review.text == text, "\(answer.debugDescription) → \(review.text.debugDescription)")
            case .failure(let failure):
                Issue.record("\(failure.kind.rawValue): \(failure.reason) — \(answer.debugDescription)")
            }
        }
    }
}
