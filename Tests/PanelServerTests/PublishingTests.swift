import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockProvider
import ModelBackends
import PanelEngine
import PanelKit
import PanelServer
import Testing

/// Publishing an approved review: the editor's API, the public page with its structured data and
/// validators, its JSON, the feed and the sitemap; unpublished is 404 to the public.
@Suite(.timeLimit(.minutes(5)))
struct PublishingTests {
    let api = ServerAPITests()

    static let listing = [
        "name": "Relay <script>alert(1)</script>", "tagline": "An LLM gateway", "category": "AI Infrastructure",
        "description": "Relay proxies LLM calls.", "pricing": "$10 per month; free tier", "url": "https://relay.example",
    ]

    func approve(_ server: ServerHarness, _ id: String) async throws {
        let approved = try await server.request(
            .patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true, "confirm": true}"#)
        #expect(approved.status == .ok, "\(approved.text)")
    }

    @Test(.timeLimit(.minutes(2))) func anApprovedReviewIsPublishedForReaders() async throws {
        try await ServerHarness.with { server in
            let (id, _) = try await server.review([Self.listing])
            let early = try await server.request(.post, "/v1/reviews/\(id)/publication", token: server.editor)
            #expect(early.status == .conflict && early.json?["error"]?["code"] == .string("not_approved"))
            api.conform(early, "/v1/reviews/{id}/publication", "post")
            try await approve(server, id)
            let viewer = try await server.request(.post, "/v1/reviews/\(id)/publication", token: server.viewer)
            #expect(viewer.status == .forbidden)
            let published = try await server.request(.post, "/v1/reviews/\(id)/publication", token: server.editor)
            #expect(published.status == .created, "\(published.text)")
            api.conform(published, "/v1/reviews/{id}/publication", "post")
            let slug = try #require(published.json?["slug"]?.stringValue)
            #expect(slug == "relay-script-alert-1-script" || slug.hasPrefix("relay"))
            #expect(published.json?["url"] == .string("/p/\(slug)") && published.json?["voting"] == .string("open"))
            let again = try await server.request(.post, "/v1/reviews/\(id)/publication", token: server.editor)
            #expect(again.status == .ok && again.json?["slug"] == .string(slug))

            // The page, without a token (a reader's browser: it keeps the cookie the page sets).
            let reader = ServerWebTests.Browser(server)
            let page = try await reader.send(.get, "/p/\(slug)")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.headers[.cacheControl] == "private, no-cache" && page.headers[.lastModified]?.hasSuffix("GMT") == true)
            let etag = try #require(page.headers[.eTag])
            let html = page.text
            #expect(html.contains(#"<link rel="canonical" href="http://127.0.0.1:"#) && html.contains("/p/\(slug)\">"))
            #expect(html.contains(#"<meta property="og:title" content="Relay &lt;script&gt;"#))
            #expect(html.contains(#"<meta name="twitter:card" content="summary">"#))
            #expect(html.contains("<p class=\"byline\">Reviewed by panel for panel"))
            #expect(!html.contains("<script>alert(1)") && !html.contains("AggregateRating"))
            // The structured data: a CriticReview by the publication of a SoftwareApplication with an offer.
            let start = try #require(html.range(of: #"<script type="application/ld+json">"#))
            let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
            let ld = try #require(JSONValue.parse(String(html[start.upperBound..<end.lowerBound])))
            #expect(ld["@type"] == .string("CriticReview") && ld["author"]?["name"] == .string("panel"))
            #expect(ld["itemReviewed"]?["@type"] == .string("SoftwareApplication"))
            #expect(ld["itemReviewed"]?["applicationCategory"] == .string("AI Infrastructure"))
            #expect(ld["itemReviewed"]?["offers"]?["price"] == .string("10"))
            #expect(ld["itemReviewed"]?["offers"]?["priceCurrency"] == .string("USD"))
            #expect(ld["itemReviewed"]?["name"] == .string("Relay <script>alert(1)</script>"))
            let same = try await reader.send(.get, "/p/\(slug)", headers: [.ifNoneMatch: etag])
            #expect(same.status == .notModified)

            let json = try await server.request(.get, "/p/\(slug).json")
            #expect(json.status == .ok && json.json?["schema"] == .string("panel.document/v1"))
            #expect(json.headers[.cacheControl] == "public, no-cache")
            #expect(json.json?["editor"]?["approved"]?["by"] == .string("ann"))
            let feed = try await server.request(.get, "/feed.xml")
            #expect(feed.status == .ok && feed.text.contains("<entry>") && feed.text.contains("/p/\(slug)</id>"))
            #expect(feed.text.contains("Relay &lt;script&gt;") && !feed.text.contains("<script>"))
            let sitemap = try await server.request(.get, "/sitemap.xml")
            #expect(sitemap.text.contains("/p/\(slug)</loc>"))

            let closed = try await server.request(
                .patch, "/v1/reviews/\(id)/publication", token: server.editor, body: #"{"voting": "closed"}"#)
            #expect(closed.status == .ok && closed.json?["voting"] == .string("closed"))
            api.conform(closed, "/v1/reviews/{id}/publication", "patch")
            let bad = try await server.request(.patch, "/v1/reviews/\(id)/publication", token: server.editor, body: #"{"voting": "maybe"}"#)
            #expect(bad.status == .badRequest)

            let gone = try await server.request(.delete, "/v1/reviews/\(id)/publication", token: server.editor)
            #expect(gone.status == .noContent)
            #expect(try await server.request(.get, "/p/\(slug)").status == .notFound)
            #expect(try await server.request(.get, "/p/\(slug).json").status == .notFound)
            #expect(try await !server.request(.get, "/feed.xml").text.contains("<entry>"))
            #expect(try await server.request(.delete, "/v1/reviews/\(id)/publication", token: server.editor).status == .notFound)
            #expect(try await server.request(.get, "/p/never-published").status == .notFound)
        }
    }

    /// The approving editor's public name is their token's display name.
    @Test(.timeLimit(.minutes(2))) func thePageNamesTheApprovingEditorByTheirDisplayName() async throws {
        try await ServerHarness.with { server in
            let (_, secret) = try await TeamTokens.create(
                in: server.store, name: "dee", role: .editor, budgetUSD: nil, displayName: "Dee Editor")
            let (id, _) = try await server.review([["name": "Acme", "description": "A tool."]])
            let approved = try await server.request(.patch, "/v1/reviews/\(id)", token: secret, body: #"{"approve": true}"#)
            #expect(approved.status == .ok)
            let slug = try #require(
                try await server.request(.post, "/v1/reviews/\(id)/publication", token: secret).json?["slug"]?.stringValue)
            let html = try await server.request(.get, "/p/\(slug)").text
            #expect(html.contains("Reviewed by Dee Editor for panel"))
            #expect(html.contains(#""editor":{"@type":"Person","name":"Dee Editor"}"#))
            let tokens = try await server.request(.get, "/v1/tokens", token: server.admin)
            #expect(tokens.json?["tokens"]?.arrayValue?.contains { $0["display_name"] == .string("Dee Editor") } == true)
        }
    }
}
