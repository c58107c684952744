import Foundation
import Testing

@testable import PanelKit

struct PanelSummaryTests {
    static let personas = ["builder", "skeptic", "founder", "futurist"].enumerated().map {
        Persona(id: $1, name: $1.capitalized, weighs: "x", order: $0)
    }

    func results(_ outcomes: [(Int, Verdict)?]) -> [PersonaResult] {
        outcomes.enumerated().map { index, outcome in
            PersonaResult(
                persona: Self.personas[index % 4],
                outcome: outcome.map { .answered(ParsedReview(score: $0.0, verdict: $0.1, text: "t")) } ?? .abstained(reason: "timeout"))
        }
    }

    @Test func majorityShip() {
        let summary = PanelSummary(results: results([(82, .ship), (61, .ship), (44, .skip), (70, .ship)]))
        #expect(summary.verdict == .ship)
        #expect((summary.ship, summary.skip, summary.abstained) == (3, 1, 0))
        #expect(summary.shipShare == 0.75)
        #expect(summary.scoreMedian == 65.5)
        #expect((summary.scoreMin, summary.scoreMax) == (44, 82))
        #expect(summary.headline == "Ship · 3 ship / 1 skip")
    }

    @Test func tieIsSplit() {
        let summary = PanelSummary(results: results([(80, .ship), (30, .skip), (75, .ship), (20, .skip)]))
        #expect(summary.verdict == .split)
    }

    @Test func abstentionsAreNotVotes() {
        let summary = PanelSummary(results: results([(80, .ship), nil, (30, .skip), (75, .ship)]))
        #expect(summary.verdict == .ship)
        #expect((summary.ship, summary.skip, summary.abstained) == (2, 1, 1))
        #expect(summary.shipShare == 2.0 / 3.0)
        #expect(summary.scoreMedian == 75)
        #expect(summary.headline == "Ship · 2 ship / 1 skip · 1 abstained")
    }

    @Test func belowQuorumIsIncomplete() {
        let twoAnswers = results([(80, .ship), nil, nil, (75, .ship)])
        #expect(PanelSummary(results: twoAnswers).verdict == .incomplete)  // default quorum: 3 of 4
        #expect(PanelSummary(results: twoAnswers, quorum: 2).verdict == .ship)
        let none = PanelSummary(results: results([nil, nil, nil, nil]))
        #expect(none.verdict == .incomplete)
        #expect(none.shipShare == nil && none.scoreMedian == nil && none.scoreMin == nil)
    }

    @Test func contradictions() {
        #expect(PersonaResult.contradicts(ParsedReview(score: 31, verdict: .ship, text: "")))
        #expect(PersonaResult.contradicts(ParsedReview(score: 85, verdict: .skip, text: "")))
        #expect(!PersonaResult.contradicts(ParsedReview(score: 50, verdict: .ship, text: "")))
        #expect(!PersonaResult.contradicts(ParsedReview(score: 69, verdict: .skip, text: "")))
    }
}
