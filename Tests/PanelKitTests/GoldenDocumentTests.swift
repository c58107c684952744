import Foundation
import ModelBackends
import Testing

@testable import PanelKit

/// Golden files: fixtures/documents/*.json rendered with the built-in templates must equal
/// fixtures/golden/*. Regenerate after an intended change with PANEL_UPDATE_GOLDEN=1 swift test.
struct GoldenDocumentTests {
    static let names = ["review", "comparison-2", "comparison-3"]
    static let update = ProcessInfo.processInfo.environment["PANEL_UPDATE_GOLDEN"] == "1"

    func document(_ name: String) throws -> ReviewDocument {
        let url = packageRoot.appendingPathComponent("fixtures/documents/\(name).json")
        return try JSONDocumentRenderer.decode(Data(contentsOf: url), source: url.path)
    }

    @Test(arguments: names, ["md", "html"])
    func matchesGoldenFile(name: String, ext: String) throws {
        let rendered = (ext == "md" ? DocumentFormat.markdown : .html).render(try document(name))
        let golden = packageRoot.appendingPathComponent("fixtures/golden/\(name).\(ext)")
        if Self.update { try Data(rendered.utf8).write(to: golden) }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected, "fixtures/golden/\(name).\(ext) differs; if intended, run PANEL_UPDATE_GOLDEN=1 swift test")
    }

    /// A one-tool review reads as one review: no second heading with the same name, no one-column
    /// decision table — its rows (pricing, best for, category, median score) are listed with the card.
    @Test func aSingleReviewHasNoComparisonFurniture() throws {
        let review = try document("review")
        let name = try #require(review.tools.first?.name)
        let markdown = DocumentFormat.markdown.render(review)
        #expect(markdown.hasPrefix("# \(name)\n") && !markdown.contains("\n## \(name)\n"))
        #expect(!markdown.contains("Decision table") && !markdown.contains("| |"))
        if let pricing = review.tools.first?.pricing { #expect(markdown.contains("- **Pricing:** \(pricing)")) }
        let html = DocumentFormat.html.render(review)
        #expect(!html.contains("decision-heading") && html.contains("<dt>Median score</dt>"))
        let comparison = DocumentFormat.markdown.render(try document("comparison-2"))
        #expect(comparison.contains("## Decision table") && !comparison.contains("- **Pricing:**"))
    }

    /// The hand-built JSON of a saved review is exactly what Codable gives, for every review in the
    /// fixture documents (answered, abstained, flagged, partial usage), a routed one and a sampled one.
    @Test func reviewJSONMatchesCodable() throws {
        var reviews = try Self.names.flatMap { try document($0).tools.flatMap(\.reviews) }
        var routed = try #require(reviews.first)
        routed.routing = RoutingTrace(
            constraints: "cheapest", candidates: [.init(backend: "a", estimatedCostUSD: 0.001, p90MS: 900, quality: 3, rank: 1)],
            pick: "a", rule: "cheapest first", attempts: [.init(backend: "a", outcome: "answered", hedge: true)])
        routed.flags = ["repaired", "contradiction"]
        routed.costUSD = 0.000123
        reviews.append(routed)
        var sampled = routed
        sampled.samples = [
            SampleVote(score: 70, verdict: .ship), SampleVote(score: nil, verdict: nil), SampleVote(score: 41, verdict: .skip),
        ]
        sampled.scoreMedian = 55.5
        sampled.spread = ReviewDocument.Spread(min: 41, max: 70, iqr: 14.5)
        sampled.agreement = 0.5
        sampled.calibratedScore = 61.25
        sampled.claims = [
            Claim(
                text: "~7B", span: [0, 3], kind: .parameters, value: .init(unit: "parameters", min: 6e9, max: 8e9, approximate: true),
                status: .supported, quote: "7B", field: "name", quoteSpan: [4, 6]),
            Claim(text: "10%", span: [5, 8], kind: .percent, value: .init(unit: "%", min: 10, max: 10), status: .unsupported),
        ]
        reviews.append(sampled)
        #expect(reviews.count > 8)
        for review in reviews {
            let direct = try review.canonicalText()
            // The text written field by field is the keyed encoding's (Foundation's encoder takes
            // `encode(to:)`'s keyed walk, and so does the project's).
            let keyed = JSONEncoder()
            keyed.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(direct == String(decoding: try keyed.encode(review), as: UTF8.self))
            #expect(direct == (try JSONValueEncoder.encode(review)).canonicalText())
            let decoded = try JSONDecoder().decode(ReviewDocument.Review.self, from: Data(direct.utf8))
            #expect(decoded == review)
            // Read back by the project's own reader, as a batch reads its saved results: the same value.
            #expect(try JSONValueDecoder.decode(ReviewDocument.Review.self, from: direct) == review)
        }
        // Whole documents too (nested optionals, enums, arrays of objects).
        for name in Self.names {
            let document = try document(name)
            #expect(try JSONValueDecoder.decode(ReviewDocument.self, from: JSONValueEncoder.encode(document)) == document)
        }
        // The v1 JSON as the project's writer lays it out is Foundation's text, byte for byte.
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        for name in Self.names {
            let document = try document(name)
            let expected = String(decoding: try foundation.encode(document), as: UTF8.self) + "\n"
            #expect(JSONDocumentRenderer.render(document) == expected, "\(name)")
        }
        // And a document with every optional part the writer lists field by field: the editor's changes,
        // the model check, claim counts, readers' votes, provenance, a persona without a description, an
        // interval with a null half, and the routed and sampled reviews above.
        var full = try document("comparison-2")
        full.editor = ReviewDocument.Editor(
            edits: [.init(tool: "A", persona: "builder", text: "Edited.", by: "ed", at: "2026-12-06T10:00:00Z")],
            overrides: [.init(tool: "A", verdict: .skip, note: "No.", by: "ed", at: "2026-12-06T10:01:00Z")],
            approved: .init(by: "ed", at: "2026-12-06T10:02:00Z"))
        full.claimCheck = ClaimCheckRecord(backend: "m", model: "x", calls: 2, answered: 1, costUSD: 0.0001, asked: 3, errors: ["timeout"])
        full.claimCounts = ClaimCounts(total: 3, supported: 1, unsupported: 1, contradicted: 1)
        full.provenance = ReviewDocument.Provenance(
            panelVersion: "1.2.3", prompts: ["skeptic": "b2", "builder": "a1"], templates: ["review.md": "c3", "review.html": "d4"])
        full.personas[0].weighs = nil
        full.tools[0].communityVotes = CommunityVotes(readers: 3, ship: 2, skip: 1)
        full.tools[0].claimCounts = ClaimCounts(total: 1, supported: 1)
        full.tools[0].panel.interval = ReviewDocument.Interval(scoreMedian: [60.5, 71], shipShare: nil)
        full.tools[0].panel.closeCall = true
        full.tools[0].reviews += [routed, sampled]
        full.tools[1].panel.interval = nil
        full.tools[1].panel.closeCall = nil
        let expected = String(decoding: try foundation.encode(full), as: UTF8.self) + "\n"
        #expect(JSONDocumentRenderer.render(full) == expected)
        #expect(expected.contains(#""editor" : {"#) && expected.contains(#""community_votes" : {"#))
        // A wrong type is refused with its path, as JSONDecoder refuses it.
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder.decode(ReviewDocument.Review.self, from: #"{"persona": 3}"#)
        }
    }

    @Test func abstentionsSplitsAndIncompleteVerdictsAreVisible() throws {
        let doc = try document("comparison-3")
        let markdown = DocumentFormat.markdown.render(doc)
        let html = DocumentFormat.html.render(doc)
        #expect(markdown.contains("**Temporal Cloud — Abstained** — backend 'mistral': timeout"))
        #expect(
            markdown.contains(
                "| **Panel verdict** | Split · 2 ship / 2 skip | Ship · 3 ship / 1 skip | Incomplete · 2 ship / 0 skip · 2 abstained |"))
        #expect(markdown.contains("⚠ The verdict contradicts the score"))
        #expect(markdown.contains("Write \\<b>TypeScript\\</b> | deploy on save & share"))
        #expect(html.contains(#"<span class="badge split" data-verdict="split">Split</span>"#))
        #expect(html.contains(#"<span class="badge incomplete" data-verdict="incomplete">Incomplete</span>"#))
        #expect(html.contains(#"data-abstained="true""#))
        #expect(html.contains("Write &lt;b&gt;TypeScript&lt;/b&gt; | deploy on save &amp; share"))
    }

    @Test func markdownTableCellsEscapePipesAndNewlines() {
        let listing = Listing(
            name: "Pipe|Tool", description: "d", category: "A|B\nC", pricing: "<script>alert(1)</script>", url: "javascript:alert(1)")
        let results = PromptSet.builtIn().personas.map {
            PersonaResult(
                persona: $0, outcome: .answered(ParsedReview(score: 70, verdict: .ship, text: "<img src=x onerror=alert(1)> fine & good")),
                attempts: 1)
        }
        let other = Listing(name: "Other", description: "d")
        let run = ReviewRun(
            tools: [listing, other].map { .init(listing: $0, results: results, panel: PanelSummary(results: results)) },
            personas: PromptSet.builtIn().personas, wallMS: 1)
        let markdown = DocumentFormat.markdown.render(ReviewDocument(run: run))
        #expect(markdown.contains("| **Category** | A\\|B C | — |"))
        // Alone, its rows are a list, on one line each.
        let single = DocumentFormat.markdown.render(
            ReviewDocument(run: ReviewRun(tools: [run.tools[0]], personas: run.personas, wallMS: 1)))
        #expect(single.contains("- **Category:** A\\|B C\n"))
        #expect(markdown.contains("\\<img src=x onerror=alert(1)> fine & good"))
        // Every `<` that could open a tag is backslash-escaped: a Markdown viewer shows it as text.
        #expect(markdown.firstMatch(of: /(^|[^\\])<[A-Za-z\/!?]/) == nil)
        #expect(!markdown.contains("javascript:"))
        let html = DocumentFormat.html.render(ReviewDocument(run: run))
        #expect(!html.contains("<script") && !html.contains("<img") && !html.contains("javascript:"))
    }

    @Test func templatesCanBeOverriddenFromADirectory() throws {
        let dir = try TemporaryDirectory()
        _ = try dir.write(DocumentTemplates.markdownFile, "{{#tools}}* {{name}}: {{headline}}\n{{/tools}}")
        let templates = try DocumentTemplates.load(directory: dir.url)
        #expect(
            templates.renderMarkdown(try document("comparison-2"))
                == "* Azure AI Foundry Real-Time Voice API & Model Router: Ship · 3 ship / 1 skip\n* Mistral 3 Small: Ship · 3 ship / 1 skip\n"
        )
        #expect(templates.renderHTML(try document("review")) == DocumentTemplates.builtIn().renderHTML(try document("review")))
        _ = try dir.write(DocumentTemplates.htmlFile, "{{#tools}}")
        #expect(throws: TemplateError.self) { try DocumentTemplates.load(directory: dir.url) }
    }

    @Test func builtInTemplatesAreTheRepositoryTemplates() throws {
        for (name, text) in DefaultTemplates.files {
            let file = try String(contentsOf: packageRoot.appendingPathComponent("templates/\(name)"), encoding: .utf8)
            #expect(file.trimmingCharacters(in: .newlines) == text, "templates/\(name) differs; run scripts/embed-defaults.py")
        }
    }
}
