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
        reviews.append(sampled)
        #expect(reviews.count > 8)
        for review in reviews {
            let direct = try review.jsonValue()
            // The direct value is the keyed encoding's (Foundation's encoder takes `encode(to:)`'s keyed
            // walk; the project's takes the direct value through it).
            let keyed = JSONEncoder()
            keyed.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(direct.canonicalText() == String(decoding: try keyed.encode(review), as: UTF8.self))
            #expect(direct == (try JSONValueEncoder.encode(review)))
            let decoded = try JSONDecoder().decode(ReviewDocument.Review.self, from: direct.canonicalData())
            #expect(decoded == review)
            // Read back by the project's own reader, as a batch reads its saved results: the same value.
            #expect(try JSONValueDecoder.decode(ReviewDocument.Review.self, from: direct.canonicalText()) == review)
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
