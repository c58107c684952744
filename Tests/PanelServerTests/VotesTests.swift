import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelBackends
import PanelEngine
import PanelServer
import PanelStore
import Testing

/// Readers' votes on published pages: with and without JavaScript's JSON, one per reader per tool, the
/// per-network limit (the client from X-Forwarded-For only behind a trusted proxy), forged posts refused,
/// the counts in the page and its JSON, purges and metrics.
extension HTTPField.Name {
    static let forwardedFor = Self("X-Forwarded-For")!
}

@Suite(.timeLimit(.minutes(5)))
struct VotesTests {
    typealias Browser = ServerWebTests.Browser

    static func options(limit: Int = 20) -> ServerOptions {
        var options = ServerOptions(port: 0, workerPollInterval: .milliseconds(50), trustedProxies: [NetworkPrefix("127.0.0.1/32")!])
        options.votesPerNetworkHour = limit
        options.requestsPerMinute = 1_000_000
        return options
    }

    /// A published review of two tools; its slug.
    func published(_ server: ServerHarness) async throws -> String {
        let (id, _) = try await server.review([["name": "Acme", "description": "A tool."], ["name": "Zed", "description": "An editor."]])
        _ = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true, "confirm": true}"#)
        return try #require(
            try await server.request(.post, "/v1/reviews/\(id)/publication", token: server.editor).json?["slug"]?.stringValue)
    }

    static func token(_ page: String) -> String? {
        guard let range = page.range(of: #"name="form_token" value=""#) else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    /// A reader: opens the page (getting the cookie and the form's token) and votes from `network`.
    func vote(
        _ browser: Browser, _ slug: String, tool: String = "Acme", _ verdict: String, from client: String = "198.51.100.7",
        json: Bool = false
    )
        async throws -> TestResponse
    {
        let page = try await browser.send(.get, "/p/\(slug)", headers: [.forwardedFor: client])
        let token = Self.token(page.text) ?? ""
        var headers: HTTPFields = [.forwardedFor: client]
        if json { headers[.accept] = "application/json" }
        return try await browser.send(
            .post, "/p/\(slug)/votes", form: [("tool", tool), ("verdict", verdict), ("form_token", token)], headers: headers)
    }

    @Test(.timeLimit(.minutes(2))) func readersVoteOnceEachAndMayChangeTheirMind() async throws {
        try await ServerHarness.with(options: Self.options()) { server in
            let slug = try await published(server)
            let reader = Browser(server)
            let page = try await reader.send(.get, "/p/\(slug)")
            let cookie = try #require(page.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/p"))
            #expect(page.headers[.cacheControl] == "private, no-cache")
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.text.contains(#"<form method="post" action="/p/\#(slug)/votes" class="vote">"#))
            #expect(page.text.contains(#"<script src="/votes.js" defer></script>"#))
            // Without JavaScript: a form post and a redirect back.
            let first = try await vote(reader, slug, "ship")
            #expect(first.status == .seeOther && first.headers[.location] == "/p/\(slug)#votes")
            // With it: the counts as JSON.
            let changed = try await vote(reader, slug, "skip", json: true)
            #expect(changed.status == .ok)
            #expect(changed.json == .object(["tool": .string("Acme"), "readers": .int(1), "ship": .int(0), "skip": .int(1)]))
            let again = try await vote(reader, slug, "skip", json: true)
            #expect(again.json?["readers"] == .int(1))
            let second = try await vote(Browser(server), slug, "ship", from: "203.0.113.9", json: true)
            #expect(second.json?["readers"] == .int(2) && second.json?["ship"] == .int(1))
            _ = try await vote(Browser(server), slug, tool: "Zed", "ship", from: "192.0.2.1")
            // The page and its JSON say it; the listing's own community text stays where it was.
            let shown = try await Browser(server).send(.get, "/p/\(slug)").text
            #expect(shown.contains("2 readers · 1 ship / 1 skip") && shown.contains("1 reader · 1 ship / 0 skip"))
            let json = try await server.request(.get, "/p/\(slug).json")
            let tools = try #require(json.json?["tools"]?.arrayValue)
            #expect(tools[0]["community_votes"] == .object(["readers": .int(2), "ship": .int(1), "skip": .int(1)]))
            #expect(tools[0]["community"] == .null)
            let script = try await server.request(.get, "/votes.js")
            #expect(script.status == .ok && script.text.contains("application/json"))
        }
    }

    @Test(.timeLimit(.minutes(3))) func aNetworkCastsAtMostItsLimitAndForgeriesCountForNothing() async throws {
        try await ServerHarness.with(options: Self.options(limit: 20)) { server in
            let slug = try await published(server)
            // 1,000 readers behind one /24: 20 counted.
            var refused = 0
            for index in 0..<1_000 {
                let response = try await vote(Browser(server), slug, "ship", from: "198.51.100.\(index % 250)", json: true)
                if response.status == .tooManyRequests {
                    refused += 1
                    #expect(response.json?["error"]?["code"] == .string("network_limit"))
                }
            }
            #expect(refused == 980)
            // 200 readers on 200 networks: every one counted.
            for index in 0..<200 {
                let response = try await vote(
                    Browser(server), slug, tool: "Zed", "skip", from: "10.\(index / 250).\(index % 250).5", json: true)
                #expect(response.status == .ok)
            }
            let counts = try #require(try await server.request(.get, "/p/\(slug).json").json?["tools"]?.arrayValue)
            #expect(counts[0]["community_votes"]?["readers"] == .int(20) && counts[1]["community_votes"]?["readers"] == .int(200))

            // Forged: another site's post (its Origin), a missing or another page's token, no cookie.
            let reader = Browser(server)
            let page = try await reader.send(.get, "/p/\(slug)")
            let token = try #require(Self.token(page.text))
            let crossSite = try await reader.send(
                .post, "/p/\(slug)/votes", form: [("tool", "Acme"), ("verdict", "ship"), ("form_token", token)],
                headers: [.origin: "https://evil.example"])
            #expect(crossSite.status == .forbidden)
            let noToken = try await reader.send(.post, "/p/\(slug)/votes", form: [("tool", "Acme"), ("verdict", "ship")])
            #expect(noToken.status == .forbidden && noToken.json?["error"]?["code"] == .string("form_token"))
            let noCookie = try await server.request(
                .post, "/p/\(slug)/votes", body: "tool=Acme&verdict=ship&form_token=\(token)",
                contentType: "application/x-www-form-urlencoded")
            #expect(noCookie.status == .forbidden)
            let badTool = try await reader.send(
                .post, "/p/\(slug)/votes", form: [("tool", "Nope"), ("verdict", "ship"), ("form_token", token)])
            #expect(badTool.status == .badRequest)

            // Closed voting; purges (admin only); metrics.
            _ = try await server.request(
                .patch, "/v1/reviews/\(try await reviewID(server, slug))/publication", token: server.editor, body: #"{"voting": "closed"}"#)
            let closed = try await vote(Browser(server), slug, "ship", from: "192.0.2.200", json: true)
            #expect(closed.status == .conflict && closed.json?["error"]?["code"] == .string("voting_closed"))
            #expect(try await !Browser(server).send(.get, "/p/\(slug)").text.contains("<form method=\"post\""))
            #expect(try await server.request(.delete, "/v1/votes?since=2000-01-01T00:00:00Z", token: server.editor).status == .forbidden)
            #expect(try await server.request(.delete, "/v1/votes", token: server.admin).status == .badRequest)
            let purged = try await server.request(.delete, "/v1/votes?since=2000-01-01T00:00:00Z", token: server.admin)
            #expect(purged.json == .object(["removed": .int(220)]))
            let metrics = try await server.request(.get, "/metrics").text
            #expect(
                metrics.contains(#"panel_votes_total{outcome="refused",reason="network_limit"} 980"#),
                "\(metrics.split(separator: "\n").filter { $0.contains("votes") })")
            #expect(metrics.contains(#"panel_votes_total{outcome="accepted",reason=""} 220"#))
        }
    }

    func reviewID(_ server: ServerHarness, _ slug: String) async throws -> String {
        try #require(try await server.store.publication(slug: slug)?.review)
    }
}
