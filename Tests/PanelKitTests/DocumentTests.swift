import Foundation
import Testing

@testable import PanelKit

struct DocumentTests {
    func document(reviewText: String, listing: Listing) -> ReviewDocument {
        let personas = PromptSet.builtIn().personas
        let results = personas.map { persona in
            PersonaResult(
                persona: persona, outcome: .answered(ParsedReview(score: 70, verdict: .ship, text: reviewText)), backend: "b",
                model: "m", attempts: 1)
        }
        let run = ReviewRun(
            tools: [.init(listing: listing, results: results, panel: PanelSummary(results: results))], personas: personas, wallMS: 1200)
        return ReviewDocument(run: run, generatedAt: Date(timeIntervalSince1970: 1_764_000_000))
    }

    @Test func markdownEscapesUntrustedTextAndTableCells() {
        let listing = Listing(
            name: "Pipe|Tool", description: "desc", category: "A|B\nC", pricing: "<script>alert(1)</script>", url: "javascript:alert(1)")
        let markdown = MarkdownRenderer().render(document(reviewText: "<img src=x onerror=alert(1)> fine & good", listing: listing))
        #expect(!markdown.contains("<script>"))
        #expect(!markdown.contains("<img"))
        #expect(markdown.contains("&lt;img src=x onerror=alert(1)&gt; fine &amp; good"))
        #expect(markdown.contains("| **Category** | A\\|B C |"))
        #expect(!markdown.contains("javascript:"))
        #expect(markdown.hasPrefix("# Pipe|Tool\n"))
    }

    @Test func otherSchemaVersionsAreRejected() {
        let error = #expect(throws: DocumentError.self) {
            try JSONDocumentRenderer.decode(Data(#"{"schema": "panel.document/v2"}"#.utf8), source: "old.json")
        }
        #expect(error?.description.contains("panel.document/v2") == true)
    }
}
