import Testing

@testable import PanelKit

struct ReviewParserTests {
    static let paragraph = "The primitive is clean and the first hour delivers."

    static let shapes: [(String, Int, Verdict)] = [
        (#"{"rationale": "\#(paragraph)", "score": 78, "verdict": "ship"}"#, 78, .ship),
        (#"{"review": "\#(paragraph)", "score": "7.8/10", "verdict": "SHIP"}"#, 78, .ship),
        (#"{"Rationale": "\#(paragraph)", "Score": 61.6, "Verdict": "Skip it"}"#, 62, .skip),
        ("Here is my review:\n\n```json\n{\"rationale\": \"\(paragraph)\", \"score\": 44, \"verdict\": \"skip\"}\n```\n", 44, .skip),
        ("Sure! {\"text\": \"\(paragraph) {braces} inside\", \"score\": 90, \"verdict\": \"ship\"} Hope that helps.", 90, .ship),
        (#"{"review": {"rationale": "\#(paragraph)", "score": 55, "verdict": "ship"}}"#, 55, .ship),
        ("78/100 · ship\n\n\(paragraph)", 78, .ship),
        ("**82/100 — Ship it**\n\n\(paragraph)", 82, .ship),
        ("7.8/10 | skip\n\(paragraph)", 78, .skip),
        ("Score: 78/100\nVerdict: Ship\n\n\(paragraph)", 78, .ship),
        ("**Score:** 64\n**Verdict:** SKIP\n\n**Rationale:** \(paragraph)", 64, .skip),
        ("\(paragraph)\n\nScore: 77%\nVerdict: Ship it", 77, .ship),
        ("- Score: 8/10\n- Verdict: do not ship\n\n\(paragraph)", 80, .skip),
        ("## Score: 91 out of 100\n## Verdict: ship.\n\(paragraph)", 91, .ship),
    ]

    @Test(arguments: shapes)
    func readsEveryShape(_ shape: (String, Int, Verdict)) throws {
        let review = try ReviewParser.parse(shape.0).get()
        #expect(review.score == shape.1)
        #expect(review.verdict == shape.2)
        #expect(review.text.hasPrefix(Self.paragraph))
    }

    static let failures: [(String, String)] = [
        ("", "empty"),
        ("I would rather not put a number on this one.", "found no score"),
        (#"{"rationale": "x", "verdict": "ship"}"#, "no score"),
        (#"{"rationale": "x", "score": 70}"#, "no verdict"),
        (#"{"score": 70, "verdict": "ship"}"#, "no rationale"),
        (#"{"rationale": "x", "score": 140, "verdict": "ship"}"#, "outside 0–100"),
        (#"{"rationale": "x", "score": -5, "verdict": "ship"}"#, "outside 0–100"),
        (#"{"rationale": "x", "score": 70, "verdict": "maybe"}"#, "neither ship nor skip"),
        ("Score: 12/10\nVerdict: ship\n\ntext", "outside 0–100"),
        ("Score: 70\n\ntext only", "no verdict line"),
        ("Verdict: ship\n\ntext only", "no score line"),
        ("78/100 · ship", "no review paragraph"),
    ]

    @Test(arguments: failures)
    func neverDefaultsAMissingField(_ failure: (String, String)) {
        switch ReviewParser.parse(failure.0) {
        case .success(let review): Issue.record("parsed \(review) from \(failure.0)")
        case .failure(let error): #expect(error.reason.contains(failure.1), "\(error.reason)")
        }
    }

    @Test func verdictPhrasings() {
        for (text, verdict) in [
            ("Ship", Verdict.ship), ("SHIP IT!", .ship), ("skip it.", .skip), ("**Skip**", .skip), ("Don't ship", .skip),
            ("I'd ship it", .ship),
        ] {
            #expect((try? ReviewParser.parseVerdict(text).get()) == verdict, "\(text)")
        }
        #expect((try? ReviewParser.parseVerdict("ship or skip").get()) == nil)
    }
}
