import Foundation
import ModelBackends
import ModelRouter
import PanelEngine
import PanelKit
import Testing

/// Extreme values — ±inf, NaN, 1e308, Int64.max, negatives, empty — through every path where a number
/// from outside becomes an integer or a duration: each ends as a clean error or an unknown (nil), never
/// a trap. (Each case trapped before: exit 132 and a backtrace.)
struct ExtremeValueTests {
    static let extremes = ["99999999999999999999", "1e308", "-1e308", "inf", "-inf", "nan", "-5", "", "9223372036854775807", "1e-320"]

    @Test(arguments: extremes)
    func retryAfterHeadersNeverTrap(_ value: String) {
        for name in ["retry-after", "retry-after-ms"] {
            let wait = RetryAfter.parse(headers: [(name, value)])
            if let wait { #expect(wait >= .zero && wait <= .seconds(CheckedNumber.maxSeconds)) }
        }
        // A server asking for an absurd wait is asked for longer than any retry policy waits: the call fails.
        #expect(RetryAfter.parse(headers: [("retry-after", "99999999999999999999")]).map { $0 > RetryPolicy().maxRetryAfter } == true)
    }

    @Test func serverReportedTokenCountsAndCostsStayFinite() {
        #expect(TokenUsage(inputTokens: -5, outputTokens: -1) == TokenUsage())
        let huge = TokenUsage(inputTokens: Int.max, outputTokens: Int.max)
        #expect(Price(inputPerMTok: 1e308, outputPerMTok: 1e308).cost(of: huge) == nil)
        let persona = Persona(id: "builder", name: "Builder", weighs: "x", order: 1)
        let results = (0..<2).map { _ in
            PersonaResult(
                persona: persona, outcome: .answered(ParsedReview(score: 70, verdict: .ship, text: "t")), inputTokens: Int.max,
                outputTokens: Int.max, costUSD: 1e308, attempts: 1)
        }
        let listing = Listing(name: "Acme", description: "d")
        let document = ReviewDocument(
            run: ReviewRun(
                tools: [.init(listing: listing, results: results, panel: PanelSummary(results: results))], personas: [persona], wallMS: 1))
        #expect(document.totals.inputTokens == nil && document.totals.outputTokens == nil)  // would not fit: unknown
        #expect(document.totals.costUSD == nil)  // infinite: unknown
        #expect(JSONDocumentRenderer.render(document) != "{}\n")
        #expect(Duration.seconds(Int64.max).milliseconds == Int.max)
    }

    @Test(arguments: [
        ("timeout_s: 1e308", "backends[0].timeout_s"), ("timeout_s: 1e17", "backends[0].timeout_s"),
        ("price: {input_per_mtok: 1e308, output_per_mtok: 1}", "backends[0].price"),
    ])
    func configurationRefusesOutOfRangeNumbers(_ field: String, _ path: String) {
        let yaml = "backends:\n  - {name: a, kind: openai, model: m, \(field)}\n"
        #expect {
            try PanelConfiguration.parse(yaml, source: "panel.yaml")
        } throws: { error in
            "\(error)".contains(path)
        }
    }

    @Test(arguments: ["1e16", "-1", "1e308"])
    func routerWaitsAreBounded(_ value: String) {
        let yaml = "backends:\n  - {name: a, kind: openai, model: m}\nrouter:\n  max_recovery_wait_s: \(value)\n"
        #expect {
            try PanelConfiguration.parse(yaml, source: "panel.yaml")
        } throws: { error in
            "\(error)".contains("router.max_recovery_wait_s")
        }
    }

    @Test func observedLatenciesFromAFileAreFiltered() {
        let statistics = BackendStatistics()
        statistics.record("b", latenciesMS: [1e20, .nan, -1, .infinity, 1e308])
        #expect(statistics.snapshot("b").samples == 0)
        statistics.record("b", latenciesMS: [100, 200, 300])
        #expect(statistics.snapshot("b").p90MS == 300)
    }

    @Test(arguments: [
        (#""ship_share": 0.75"#, #""ship_share": 1e308"#, "ship_share"), (#""score": 44"#, #""score": -5"#, "score"),
        (#""attempts": 1"#, #""attempts": -3"#, "attempts"), (#""cost_usd": 0.0001026"#, #""cost_usd": -1"#, "cost_usd"),
    ])
    func documentsWithOutOfRangeNumbersAreRefused(_ original: String, _ replacement: String, _ field: String) throws {
        let url = packageRoot.appendingPathComponent("fixtures/documents/review.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        try #require(text.contains(original))
        let hostile = text.replacingOccurrences(of: original, with: replacement)
        #expect {
            try JSONDocumentRenderer.decode(Data(hostile.utf8), source: "doc.json")
        } throws: { error in
            "\(error)".contains("doc.json") && "\(error)".contains(field)
        }
    }

    @Test func checkedConversions() {
        #expect(CheckedNumber.duration(seconds: .nan) == nil && CheckedNumber.duration(seconds: -1) == nil)
        #expect(CheckedNumber.duration(seconds: 1e17) == nil && CheckedNumber.duration(seconds: 1.5) == .milliseconds(1500))
        #expect(CheckedNumber.clampedDuration(seconds: .infinity) == .seconds(CheckedNumber.maxSeconds))
        #expect(CheckedNumber.integer(1e308) == nil && CheckedNumber.integer(2.5) == nil && CheckedNumber.integer(7) == 7)
        #expect(CheckedNumber.clamped(1e308, to: 0...100) == 100 && CheckedNumber.clamped(.nan, to: 0...100) == nil)
        #expect(CheckedNumber.sum(Int.max, 1) == nil)
    }
}
