import Foundation
import ModelBackends
import Testing

@testable import PanelKit

/// One case of fixtures/answers/corpus.json (the schema is in fixtures/answers/README.md).
struct AnswerCase: Sendable, CustomTestStringConvertible {
    var shape: String
    var family: String
    var source: String
    var answer: String
    var score: Int?
    var verdict: Verdict?
    var abstain: ParseFailure.Kind?
    var paragraphStarts: String?
    var paragraphExcludes: [String]

    var testDescription: String { "\(family)/\(shape)" }

    static func load() throws -> [AnswerCase] {
        let url = packageRoot.appendingPathComponent("fixtures/answers/corpus.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        guard case .array(let items)? = JSONValue.parse(text) else { throw CorpusError("corpus.json is not a JSON array") }
        return try items.map { item in
            guard let shape = item["shape"]?.stringValue, let family = item["family"]?.stringValue,
                let source = item["source"]?.stringValue, let answer = item["answer"]?.stringValue, let expect = item["expect"]
            else { throw CorpusError("a case lacks shape, family, source, answer or expect: \(item.canonicalText().prefix(120))") }
            var abstain: ParseFailure.Kind?
            if let reason = expect["abstain"]?.stringValue {
                guard let kind = ParseFailure.Kind(rawValue: reason) else { throw CorpusError("\(shape): unknown reason class \(reason)") }
                abstain = kind
            }
            let verdict = expect["verdict"]?.stringValue.flatMap(Verdict.init(rawValue:))
            let score = expect["score"]?.intValue
            guard abstain != nil || (score != nil && verdict != nil) else {
                throw CorpusError("\(shape): expects neither an answer nor an abstention")
            }
            return AnswerCase(
                shape: shape, family: family, source: source, answer: answer, score: score, verdict: verdict, abstain: abstain,
                paragraphStarts: expect["paragraph_starts"]?.stringValue,
                paragraphExcludes: expect["paragraph_excludes"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
    }

    static let all: [AnswerCase] = (try? load()) ?? []
}

struct CorpusError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct ReviewParserTests {
    @Test func theCorpusIsComplete() throws {
        let cases = try AnswerCase.load()
        #expect(cases.count >= 60)
        #expect(Set(cases.map(\.shape)).count == cases.count, "every case names a shape of its own")
        #expect(cases.contains { $0.source.hasPrefix("recorded") }, "the corpus has answers recorded from a real model")
        let classes = Set(cases.compactMap(\.abstain))
        #expect(
            classes == Set(ParseFailure.Kind.allCases),
            "every reason class has a case: missing \(Set(ParseFailure.Kind.allCases).subtracting(classes))")
    }

    @Test(arguments: AnswerCase.all)
    func corpusCase(_ answerCase: AnswerCase) {
        switch ReviewParser.parse(answerCase.answer) {
        case .success(let review):
            guard answerCase.abstain == nil else {
                Issue.record("expected an abstention (\(answerCase.abstain!.rawValue)), read \(review.score) \(review.verdict)")
                return
            }
            #expect(review.score == answerCase.score)
            #expect(review.verdict == answerCase.verdict)
            if let starts = answerCase.paragraphStarts {
                #expect(review.text.hasPrefix(starts), "paragraph: \(review.text)")
            }
            for excluded in answerCase.paragraphExcludes {
                #expect(!review.text.contains(excluded), "paragraph keeps '\(excluded)': \(review.text)")
            }
        case .failure(let failure):
            #expect(answerCase.abstain == failure.kind, "\(failure.kind.rawValue): \(failure.reason)")
        }
    }

    /// The one pass that decides whether an answer needs rewriting finds each marker by its bytes: a
    /// carriage return, a tag, a bracket, and Kimi's `◁think▷` (a three-byte scalar).
    @Test func answerMarkersAreFoundByTheirBytes() throws {
        let json = #"{"score": 71, "verdict": "ship", "paragraph": "Clean primitive."}"#
        #expect(try AnswerText.prepare("\u{25C1}think\u{25B7}Score 5, skip.\u{25C1}/think\u{25B7}\n" + json).get() == json)
        #expect(try AnswerText.prepare("<think>Score 5, skip.</think>" + json).get() == json)
        #expect(try AnswerText.prepare("[THINK]Score 5[/THINK]\r\n" + json).get() == json)
        #expect(try AnswerText.prepare("a\r\nb\rc ◀ é").get() == "a\nb\nc ◀ é")
        #expect(try AnswerText.prepare("  \u{25C1} plain ▷ ").get() == "\u{25C1} plain ▷")
        #expect(AnswerText.prepare("\u{25C1}think\u{25B7} only reasoning").failureValue != nil)
    }

    @Test func verdictPhrasings() {
        for (text, verdict) in [
            ("Ship", Verdict.ship), ("SHIP IT!", .ship), ("skip it.", .skip), ("**Skip**", .skip), ("Don't ship", .skip),
            ("✅", .ship), ("❌ Skip", .skip), ("do not ship", .skip), ("Ship — with caveats", .ship),
        ] {
            #expect((try? ReviewParser.parseVerdict(text).get()) == verdict, "\(text)")
        }
        for unclear in ["ship or skip", "maybe", "✅ Skip", ""] {
            #expect((try? ReviewParser.parseVerdict(unclear).get()) == nil, "\(unclear)")
        }
    }

    @Test func scoreForms() {
        for (text, score) in [
            ("78", 78), ("78/100", 78), ("7.8/10", 78), ("4/5", 80), ("78%", 78), ("66 out of 100", 66), ("[[7]]", 7), ("7,5/10", 75),
        ] {
            #expect((try? ReviewParser.parseScore(text).get()) == score, "\(text)")
        }
        for outside in ["101", "-1", "12/10", "0.5"] {
            #expect(throws: ParseFailure.self, "\(outside)") { try ReviewParser.parseScore(outside).get() }
        }
    }

    /// An object naming one thing by two keys (`score` and `rating`, `rationale` and `summary`): the key
    /// listed first counts, whatever order the fields come in (it was the order of a hashed set's iteration).
    @Test func anObjectsPreferredKeysCountInAnyFieldOrder() throws {
        let fields = [
            #""rating": 40"#, #""score": 70"#, #""verdict": "ship""#, #""call": "skip""#, #""summary": "The summary.""#,
            #""rationale": "The rationale.""#,
        ]
        for rotation in 0..<fields.count {
            let text = "{" + (fields[rotation...] + fields[..<rotation]).joined(separator: ", ") + "}"
            let review = try ReviewParser.parse(text).get()
            #expect(review.score == 70, "\(text)")
            #expect(review.verdict == .ship, "\(text)")
            #expect(review.text == "The rationale.", "\(text)")
        }
    }

    /// The repair request quotes the reason: it must say what was wrong in words a model can act on.
    @Test func failuresSayWhatWasWrong() throws {
        let failure = try #require(ReviewParser.parse("Score: 70\nVerdict: ship\n\ntext\n\nFinal score: 75").failureValue)
        #expect(failure.reason.contains("70") && failure.reason.contains("75"))
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

/// What a model copies from the prompt instead of writing is refused, whatever its case; a paragraph is
/// ruled out by its length alone.
struct PlaceholderTests {
    @Test func placeholdersAreKnownWhateverTheirCaseAndParagraphsAreNot() {
        for text in ["...", "…", "TODO", "Your Paragraph", "n/a", "<your paragraph>", "<Paragraph goes here>", "String"] {
            #expect(AnswerFindings.isPlaceholder(text), "\(text)")
        }
        let paragraph = String(repeating: "It ships typed webhooks and retries them well. ", count: 20)
        for text in [paragraph, "todo: " + paragraph, "<" + paragraph + ">", "Text that is not a placeholder", "<a> and <b>"] {
            #expect(!AnswerFindings.isPlaceholder(text), "\(text.prefix(30))")
        }
    }
}

/// A model's field names are read whatever their case and separators: `Ship_Or_Skip`, `ship-or-skip` and
/// `shipOrSkip` are one key.
struct AnswerKeyTests {
    @Test func keysAreLowercasedWithoutSeparators() {
        for (key, normalized) in [
            ("Score", "score"), ("Ship_Or_Skip", "shiporskip"), ("ship-or-skip", "shiporskip"), (" Verdict ", "verdict"),
            ("REVIEW_TEXT", "reviewtext"), ("score2", "score2"), ("", ""), ("Ÿes_Nö", "ÿesnö"), ("Ünder Score", "ünderscore"),
        ] {
            #expect(AnswerFindings.normalizedKey(key) == normalized, "\(key)")
        }
    }
}
