import Foundation
import ModelBackends
import Testing

@testable import PanelKit

/// The team server's `editor` block: additive to v1, shown by every renderer, the model's text kept.
struct EditorBlockTests {
    func edited() throws -> ReviewDocument {
        let url = packageRoot.appendingPathComponent("fixtures/documents/comparison-2.json")
        var document = try JSONDocumentRenderer.decode(Data(contentsOf: url), source: url.path)
        let tool = document.tools[0].name
        document.editor = ReviewDocument.Editor(
            edits: [
                .init(tool: tool, persona: "builder", text: "First rewrite.", by: "ann", at: "2026-11-30T10:00:00Z"),
                .init(tool: tool, persona: "builder", text: "Second <b>rewrite</b>.", by: "bob", at: "2026-11-30T10:05:00Z"),
            ],
            overrides: [.init(tool: tool, verdict: .skip, note: "Pricing changed <today>", by: "ann", at: "2026-11-30T10:06:00Z")],
            approved: .init(by: "cat", at: "2026-11-30T11:00:00Z"))
        return document
    }

    @Test func theJSONKeepsTheModelsTextAndRoundTrips() throws {
        let document = try edited()
        let json = JSONDocumentRenderer.render(document)
        let back = try JSONDocumentRenderer.decode(Data(json.utf8), source: "edited.json")
        #expect(back == document)
        #expect(back.schema == "panel.document/v1")
        let original = document.tools[0].reviews.first { $0.persona == "builder" }?.text
        #expect(back.tools[0].reviews.first { $0.persona == "builder" }?.text == original)
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let editor = try #require(object["editor"] as? [String: Any])
        #expect((editor["edits"] as? [Any])?.count == 2)
        #expect((editor["approved"] as? [String: Any])?["by"] as? String == "cat")
    }

    @Test func aDocumentNobodyEditedHasNoEditorKey() throws {
        var document = try edited()
        document.editor = nil
        #expect(!JSONDocumentRenderer.render(document).contains("\"editor\""))
    }

    @Test func markdownShowsTheLatestEditTheOverrideAndTheApproval() throws {
        let markdown = DocumentFormat.markdown.render(try edited())
        #expect(markdown.contains("Second \\<b>rewrite\\</b>."))
        #expect(!markdown.contains("First rewrite."))
        #expect(markdown.contains("_Edited by bob at 2026-11-30T10:05:00Z"))
        #expect(markdown.contains("**Editor's verdict:** Skip"))
        #expect(markdown.contains("editor's call; the panel said"))
        #expect(markdown.contains("approved by cat at 2026-11-30T11:00:00Z"))
    }

    @Test func htmlShowsTheEditEscapedAndTheModelsParagraphBesideIt() throws {
        let document = try edited()
        let html = DocumentFormat.html.render(document)
        #expect(html.contains("Second &lt;b&gt;rewrite&lt;/b&gt;."))
        #expect(!html.contains("<b>rewrite</b>"))
        #expect(html.contains("Pricing changed &lt;today&gt;"))
        #expect(html.contains("data-override=\"skip\""))
        #expect(html.contains("<details class=\"edited\">"))
        let original = try #require(document.tools[0].reviews.first { $0.persona == "builder" }?.text)
        #expect(html.contains(String(original.prefix(30)).replacingOccurrences(of: "'", with: "&#39;")))
        #expect(html.contains("approved by cat"))
    }
}
