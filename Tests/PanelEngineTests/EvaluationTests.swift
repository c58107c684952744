import Foundation
import ModelBackends
import PanelEngine
import PanelKit
import Testing

/// `panel eval`'s figures equal a direct computation on known cases; label files are read strictly.
struct EvaluationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A document whose tools have the given panel verdicts, median scores and builder verdicts (nil: abstained).
    func document(_ tools: [(name: String, panel: PanelVerdict, median: Double, builder: Verdict?)]) throws -> ReviewDocument {
        let url = Self.root.appendingPathComponent("fixtures/documents/review.json")
        var document = try JSONDocumentRenderer.decode(Data(contentsOf: url), source: url.path)
        let template = document.tools[0]
        document.tools = tools.map { spec in
            var tool = template
            tool.name = spec.name
            tool.panel.verdict = spec.panel
            tool.panel.scoreMedian = spec.median
            tool.reviews = tool.reviews.map { review in
                var review = review
                if review.persona == "builder" {
                    review.status = spec.builder == nil ? .abstained : .answered
                    review.verdict = spec.builder
                    review.score = spec.builder == nil ? nil : Int(spec.median)
                }
                return review
            }
            return tool
        }
        return document
    }

    @Test func kappaAgreementAndConfusionEqualADirectComputation() throws {
        // model/editor: ship/ship ×4, ship/skip ×1, skip/ship ×2, skip/skip ×2, and a split panel left out.
        let specs: [(String, PanelVerdict, Double, Verdict?, Verdict, Double?)] = [
            ("A", .ship, 80, .ship, .ship, 85), ("B", .ship, 75, .ship, .ship, 70), ("C", .ship, 70, nil, .ship, 72),
            ("D", .ship, 90, .ship, .ship, 95), ("E", .ship, 66, .ship, .skip, 40), ("F", .skip, 40, .skip, .ship, 60),
            ("G", .skip, 35, nil, .ship, nil), ("H", .skip, 20, .skip, .skip, 25), ("I", .skip, 30, .ship, .skip, 20),
            ("J", .split, 50, .ship, .ship, 55),
        ]
        let document = try document(specs.map { ($0.0, $0.1, $0.2, $0.3) })
        let labels =
            specs.map { EditorLabel(name: $0.0, verdict: $0.4, score: $0.5, source: "test") }
            + [EditorLabel(name: "Nowhere", verdict: .ship, source: "test")]
        let evaluation = Evaluation.evaluate([document], labels: labels)

        let panel = evaluation.panel
        #expect(panel.confusion == .init(yesYes: 4, yesNo: 1, noYes: 2, noNo: 2))
        #expect(panel.excluded == ["split": 1])
        #expect(panel.confusion.agreement == 6.0 / 9.0)
        // Direct: p_o = 6/9; model ship 5/9, editor ship 6/9; p_e = 5/9·6/9 + 4/9·3/9 = 42/81; κ = (54 − 42)/(81 − 42).
        #expect(abs((panel.kappa ?? 0) - 12.0 / 39.0) < 1e-12)
        let (low, high) = try #require(panel.kappaInterval)
        #expect(low < 12.0 / 39.0 && 12.0 / 39.0 < high && low >= -1 && high <= 1)
        let scored = specs.filter { $0.1 != .split && $0.5 != nil }
        #expect(panel.scored == scored.count)
        #expect(abs((panel.spearman ?? 0) - (Statistics.spearman(scored.map(\.2), scored.map { $0.5! }) ?? 9)) < 1e-12)
        #expect(abs((panel.leniency ?? 0) - scored.map { $0.2 - $0.5! }.reduce(0, +) / Double(scored.count)) < 1e-12)

        let builder = try #require(evaluation.personas.first { $0.id == "builder" }?.group)
        #expect(builder.excluded == ["abstained": 2])
        // builder/editor over the answered: A s/s, B s/s, D s/s, E s/k, F k/s, H k/k, I s/k, J s/s.
        #expect(builder.confusion == .init(yesYes: 4, yesNo: 2, noYes: 1, noNo: 1))
        #expect(evaluation.unmatched == ["Nowhere"])
        #expect(evaluation.unlabelled == 0)

        let json = evaluation.json()
        #expect(json["panel"]?["model_ship_editor_skip"]?.intValue == 1)
        #expect(json["personas"]?["builder"]?["excluded"]?["abstained"]?.intValue == 2)
        #expect(json["panel"]?["kappa_ci"]?.arrayValue?.count == 2)
        // Same inputs, same bytes (the bootstrap's seed comes from the labels).
        #expect(Evaluation.evaluate([document], labels: labels).json() == json)
        #expect(evaluation.markdown().contains("| **Panel** | 9 | 67% | 0.31 ("))
    }

    @Test func anUndefinedKappaIsNullWithAReason() throws {
        let document = try document([("A", .ship, 80, .ship), ("B", .ship, 70, .ship)])
        let evaluation = Evaluation.evaluate(
            [document], labels: [.init(name: "A", verdict: .ship, source: "t"), .init(name: "B", verdict: .ship, source: "t")])
        #expect(evaluation.panel.kappa == nil && evaluation.panel.confusion.agreement == 1)
        #expect(evaluation.json()["panel"]?["kappa"] == .null)
        #expect(evaluation.json()["panel"]?["kappa_reason"]?.stringValue?.contains("one verdict only") == true)
    }

    @Test func labelFilesAreReadStrictly() throws {
        let csv = "Name,Verdict,Score,Notes\n\"Acme, Inc\",ship,80,\"said \"\"yes\"\"\"\nZed,SKIP,,\n"
        let labels = try EditorLabels.parse(csv, source: "l.csv", csv: true)
        #expect(labels.map(\.name) == ["Acme, Inc", "Zed"])
        #expect(labels.map(\.verdict) == [.ship, .skip] && labels[0].score == 80 && labels[1].score == nil)
        #expect(labels[1].source == "l.csv:3")
        let yaml = "- {name: Acme, verdict: ship, score: 70}\n- name: Zed\n  verdict: skip\n"
        #expect(try EditorLabels.parse(yaml, source: "l.yaml", csv: false).count == 2)
        #expect(try EditorLabels.parse("labels:\n  - {name: A, verdict: ship}\n", source: "l.yaml", csv: false).count == 1)
        func message(_ text: String, csv: Bool) -> String {
            do {
                _ = try EditorLabels.parse(text, source: "l", csv: csv)
                return ""
            } catch {
                return error.description
            }
        }
        #expect(
            message("name,verdict\nA,ship\nB,skip\nA,skip\n", csv: true)
                == "l: each listing is labelled once; named again: 'A' (l:2 and l:4)")
        #expect(message("name,verdict\nA,maybe\n", csv: true) == "l:2: 'verdict' must be ship or skip, found 'maybe'")
        #expect(message("name,verdict,score\nA,ship,120\n", csv: true).contains("'score' must be a number from 0 to 100"))
        #expect(message("title,verdict\nA,ship\n", csv: true).contains("must name the columns 'name' and 'verdict'"))
        #expect(message("- {verdict: ship}\n", csv: false).contains("'name' is missing"))
        #expect(message("name: A\n", csv: false).contains("must be a list"))
    }

    @Test func editorsOverridesAndApprovalsAreLabels() throws {
        var document = try document([("A", .ship, 80, .ship), ("B", .skip, 30, .skip), ("C", .split, 50, .ship)])
        document.editor = ReviewDocument.Editor(
            overrides: [.init(tool: "A", verdict: .skip, note: "n", by: "ann", at: "t")], approved: .init(by: "bob", at: "t"))
        let labels = TrustInputs.labels(fromEditorBlocksOf: [document])
        #expect(labels.map(\.name) == ["A", "B"])
        #expect(labels.map(\.verdict) == [.skip, .skip])
        #expect(labels[0].source == "an override by ann" && labels[1].source == "an approval by bob")
    }
}

