import Foundation
import ModelBackends
import PanelEngine
import PanelKit
import Testing

/// `panel stats` on a hand-made case: every figure equals its definition.
struct PanelStatsTests {
    let evaluation = EvaluationTests()

    /// Three tools; the builder's and the skeptic's scores per tool.
    func documents() throws -> [ReviewDocument] {
        let scores: [(String, Int, Int)] = [("A", 80, 30), ("B", 65, 55), ("C", 90, 25)]
        var document = try evaluation.document(scores.map { ($0.0, PanelVerdict.ship, Double($0.1), Verdict.ship) })
        for (t, (_, builder, skeptic)) in scores.enumerated() {
            document.tools[t].reviews = document.tools[t].reviews.filter { ["builder", "skeptic"].contains($0.persona) }.map { review in
                var review = review
                review.status = .answered
                review.score = review.persona == "builder" ? builder : skeptic
                review.verdict = (review.score ?? 0) >= 50 ? .ship : .skip
                review.backend = "mock"
                review.model = review.persona == "builder" ? "big" : "small"
                return review
            }
        }
        document.personas = document.personas.filter { ["builder", "skeptic"].contains($0.id) }
        return [document]
    }

    @Test func figuresEqualTheirDefinitions() throws {
        let stats = PanelStats.compute(try documents())
        #expect(stats.tools == 3 && stats.personaIDs == ["builder", "skeptic"])
        let builder = stats.personas[0]
        #expect(builder.scores == [80, 65, 90])
        #expect(builder.histogram == [0, 0, 0, 0, 0, 0, 1, 0, 1, 1])
        #expect(builder.onFive == 1 && abs((builder.onTen ?? 0) - 2.0 / 3.0) < 1e-12)
        #expect(builder.shipRate == 1)
        #expect(stats.personas[1].shipRate == 1.0 / 3.0)
        #expect(stats.backends.map(\.name) == ["mock · big", "mock · small"])
        // Krippendorff's α over the units (tools) × coders (personas), as defined.
        let expected = Statistics.krippendorffAlpha([[80, 30], [65, 55], [90, 25]], metric: .interval)
        #expect(stats.alphaScores == expected)
        #expect(stats.alphaVerdicts == Statistics.krippendorffAlpha([[1, 0], [1, 1], [1, 0]], metric: .nominal))
        // The builder ranks A, B, C as 2, 1, 3; the skeptic as 2, 3, 1: ρ = −1; ρ̄ ≤ 0 caps opinions at n.
        #expect(abs((stats.spearman[0][1] ?? 0) + 1) < 1e-12)
        #expect(stats.effectiveOpinions == 2)
        let json = stats.json()
        #expect(json["agreement"]?["effective_opinions"]?.numberValue == 2)
        #expect(json["personas"]?["builder"]?["histogram"]?.arrayValue?.count == 10)
        let html = stats.html()
        #expect(html.components(separatedBy: "<svg class=\"histogram\"").count - 1 == 4)
        #expect(html.contains("<svg class=\"matrix\""))
        #expect(!html.contains("<script"))
        #expect(stats.markdown().contains("| Builder | 3 | 0 0 0 0 0 0 1 0 1 1 | 100% | 67% |"))
    }

    @Test func sampledReviewsGiveAFlipRate() throws {
        var documents = try documents()
        documents[0].tools[0].reviews[0].samples = [
            .init(score: 80, verdict: .ship), .init(score: 40, verdict: .skip), .init(score: 85, verdict: .ship),
            .init(score: 82, verdict: .ship),
        ]
        documents[0].tools[0].reviews[0].agreement = 0.75
        let stats = PanelStats.compute(documents)
        #expect(stats.personas[0].flipRate == 0.25)
        #expect(stats.personas[0].scores.count == 6)  // four samples + two single answers
        #expect(stats.personas[1].flipRate == nil)
    }

    /// Unsupported and contradicted rates per persona and per backend/model, from the documents' claims.
    @Test func claimRatesArePerPersonaAndPerModel() throws {
        var documents = try documents()
        func claim(_ status: Claim.Status) -> Claim {
            Claim(text: "x", span: [0, 1], kind: .money, value: .init(unit: "USD/month", min: 1, max: 1), status: status)
        }
        for t in documents[0].tools.indices {
            for r in documents[0].tools[t].reviews.indices {
                let builder = documents[0].tools[t].reviews[r].persona == "builder"
                documents[0].tools[t].reviews[r].claims =
                    builder ? [claim(.supported), claim(.unsupported), claim(.contradicted), claim(.supported)] : []
            }
        }
        let stats = PanelStats.compute(documents)
        let builder = stats.personas[0]
        #expect(builder.claims == ClaimCounts(total: 12, supported: 6, unsupported: 3, contradicted: 3))
        #expect(builder.unsupportedRate == 0.25 && builder.contradictedRate == 0.25 && builder.flaggedPerReview == 2)
        #expect(stats.personas[1].unsupportedRate == nil && stats.personas[1].flaggedPerReview == 0)
        #expect(stats.backends[0].name == "mock · big" && stats.backends[0].contradictedRate == 0.25)
        #expect(stats.markdown().contains("| 12 | 25% | 25% | 2.00 |"))
        #expect(stats.html().contains(#"<td data-figure="unsupported-rate">25%</td>"#))
        #expect(stats.json()["personas"]?["builder"]?["claims"]?["contradicted_rate"] == .double(0.25))
        // Documents made before claims were checked say nothing of them.
        #expect(PanelStats.compute(try self.documents()).personas[0].unsupportedRate == nil)
    }
}
