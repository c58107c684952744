import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockProvider
import ModelBackends
import PanelEngine
import PanelServer
import PanelStore
import Testing

/// The web page over HTTP: signing in, CSRF on every form and on session API calls, cookies' flags,
/// roles, the review pages, and hostile listing and model text staying inert.
@Suite(.timeLimit(.minutes(5)))
struct ServerWebTests {
    static let hostile = #"<script>document.title='pwned'</script><img src=x onerror="alert(1)">"#

    /// The browser side: cookies kept between requests.
    final class Browser: @unchecked Sendable {
        let server: ServerHarness
        var cookies: [String: String] = [:]
        init(_ server: ServerHarness) { self.server = server }

        func send(
            _ method: HTTPRequest.Method, _ uri: String, form: [(String, String)]? = nil, headers: HTTPFields = [:], body: String? = nil
        ) async throws -> TestResponse {
            var headers = headers
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var text = body
            if let form {
                text = form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
                headers[.contentType] = "application/x-www-form-urlencoded"
            }
            let response = try await server.request(method, uri, body: text, headers: headers)
            for value in response.headers[values: .setCookie] {
                let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let (name, cookie) = (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
                if cookie.isEmpty || value.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = cookie }
            }
            return response
        }

        static func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }

        /// The value of the hidden `csrf` field on a page.
        static func csrf(_ page: String) -> String? {
            guard let range = page.range(of: #"name="csrf" value=""#) else { return nil }
            return String(page[range.upperBound...].prefix { $0 != "\"" })
        }

        func signIn(_ token: String) async throws -> String {
            let page = try await send(.get, "/").text
            let response = try await send(.post, "/signin", form: [("csrf", Self.csrf(page) ?? ""), ("token", token)])
            #expect(response.status == .seeOther)
            let home = try await send(.get, "/").text
            return try #require(Self.csrf(home))
        }
    }

