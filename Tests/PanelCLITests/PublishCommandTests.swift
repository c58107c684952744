import Foundation
import PanelEngine
import PanelStore
import Testing

/// `panel publish --out DIR`: the published reviews as static files — the same pages, JSON, feed and
/// sitemap the team server answers.
@Suite(.timeLimit(.minutes(5)))
struct PublishCommandTests {
    let cli = PanelCLITests()

    @Test(.timeLimit(.minutes(2))) func theStaticSiteHasEveryPublishedReview() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-publish-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let review = try await cli.panel(["review", PanelCLITests.mistral, "--replay", PanelCLITests.recordings, "--format", "json"])
        #expect(review.code == 0, "\(review.stderr)")
        let storePath = dir.appendingPathComponent("s.sqlite").path
        let store = try PanelStore(path: storePath)
        for (id, status) in [("r_one", TeamReview.Status.done), ("r_two", .done)] {
            try await store.createReview(
                TeamReview(
                    id: id, createdAt: 1, tokenID: "t", createdBy: "ann", status: status, title: "Mistral 3 Small", listings: "[]",
                    document: review.stdout))
            try await store.updateReview(id: id, status: status, document: review.stdout, verdicts: ["ship"], costUSD: 0, error: nil)
        }
        _ = try await store.addEditorActions(review: "r_one", [EditorAction(kind: .approve, by: "ann", at: "2026-12-01T10:00:00Z")])
        _ = try await store.publish(review: "r_one", base: "mistral-3-small", at: Date(timeIntervalSince1970: 1_780_000_000))

        let out = dir.appendingPathComponent("site")
        let published = try await cli.panel(["publish", "--out", out.path, "--store", storePath, "--base-url", "https://reviews.example/"])
        #expect(published.code == 0, "\(published.stderr)")
        #expect(published.stderr.contains("published 1 review(s)"))
        let page = try String(contentsOf: out.appendingPathComponent("p/mistral-3-small/index.html"), encoding: .utf8)
        #expect(page.contains(#"<link rel="canonical" href="https://reviews.example/p/mistral-3-small">"#))
        #expect(page.contains(#""@type":"CriticReview""#) && page.contains(#""priceCurrency""#) == false)
        let json = try String(contentsOf: out.appendingPathComponent("p/mistral-3-small.json"), encoding: .utf8)
        #expect(json.contains(#""schema" : "panel.document/v1""#))
        let feed = try String(contentsOf: out.appendingPathComponent("feed.xml"), encoding: .utf8)
        #expect(feed.contains("<id>https://reviews.example/p/mistral-3-small</id>"))
        let sitemap = try String(contentsOf: out.appendingPathComponent("sitemap.xml"), encoding: .utf8)
        #expect(sitemap.contains("<loc>https://reviews.example/p/mistral-3-small</loc>"))
        let index = try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8)
        #expect(index.contains(#"<a href="p/mistral-3-small/">Mistral 3 Small</a>"#) && !index.contains("r_two"))

        let noBase = try await cli.panel(["publish", "--out", out.path, "--store", storePath])
        #expect(noBase.code == 2 && noBase.stderr.contains("--base-url"))
        let badBase = try await cli.panel(["publish", "--out", out.path, "--store", storePath, "--base-url", "ftp://x"])
        #expect(badBase.code == 2)
    }
}
