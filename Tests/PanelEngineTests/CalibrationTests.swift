import Foundation
import ModelBackends
import PanelEngine
import PanelKit
import Testing

/// `panel calibrate` recovers a known monotone map from synthetic labels; the file round-trips; documents
/// show the calibrated score beside the raw one.
struct CalibrationTests {
    let evaluation = EvaluationTests()

    /// 41 tools whose builder scored 30, 31.5, …, 90 (the median score), and labels from `truth` (+ noise).
    func synthetic(_ truth: (Double) -> Double, noise: (Int) -> Double = { _ in 0 }) throws -> ([ReviewDocument], [EditorLabel]) {
        let raws = (0...40).map { 30 + Double($0) * 1.5 }
        let document = try evaluation.document(raws.enumerated().map { ("T\($0.offset)", PanelVerdict.ship, $0.element, Verdict.ship) })
        let labels = raws.enumerated().map { index, raw in
            EditorLabel(
                name: "T\(index)", verdict: .ship, score: min(100, max(0, truth(Double(Int(raw))) + noise(index))), source: "synthetic")
        }
        return ([document], labels)
    }

    @Test func recoversAKnownMonotoneMap() throws {
        func truth(_ raw: Double) -> Double { raw < 60 ? raw * 0.5 : 30 + (raw - 60) * 2 }  // harsh below 60, generous above
        let (documents, labels) = try synthetic(truth)
        let calibration = Calibration.fit(documents, labels: labels)
        let map = try #require(calibration.maps.first { $0.persona == "builder" })
        #expect(map.n == 41)
        for raw in stride(from: 30.0, through: 90, by: 3) {
            #expect(abs(map(raw) - truth(raw)) <= 1.5, "raw \(raw): \(map(raw)) vs \(truth(raw))")
        }
        // Monotone, and flat outside the fitted range.
        let values = stride(from: 0.0, through: 100, by: 1).map { map($0) }
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(map(0) == map(30) && map(100) == map(90))
    }

    @Test func noisyLabelsStillGiveAMonotoneMapNearTheTruth() throws {
        let (documents, labels) = try synthetic({ $0 * 0.8 + 10 }, noise: { index in Double((index * 7) % 9) - 4 })
        let map = try #require(Calibration.fit(documents, labels: labels).maps.first { $0.persona == "builder" })
        let values = stride(from: 30.0, through: 90, by: 1).map { map($0) }
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 })
        let error = stride(from: 36.0, through: 84, by: 6).map { abs(map($0) - ($0 * 0.8 + 10)) }.max() ?? 99
        #expect(error <= 4.5)
    }

    @Test func theFileRoundTripsAndIsAppliedToDocuments() throws {
        let (documents, labels) = try synthetic { $0 - 10 }
        let calibration = Calibration.fit(documents, labels: labels)
        let parsed = try Calibration.parse(calibration.yaml(), source: "c.yaml")
        #expect(parsed.maps == calibration.maps)
        var document = documents[0]
        parsed.apply(to: &document)
        let builder = try #require(document.tools[0].reviews.first { $0.persona == "builder" })
        #expect(builder.calibratedScore == 20)  // raw 30 → 20
        #expect(DocumentFormat.markdown.render(document).contains("30/100 · ship · calibrated 20"))
        #expect(JSONDocumentRenderer.render(document).contains("\"calibrated_score\" : 20"))
        for bad in [
            "calibrations:\n  - {persona: b, model: m, points: [[50, 60], [40, 70]]}\n",
            "calibrations:\n  - {persona: b, model: m, points: [[50, 60], [60, 50]]}\n",
            "calibrations:\n  - {persona: b, points: [[1, 2]]}\n", "maps: []\n",
        ] {
            #expect(throws: LabelError.self) { try Calibration.parse(bad, source: "bad.yaml") }
        }
    }
}