/// `quality: measured`: the router's 1–5 quality from the editors' agreement.
struct MeasuredQualityTests {
    @Test func theFormulaAndItsMinimum() {
        #expect(MeasuredQuality(backend: "a", kappa: 0.71, agreement: 0.9, n: 40).quality == 4)
        #expect(MeasuredQuality(backend: "a", kappa: 1, agreement: 1, n: 10).quality == 5)
        #expect(MeasuredQuality(backend: "a", kappa: 0.1, agreement: 0.6, n: 10).quality == 1)
        #expect(MeasuredQuality(backend: "a", kappa: -0.3, agreement: 0.3, n: 50).quality == 1)
        #expect(MeasuredQuality(backend: "a", kappa: 0.9, agreement: 0.95, n: 9).quality == 3)
        #expect(MeasuredQuality(backend: "a", kappa: nil, agreement: 1, n: 30).quality == 3)
    }

    @Test func aMeasuredBackendTakesItsStoredQuality() throws {
        let text = """
            backends:
              - {name: big, kind: openai, base_url: "http://127.0.0.1:9/v1", model: m, quality: measured}
              - {name: small, kind: openai, base_url: "http://127.0.0.1:9/v1", model: m, quality: measured}
              - {name: fixed, kind: openai, base_url: "http://127.0.0.1:9/v1", model: m, quality: 2}
            panel:
              backend: router
            """
        let configuration = try PanelConfiguration.parse(text, source: "panel.yaml")
        #expect(configuration.backends.map(\.qualityMeasured) == [true, true, false])
        let (resolved, notes) = configuration.resolvingMeasuredQuality([MeasuredQuality(backend: "big", kappa: 0.8, agreement: 0.9, n: 30)])
        #expect(resolved.backends.map(\.quality) == [4, 3, 2])
        #expect(
            notes.count == 2 && notes[0].contains("quality 4 measured (kappa 0.80 over 30") && notes[1].contains("no measurement is stored")
        )
        #expect(throws: (any Error).self) {
            try PanelConfiguration.parse(text.replacingOccurrences(of: "quality: 2", with: "quality: great"), source: "panel.yaml")
        }
    }
}

/// Two documents reviewing the same tool: counted once, from the newest, and said.
struct EvaluationDuplicatesTests {
    @Test func toolsReviewedInSeveralDocumentsAreNamed() throws {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("fixtures/documents/review.json"))
        var older = try JSONDocumentRenderer.decode(data, source: "review.json")
        older.generatedAt = "2026-01-01T00:00:00Z"
        let newer = try JSONDocumentRenderer.decode(data, source: "review.json")
        let name = try #require(newer.tools.first?.name)
        let evaluation = Evaluation.evaluate(
            [older, newer], labels: [EditorLabel(name: name, verdict: .ship, source: "test")], resamples: 10)
        #expect(evaluation.duplicates.map(\.name) == [name] && evaluation.duplicates.first?.documents == 2)
        #expect(evaluation.duplicatesNotice?.contains("\(name) (2 documents)") == true)
        #expect(evaluation.markdown().contains("Reviewed in more than one document"))
        #expect(evaluation.json()["labels"]?["duplicates"]?.arrayValue?.count == 1)
        #expect(evaluation.panel.n + evaluation.panel.excluded.values.reduce(0, +) == 1)
    }
}