    @Test func signingInSetsAStrictHttpOnlySessionAndEveryFormChecksItsCSRFValue() async throws {
        try await ServerHarness.with { server in
            let browser = Browser(server)
            let signin = try await browser.send(.get, "/")
            #expect(signin.status == .ok)
            #expect(signin.text.contains("id=\"signin\""))
            #expect(signin.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(signin.headers[.contentSecurityPolicy]?.contains("unsafe-inline") == false)
            #expect(signin.headers[values: .setCookie].first?.contains("SameSite=Strict") == true)
            // The sign-in form's own CSRF value, from a cookie of its own.
            let forged = try await Browser(server).send(.post, "/signin", form: [("csrf", "x"), ("token", server.editor)])
            #expect(forged.status == .forbidden)
            let wrong = try await browser.send(
                .post, "/signin", form: [("csrf", Browser.csrf(signin.text) ?? ""), ("token", "panel_nope")])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("not known here"))
            let page = try await browser.send(.get, "/")
            let response = try await browser.send(
                .post, "/signin", form: [("csrf", Browser.csrf(page.text) ?? ""), ("token", server.editor)],
                headers: [HTTPField.Name("X-Forwarded-Proto")!: "https"])
            #expect(response.status == .seeOther)
            let session = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("panel_session=") })
            #expect(
                session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Secure")
                    && session.contains("Path=/"))
            #expect(!session.contains(server.editor))

            let home = try await browser.send(.get, "/")
            #expect(home.text.contains("id=\"new-review\""))
            #expect(home.text.contains("ann · editor"))
            let csrf = try #require(Browser.csrf(home.text))
            // A form without the session's CSRF value changes nothing.
            let noCSRF = try await browser.send(.post, "/reviews", form: [("listing", "name: A\ndescription: d\n")])
            #expect(noCSRF.status == .forbidden)
            #expect(try await server.store.reviews(query: nil, verdict: nil, limit: 5, before: nil).isEmpty)
            // Nor does a script call with the cookie but without the header.
            let api = try await browser.send(.post, "/v1/reviews", body: #"{"listings": [{"name": "A", "description": "d"}]}"#)
            #expect(api.status == .forbidden)
            #expect(api.json?["error"]?["code"]?.stringValue == "csrf")
            let withHeader = try await browser.send(
                .post, "/v1/reviews", headers: [.contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf],
                body: #"{"listings": [{"name": "A", "description": "d"}]}"#)
            #expect(withHeader.status == .accepted)

            let created = try await browser.send(
                .post, "/reviews", form: [("csrf", csrf), ("listing", "name: Zed\ndescription: A fast editor.\n"), ("listing", "")])
            #expect(created.status == .seeOther)
            let location = try #require(created.headers[.location])
            #expect(location.hasPrefix("/reviews/r_"))
            let bad = try await browser.send(.post, "/reviews", form: [("csrf", csrf), ("listing", "description: no name\n")])
            #expect(bad.status == .badRequest)
            #expect(
                bad.text.contains("listing 1: field &#39;name&#39;: is missing") || bad.text.contains("listing 1: field 'name': is missing")
            )

            // Signing out ends the session in the store.
            let out = try await browser.send(.post, "/signout", form: [("csrf", csrf)])
            #expect(out.status == .seeOther)
            #expect(try await browser.send(.get, "/").text.contains("id=\"signin\""))
        }
    }

    @Test func aViewerReadsButCannotAskOrEdit() async throws {
        try await ServerHarness.with { server in
            let (id, _) = try await server.review([ServerHarness.ollama])
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.viewer)
            let home = try await browser.send(.get, "/").text
            #expect(!home.contains("id=\"new-review\""))
            #expect(home.contains("/reviews/\(id)"))
            let page = try await browser.send(.get, "/reviews/\(id)").text
            #expect(page.contains("id=\"download-md\""))
            #expect(!page.contains("Edit the paragraph") && !page.contains("id=\"approve\""))
            let refused = try await browser.send(.post, "/reviews/\(id)/approve", form: [("csrf", csrf)])
            #expect(refused.status == .forbidden)
            #expect(try await server.store.editorActions(review: id).isEmpty)
            let ask = try await browser.send(.post, "/reviews", form: [("csrf", csrf), ("listing", "name: A\ndescription: d\n")])
            #expect(ask.status == .forbidden)
        }
    }

    @Test func editorsEditOverrideAndApproveFromThePage() async throws {
        try await ServerHarness.with { server in
            let (id, _) = try await server.review([ServerHarness.ollama, ServerHarness.vllm])
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.editor)
            let page = try await browser.send(.get, "/reviews/\(id)").text
            #expect(page.contains("Reviewer scorecard") && page.contains("Decision table"))
            #expect(page.components(separatedBy: "data-answered=\"true\"").count - 1 == 8)
            #expect(page.components(separatedBy: "class=\"stack edit-form\"").count - 1 == 8)
            let edit = try await browser.send(
                .post, "/reviews/\(id)/edit",
                form: [("csrf", csrf), ("tool", "vLLM"), ("persona", "founder"), ("text", "Rewritten by Ann.")])
            #expect(edit.status == .seeOther)
            let override = try await browser.send(
                .post, "/reviews/\(id)/override", form: [("csrf", csrf), ("tool", "Ollama"), ("verdict", "skip"), ("note", "Too early")])
            #expect(override.status == .seeOther)
            let approve = try await browser.send(.post, "/reviews/\(id)/approve", form: [("csrf", csrf)])
            #expect(approve.status == .seeOther)
            let after = try await browser.send(.get, "/reviews/\(id)?saved=1").text
            #expect(after.contains("Rewritten by Ann."))
            #expect(after.contains("data-override=\"skip\""))
            #expect(after.contains("data-approved=\"true\""))
            #expect(!after.contains("id=\"approve\""))
            let markdown = try await browser.send(.get, "/v1/reviews/\(id)/document.md").text
            #expect(markdown.contains("Rewritten by Ann."))
            let refused = try await browser.send(
                .post, "/reviews/\(id)/edit", form: [("csrf", csrf), ("tool", "vLLM"), ("persona", "founder"), ("text", "  ")])
            #expect(refused.status == .badRequest)
        }
    }

    @Test func hostileListingAndModelTextStayInertOnEveryPage() async throws {
        var mock = MockProviderConfiguration()
        let name = "Evil \(Self.hostile)"
        mock.canned = ["builder", "skeptic", "founder", "futurist"].map {
            MockProviderConfiguration.CannedAnswer(
                persona: $0, tool: name,
                text: JSONValue.object([
                    "score": .int(70), "verdict": .string("ship"),
                    "rationale": .string("A paragraph with \(Self.hostile) and </textarea><script>alert(2)</script> in it."),
                ]).canonicalText())
        }
        try await ServerHarness.with(mock: mock) { server in
            let (id, events) = try await server.review([
                [
                    "name": name, "tagline": Self.hostile, "description": "Described as \(Self.hostile)",
                    "url": "https://example.com/\"><script>x</script>",
                ]
            ])
            #expect(events.contains("persona.finished"))
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.editor)
            _ = try await browser.send(
                .post, "/reviews/\(id)/edit",
                form: [("csrf", csrf), ("tool", name), ("persona", "builder"), ("text", "Edited \(Self.hostile)")])
            _ = try await browser.send(
                .post, "/reviews/\(id)/override", form: [("csrf", csrf), ("tool", name), ("verdict", "skip"), ("note", Self.hostile)])
            for uri in ["/", "/?q=\(Browser.encode(Self.hostile))", "/reviews/\(id)", "/v1/reviews/\(id)/document.html"] {
                let page = try await browser.send(.get, uri).text
                #expect(!page.contains("<script>document") && !page.contains("<script>alert") && !page.contains("<img src=x"), "\(uri)")
                #expect(!page.contains("</textarea><script>"), "\(uri)")
                #expect(page.contains("&lt;script&gt;") || page.contains("&lt;img"), "\(uri)")
            }
            let review = try await browser.send(.get, "/reviews/\(id)").text
            #expect(review.contains("A paragraph with &lt;script&gt;"))
        }
    }

    /// A review whose paragraphs say "$5 per month" of a tool the listing prices at "$10 per month".
    static func contradictingMock() -> MockProviderConfiguration {
        var mock = MockProviderConfiguration()
        mock.canned = ["builder", "skeptic", "founder", "futurist"].map {
            MockProviderConfiguration.CannedAnswer(
                persona: $0, tool: "Relay",
                text: JSONValue.object([
                    "score": .int(70), "verdict": .string("ship"),
                    "rationale": .string("At $5 per month it is cheap; it needs 4 GB of RAM."),
                ]).canonicalText())
        }
        return mock
    }

    static let relay = ["name": "Relay", "description": "An LLM gateway.", "pricing": "$10 per month"]

    /// Approving a review with contradicted claims: the page marks them and asks the editor to confirm;
    /// the API answers 409 contradicted_claims without `confirm: true`.
    @Test func approvingContradictedClaimsNeedsAConfirmation() async throws {
        try await ServerHarness.with(mock: Self.contradictingMock()) { server in
            let (id, _) = try await server.review([Self.relay])
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.editor)
            let page = try await browser.send(.get, "/reviews/\(id)").text
            #expect(page.contains(#"data-claim="contradicted""#) && page.contains(#"data-claim="unsupported""#))
            #expect(page.contains(#"name="confirm" value="true" required"#) && page.contains(#"data-contradicted="4""#))
            let unconfirmed = try await browser.send(.post, "/reviews/\(id)/approve", form: [("csrf", csrf)])
            #expect(unconfirmed.status == .conflict)
            #expect(unconfirmed.text.contains("claim(s) the listing contradicts"))

            let refused = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true}"#)
            #expect(refused.status == .conflict)
            #expect(refused.json?["error"]?["code"]?.stringValue == "contradicted_claims")
            #expect(refused.text.contains("$5 per month") && refused.text.contains("$10 per month"), "\(refused.text)")
            ServerAPITests().conform(refused, "/v1/reviews/{id}", "patch")
            let bad = try await server.request(
                .patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true, "confirm": "yes"}"#)
            #expect(bad.status == .badRequest)

            let confirmed = try await browser.send(.post, "/reviews/\(id)/approve", form: [("csrf", csrf), ("confirm", "true")])
            #expect(confirmed.status == .seeOther)
            let review = try await server.request(.get, "/v1/reviews/\(id)", token: server.viewer)
            #expect(review.json?["editor"]?["approved"]?["by"]?.stringValue == "ann")
            let claims = review.json?["document"]?["tools"]?.arrayValue?.first?["reviews"]?.arrayValue?.first?["claims"]?.arrayValue
            #expect(claims?.map { $0["status"]?.stringValue } == ["contradicted", "unsupported"])
            ServerAPITests().conform(review, "/v1/reviews/{id}", "get")
        }
    }

    /// Under `team.approve_contradicted: refuse`, confirming is not enough: the paragraphs are edited first
    /// (an edited paragraph no longer carries the model's claims).
    @Test func aTeamCanRefuseApprovalsUntilContradictionsAreEdited() async throws {
        try await ServerHarness.with(mock: Self.contradictingMock(), approveContradicted: .refuse) { server in
            let (id, _) = try await server.review([Self.relay])
            let confirmed = try await server.request(
                .patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true, "confirm": true}"#)
            #expect(confirmed.status == .conflict)
            #expect(confirmed.text.contains("approve_contradicted: refuse"))
            let edits = ["builder", "skeptic", "founder"].map {
                #"{"tool": "Relay", "persona": "\#($0)", "text": "At $10 per month it is fair."}"#
            }
            let together = try await server.request(
                .patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"edits": [\#(edits.joined(separator: ","))], "approve": true}"#)
            #expect(together.status == .conflict && together.text.contains("1 claim(s)"), "\(together.text)")
            // A refused request changes nothing: the three edits are saved only when sent on their own.
            let saved = try await server.request(
                .patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"edits": [\#(edits.joined(separator: ","))]}"#)
            #expect(saved.status == .ok)
            let partly = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true}"#)
            #expect(partly.status == .conflict && partly.text.contains("1 claim(s)"), "\(partly.text)")
            let last = #"{"edits": [{"tool": "Relay", "persona": "futurist", "text": "Fair at the listed price."}], "approve": true}"#
            let approved = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: last)
            #expect(approved.status == .ok, "\(approved.text)")
        }
    }

    /// A review asked of the team server gets the model check too (`panel.claims.check: model`): what it
    /// decided is in the document, with its call counted in the review's cost.
    @Test(.timeLimit(.minutes(2))) func aServerReviewChecksClaimsWithAModel() async throws {
        var mock = Self.contradictingMock()
        mock.canned.append(
            MockProviderConfiguration.CannedAnswer(
                persona: "reviewer", tool: "Relay",
                text: #"{"claims": [{"id": 1, "status": "contradicted", "quote": "An LLM gateway."}]}"#))
        try await ServerHarness.with(mock: mock, checkClaims: true) { server in
            let (id, _) = try await server.review([Self.relay])
            let review = try await server.request(.get, "/v1/reviews/\(id)", token: server.viewer)
            let document = try #require(review.json?["document"])
            #expect(
                document["claim_check"]?["decided"] == .int(1) && document["claim_check"]?["asked"] == .int(4),
                "\(document["claim_check"] ?? .null)")
            let claims = document["tools"]?.arrayValue?.first?["reviews"]?.arrayValue?.first?["claims"]?.arrayValue
            #expect(claims?.map { $0["source"]?.stringValue } == ["rules", "model"])
            #expect(server.mock.stats.snapshot.chatRequests == 5)
            ServerAPITests().conform(review, "/v1/reviews/{id}", "get")
        }
    }
}
