import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockProvider
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit
import PanelStore
import Testing

@testable import PanelServer

/// The JSON API, live on an ephemeral port against the mock provider; every response checked against
/// openapi.yaml.
@Suite(.timeLimit(.minutes(5)))
struct ServerAPITests {
    let spec = OpenAPIOperations.repository

    func conform(_ response: TestResponse, _ path: String, _ method: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let problems = spec.problems(response, path: path, method: method)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(response.text.prefix(400))", sourceLocation: sourceLocation)
    }

    @Test func everyRouteThatNeedsATokenAnswers401WithoutOneAnd403BelowItsRole() async throws {
        let operations = spec.all.filter { $0.role != nil }
        #expect(operations.count >= 12)
        try await ServerHarness.with { server in
            for operation in operations {
                let (path, method) = (operation.path, operation.method)
                let uri = path.replacingOccurrences(of: "{id}", with: "r_missing")
                let verb = HTTPRequest.Method(rawValue: method.uppercased())!
                let body: String? = ["post", "patch"].contains(method) ? "{}" : nil
                let anonymous = try await server.request(verb, uri, body: body)
                #expect(anonymous.status == .unauthorized, "\(method) \(path) without a token: \(anonymous.status)")
                #expect(anonymous.headers[.wwwAuthenticate] != nil)
                conform(anonymous, path, method)
                let unknown = try await server.request(verb, uri, token: "panel_nope_nope", body: body)
                #expect(unknown.status == .unauthorized, "\(method) \(path) with an unknown token: \(unknown.status)")
                let role = try #require(TeamRole(rawValue: operation.role ?? ""))
                for (lower, token) in [(TeamRole.viewer, server.viewer), (.editor, server.editor)] where lower < role {
                    let refused = try await server.request(verb, uri, token: token, body: body)
                    #expect(refused.status == .forbidden, "\(method) \(path) as \(lower): \(refused.status)")
                    #expect(refused.text.contains("needs the \(role.rawValue) role"))
                    conform(refused, path, method)
                }
                // Never a stack trace or an internal detail.
                #expect(!anonymous.text.contains("Error(") && !anonymous.text.contains(".swift"))
            }
            // What needs no token.
            for path in ["/healthz", "/metrics", "/openapi.yaml"] {
                let response = try await server.request(.get, path)
                #expect(response.status == .ok)
                conform(response, path, "get")
            }
        }
    }

    @Test func aReviewStreamsItsEventsAndIsReadInEveryFormat() async throws {
        try await ServerHarness.with(mock: .latency(.milliseconds(30))) { server in
            let created = try await server.request(
                .post, "/v1/reviews", token: server.editor,
                body: JSONValue.object(["listings": .array([.object(ServerHarness.ollama.mapValues(JSONValue.string))])]).canonicalText())
            #expect(created.status == .accepted)
            #expect(created.headers[.location]?.hasPrefix("/v1/reviews/r_") == true)
            conform(created, "/v1/reviews", "post")
            let id = try #require(created.json?["id"]?.stringValue)
            let stream = try await server.request(.get, "/v1/reviews/\(id)/events", token: server.viewer)
            #expect(stream.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            conform(stream, "/v1/reviews/{id}/events", "get")
            let events = parseEvents(stream.text)
            let names = events.map(\.name)
            #expect(names.filter { $0 == "persona.started" }.count == 4)
            #expect(names.contains("persona.delta"))
            let finished = events.filter { $0.name == "persona.finished" }
            #expect(finished.count == 4)
            #expect(finished.allSatisfy { $0.data["score"]?.intValue != nil && $0.data["verdict"]?.stringValue != nil })
            #expect(names.suffix(2) == ["panel", "done"])
            #expect(events.last?.data["status"]?.stringValue == "done")
            // What streams is each persona's paragraph, not the model's JSON: joined, it is the finished text.
            for persona in finished.compactMap({ $0.data["persona"]?.stringValue }) {
                let streamed = events.filter { $0.name == "persona.delta" && $0.data["persona"]?.stringValue == persona }
                    .compactMap { $0.data["text"]?.stringValue }.joined()
                let text = finished.first { $0.data["persona"]?.stringValue == persona }?.data["text"]?.stringValue
                #expect(!streamed.contains("{") && !streamed.contains("\"rationale\""), "\(persona): \(streamed)")
                #expect(streamed.isEmpty || streamed == text, "\(persona): \(streamed) vs \(text ?? "")")
            }
            // Streamed text is merged per persona: what a late client replays is the whole answer.
            let late = parseEvents(try await server.request(.get, "/v1/reviews/\(id)/events", token: server.viewer).text)
            #expect(late.map(\.name).filter { $0 == "persona.finished" }.count == 4)
            #expect(late.filter { $0.name == "persona.delta" }.count <= 4)
            #expect(late.last?.name == "done")

            let review = try await server.request(.get, "/v1/reviews/\(id)", token: server.viewer)
            conform(review, "/v1/reviews/{id}", "get")
            #expect(review.json?["status"]?.stringValue == "done")
            #expect(review.json?["document"]?["schema"]?.stringValue == "panel.document/v1")
            #expect(review.json?["editor"]?["approved"] == .null)
            let markdown = try await server.request(.get, "/v1/reviews/\(id)/document.md", token: server.viewer)
            conform(markdown, "/v1/reviews/{id}/document.md", "get")
            #expect(markdown.text.hasPrefix("# Ollama"))
            #expect(markdown.headers[.contentDisposition]?.contains("attachment") == true)
            let html = try await server.request(.get, "/v1/reviews/\(id)/document.html", token: server.viewer)
            conform(html, "/v1/reviews/{id}/document.html", "get")
            #expect(html.headers[.contentSecurityPolicy]?.contains("script-src") == false)
            let json = try await server.request(.get, "/v1/reviews/\(id)/document.json", token: server.viewer)
            conform(json, "/v1/reviews/{id}/document.json", "get")
            #expect(try JSONDocumentRenderer.decode(Data(json.text.utf8), source: "api").tools.count == 1)

            let metrics = try await server.request(.get, "/metrics").text
            #expect(metrics.contains("panel_reviews_total{outcome="))
            #expect(metrics.contains("panel_persona_calls_total{backend=\"mock\",outcome=\"answered\"} 4"))
            #expect(metrics.contains("panel_spend_usd_total"))
            #expect(metrics.contains("panel_http_request_duration_seconds_bucket"))
            // The spend is the token's.
            let tokens = try await server.store.tokens()
            #expect((tokens.first { $0.name == "ann" }?.spentUSD ?? 0) > 0)
        }
    }

    @Test func listingsAreCheckedWithTheCLIsMessages() async throws {
        try await ServerHarness.with { server in
            func post(_ body: String, _ type: String = "application/json") async throws -> TestResponse {
                let response = try await server.request(.post, "/v1/reviews", token: server.editor, body: body, contentType: type)
                conform(response, "/v1/reviews", "post")
                return response
            }
            let missing = try await post(#"{"listings": [{"description": "no name"}]}"#)
            #expect(missing.status == .badRequest)
            #expect(missing.json?["error"]?["message"]?.stringValue == "listings[0]: field 'name': is missing (every listing needs a name)")
            let url = try await post(#"{"listings": [{"name": "A", "description": "d", "url": "javascript:alert(1)"}]}"#)
            #expect(url.json?["error"]?["message"]?.stringValue?.hasPrefix("listings[0]: field 'url': must be an http(s) URL") == true)
            #expect(try await post("{nope").status == .badRequest)
            #expect(try await post(#"{"listings": []}"#).status == .badRequest)
            #expect(try await post(#"{"listings": [{"name": "A", "description": "d"}], "extra": 1}"#).status == .badRequest)
            let seven = "{\"listings\": [" + Array(repeating: #"{"name": "A", "description": "d"}"#, count: 7).joined(separator: ",") + "]}"
            #expect(try await post(seven).json?["error"]?["message"]?.stringValue?.contains("at most 6") == true)
            // A listing file's text works as the body: YAML, and Markdown with front matter.
            let yaml = try await post("name: Zed\ndescription: A fast editor.\n", "application/yaml")
            #expect(yaml.status == .accepted)
            let markdown = try await post("---\nname: Helix\n---\nA modal editor.\n", "text/markdown")
            #expect(markdown.status == .accepted)
            let big = try await post(String(repeating: "x", count: ServerOptions.defaultMaxBodyBytes + 10))
            #expect(big.status == .contentTooLarge)
        }
    }

    @Test func editorsEditOverrideAndApproveWithoutTouchingTheModelsText() async throws {
        try await ServerHarness.with { server in
            let (id, _) = try await server.review([ServerHarness.ollama, ServerHarness.vllm])
            let before = try #require(try await server.request(.get, "/v1/reviews/\(id)", token: server.viewer).json?["document"])
            let original = before["tools"]?.arrayValue?.first?["reviews"]?.arrayValue?.first { $0["persona"]?.stringValue == "skeptic" }?[
                "text"]
            let patch = """
                {"edits": [{"tool": "Ollama", "persona": "skeptic", "text": "An editor's <b>sharper</b> paragraph."}],
                 "override": {"tool": "vLLM", "verdict": "skip", "note": "Licence changed last week"}, "approve": true}
                """
            let edited = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: patch)
            #expect(edited.status == .ok, "\(edited.text)")
            conform(edited, "/v1/reviews/{id}", "patch")
            let editor = try #require(edited.json?["editor"])
            #expect(editor["edits"]?.arrayValue?.first?["by"]?.stringValue == "ann")
            #expect(editor["overrides"]?.arrayValue?.first?["verdict"]?.stringValue == "skip")
            #expect(editor["approved"]?["by"]?.stringValue == "ann")
            let document = try #require(edited.json?["document"])
            let kept = document["tools"]?.arrayValue?.first?["reviews"]?.arrayValue?.first { $0["persona"]?.stringValue == "skeptic" }?[
                "text"]
            #expect(kept == original)
            #expect(document["editor"]?["edits"]?.arrayValue?.count == 1)

            let markdown = try await server.request(.get, "/v1/reviews/\(id)/document.md", token: server.viewer).text
            #expect(markdown.contains("An editor's \\<b>sharper\\</b> paragraph."))
            #expect(markdown.contains("**Editor's verdict:** Skip — Licence changed last week"))
            #expect(markdown.contains("approved by ann"))
            let html = try await server.request(.get, "/v1/reviews/\(id)/document.html", token: server.viewer).text
            #expect(
                html.contains("An editor&#39;s &lt;b&gt;sharper&lt;/b&gt; paragraph.")
                    || html.contains("An editor's &lt;b&gt;sharper&lt;/b&gt; paragraph."))

            for (body, fragment) in [
                (#"{"edits": [{"tool": "Nope", "persona": "skeptic", "text": "x"}]}"#, "is not a tool of this review"),
                (#"{"edits": [{"tool": "Ollama", "persona": "nobody", "text": "x"}]}"#, "did not review Ollama"),
                (#"{"override": {"tool": "Ollama", "verdict": "maybe", "note": "n"}}"#, "ship or skip"),
                (#"{"approve": false}"#, "approve: true"),
                (#"{}"#, "asks for nothing"),
                (#"{"rename": 1}"#, "unknown field(s) rename"),
            ] {
                let refused = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: body)
                #expect(refused.status == .badRequest)
                #expect(refused.text.contains(fragment), "\(refused.text)")
                conform(refused, "/v1/reviews/{id}", "patch")
            }
            let missing = try await server.request(.patch, "/v1/reviews/r_nope", token: server.editor, body: #"{"approve": true}"#)
            #expect(missing.status == .notFound)
            conform(missing, "/v1/reviews/{id}", "patch")
        }
    }

    @Test func anUnfinishedReviewCannotBeEditedOrDownloaded() async throws {
        // The mock holds every answer for ten minutes — until the end of the test lets it go — so the
        // review is still running whatever the machine's speed.
        try await ServerHarness.with(mock: .latency(.seconds(600))) { server in
            defer { server.mock.stats.beginShutdown() }
            let created = try await server.request(
                .post, "/v1/reviews", token: server.editor, body: "name: Slow\ndescription: Takes a while.\n",
                contentType: "application/yaml")
            let id = try #require(created.json?["id"]?.stringValue)
            let download = try await server.request(.get, "/v1/reviews/\(id)/document.md", token: server.viewer)
            #expect(download.status == .conflict)
            conform(download, "/v1/reviews/{id}/document.md", "get")
            let edit = try await server.request(.patch, "/v1/reviews/\(id)", token: server.editor, body: #"{"approve": true}"#)
            #expect(edit.status == .conflict)
            let review = try await server.request(.get, "/v1/reviews/\(id)", token: server.viewer)
            #expect(["queued", "running"].contains(review.json?["status"]?.stringValue ?? ""))
            #expect(review.json?["document"] == .null)
            conform(review, "/v1/reviews/{id}", "get")
        }
    }

    @Test func historyIsNewestFirstSearchableAndPaged() async throws {
        try await ServerHarness.with { server in
            var ids: [String] = []
            for name in ["Ollama", "LM Studio", "Ollama Cloud"] {
                ids.append(try await server.review([["name": name, "description": "A tool."]]).id)
            }
            let all = try await server.request(.get, "/v1/reviews", token: server.viewer)
            conform(all, "/v1/reviews", "get")
            #expect(all.json?["reviews"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ids.reversed())
            let search = try await server.request(.get, "/v1/reviews?q=ollama", token: server.viewer)
            #expect(search.json?["reviews"]?.arrayValue?.compactMap { $0["title"]?.stringValue } == ["Ollama Cloud", "Ollama"])
            let page = try await server.request(.get, "/v1/reviews?limit=2", token: server.viewer)
            let cursor = try #require(page.json?["next_cursor"]?.stringValue)
            let next = try await server.request(
                .get, "/v1/reviews?limit=2&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)",
                token: server.viewer)
            #expect(next.json?["reviews"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[0]])
            #expect(next.json?["next_cursor"] == .null)
            for bad in ["limit=0", "limit=x", "verdict=maybe", "cursor=garbage"] {
                let refused = try await server.request(.get, "/v1/reviews?\(bad)", token: server.viewer)
                #expect(refused.status == .badRequest, "\(bad)")
                conform(refused, "/v1/reviews", "get")
            }
            let verdicts = try await server.request(.get, "/v1/reviews?verdict=ship", token: server.viewer)
            #expect(verdicts.status == .ok)
        }
    }

    @Test func aTokensBudgetAndRequestRateAreEnforced() async throws {
        // The rate's window is a calendar minute: the windows' clock stands still, so the test never straddles two.
        let frozen = Date(timeIntervalSince1970: 1_790_000_000)
        try await ServerHarness.with(
            options: ServerOptions(port: 0, requestsPerMinute: 5, workerPollInterval: .milliseconds(50)), now: { frozen },
            rateWindows: LocalRateWindows(now: { frozen.timeIntervalSince1970 })
        ) { server in
            let broke = try await TeamTokens.create(in: server.store, name: "broke", role: .editor, budgetUSD: 0).secret
            let refused = try await server.request(
                .post, "/v1/reviews", token: broke, body: #"{"listings": [{"name": "A", "description": "d"}]}"#)
            #expect(refused.status.code == 402)
            #expect(refused.text.contains("budget_spent") && refused.text.contains("budget left"))
            conform(refused, "/v1/reviews", "post")
            var statuses: [Int] = []
            for _ in 0..<6 { statuses.append(try await server.request(.get, "/v1/reviews", token: server.viewer).status.code) }
            #expect(statuses.prefix(5).allSatisfy { $0 == 200 })
            #expect(statuses.last == 429)
            let limited = try await server.request(.get, "/v1/reviews", token: server.viewer)
            #expect(limited.headers[.retryAfter] != nil)
            conform(limited, "/v1/reviews", "get")
            // Another token has its own allowance.
            #expect(try await server.request(.get, "/v1/reviews", token: server.editor).status == .ok)
        }
    }

    @Test func oneTokensRequestRateHoldsAcrossServersSharingAStore() async throws {
        try await ServerHarness.with(options: ServerOptions(port: 0, requestsPerMinute: 6, workerPollInterval: .milliseconds(50))) {
            first in
            let second = TeamServer(
                store: first.store, engine: first.server.engine, backendSettings: first.server.backendSettings,
                options: first.server.options, logger: first.server.logger)
            try await second.makeApplication().test(.router) { other in
                // The windows are calendar minutes of the store's clock: a run straddling two is run again,
                // with a token of its own.
                for attempt in 0..<3 {
                    let token = try await TeamTokens.create(in: first.store, name: "shared-\(attempt)", role: .viewer, budgetUSD: nil)
                        .secret
                    let minute = Int(Date().timeIntervalSince1970 / 60)
                    var statuses: [Int] = []
                    for index in 0..<8 {
                        let headers: HTTPFields = [.authorization: "Bearer \(token)"]
                        let response =
                            index.isMultiple(of: 2)
                            ? try await first.request(.get, "/v1/reviews", token: token)
                            : try await other.executeRequest(uri: "/v1/reviews", method: .get, headers: headers, body: nil)
                        statuses.append(response.status.code)
                    }
                    guard Int(Date().timeIntervalSince1970 / 60) == minute else { continue }
                    // Six between the two servers, then both refuse: one allowance, not one per server.
                    #expect(statuses.prefix(6).allSatisfy { $0 == 200 }, "\(statuses)")
                    #expect(statuses.suffix(2).allSatisfy { $0 == 429 }, "\(statuses)")
                    return
                }
                Issue.record("three runs straddled a minute")
            }
        }
    }

    @Test func batchesGoOnTheSharedQueueAndAreDrainedHere() async throws {
        try await ServerHarness.with { server in
            let lines = [
                #"{"name": "One", "description": "First."}"#, #"{"name": "Two", "description": "Second."}"#, #"{"description": "no name"}"#,
            ].joined(separator: "\n")
            let created = try await server.request(
                .post, "/v1/batches", token: server.admin, body: lines, contentType: "application/x-ndjson")
            #expect(created.status == .accepted, "\(created.text)")
            conform(created, "/v1/batches", "post")
            #expect(created.json?["queued"]?.intValue == 2)
            #expect(created.json?["rejected"]?.arrayValue?.first?["error"]?.stringValue?.contains("field 'name'") == true)
            let id = try #require(created.json?["id"]?.stringValue)
            #expect(try await server.store.jobExists(id))
            var status: JSONValue?
            // Until the job is done (a deadline only against a hang: no figure of speed is asserted).
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                let response = try await server.request(.get, "/v1/batches/\(id)", token: server.viewer)
                conform(response, "/v1/batches/{id}", "get")
                status = response.json
                if status?["status"]?.stringValue == "done" { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(status?["status"]?.stringValue == "done")
            #expect(status?["counts"]?["complete"]?.intValue == 2)
            #expect(status?["counts"]?["failed"]?.intValue == 1)
            let named = try await server.request(
                .post, "/v1/batches", token: server.admin,
                body: #"{"name": "nightly-1", "budget_usd": 1.5, "listings": [{"name": "Three", "description": "Third."}]}"#)
            #expect(named.json?["id"]?.stringValue == "nightly-1")
            #expect(named.json?["budget_usd"]?.numberValue == 1.5)
            let badName = try await server.request(
                .post, "/v1/batches", token: server.admin, body: #"{"name": "../x", "listings": [{"name": "A", "description": "d"}]}"#)
            #expect(badName.status == .badRequest)
            conform(badName, "/v1/batches", "post")
            #expect(try await server.request(.get, "/v1/batches/nope", token: server.viewer).status == .notFound)
        }
    }

    @Test func adminsManageTokensAndSecretsAreShownOnce() async throws {
        try await ServerHarness.with { server in
            let made = try await server.request(
                .post, "/v1/tokens", token: server.admin, body: #"{"name": "cms", "role": "editor", "budget_usd": 5}"#)
            #expect(made.status == .created)
            conform(made, "/v1/tokens", "post")
            let secret = try #require(made.json?["secret"]?.stringValue)
            #expect(try await server.request(.get, "/v1/reviews", token: secret).status == .ok)
            let list = try await server.request(.get, "/v1/tokens", token: server.admin)
            conform(list, "/v1/tokens", "get")
            #expect(!list.text.contains(secret) && !list.text.contains(server.editor) && !list.text.contains("secret"))
            let again = try await server.request(.post, "/v1/tokens", token: server.admin, body: #"{"name": "cms", "role": "viewer"}"#)
            #expect(again.status == .conflict)
            conform(again, "/v1/tokens", "post")
            let revoked = try await server.request(.delete, "/v1/tokens/cms", token: server.admin)
            #expect(revoked.status == .noContent)
            conform(revoked, "/v1/tokens/{id}", "delete")
            #expect(try await server.request(.get, "/v1/reviews", token: secret).status == .unauthorized)
            #expect(try await server.request(.delete, "/v1/tokens/cms", token: server.admin).status == .notFound)
        }
    }

    @Test func theConformanceCheckFindsWhatDoesNotConform() throws {
        func decodes(_ text: String) -> Bool {
            (try? JSONDecoder().decode(Components.Schemas.ReviewSummary.self, from: Data(text.utf8))) != nil
        }
        let good =
            #"{"id": "r", "title": "t", "status": "done", "created_at": "x", "created_by": "a", "verdicts": ["ship"], "cost_usd": null}"#
        #expect(decodes(good))
        #expect(!decodes("{}"))
        #expect(!decodes(good.replacingOccurrences(of: #""status": "done""#, with: #""status": "finished""#)))
        #expect(!decodes(good.replacingOccurrences(of: #"["ship"]"#, with: #"["maybe"]"#)))
        // The generated operations' roles are the document's x-panel-role.
        for operation in spec.all where RoleGate.roles[operation.id] != nil || operation.role != nil {
            guard
                ["createReview", "createBatch", "reviewEvents", "reviewMarkdown", "reviewHTML", "reviewJSON"].contains(operation.id)
                    == false
            else {
                continue
            }
            #expect(RoleGate.roles[operation.id]?.rawValue == operation.role, "\(operation.id)")
        }
    }

    /// The generated operations refuse what they cannot read as every route does: the API's error body, a
    /// message naming the field and its rule, the status the generated code chose (415, 406) — and the
    /// body limit holds though the generated code would read any size.
    @Test func theGeneratedOperationsRefuseWithTheAPIsErrorBodies() async throws {
        var options = ServerOptions(port: 0, workerPollInterval: .milliseconds(50))
        options.maxBodyBytes = 4096
        try await ServerHarness.with(options: options) { server in
            func refusal(
                _ method: HTTPRequest.Method, _ uri: String, body: String? = nil, contentType: String = "application/json",
                headers: HTTPFields = [:]
            ) async throws -> (status: HTTPResponse.Status, code: String, message: String) {
                let response = try await server.request(
                    method, uri, token: server.admin, body: body, contentType: contentType, headers: headers)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                #expect(response.headers[.cacheControl] == "no-store")
                return (
                    response.status, response.json?["error"]?["code"]?.stringValue ?? "",
                    response.json?["error"]?["message"]?.stringValue ?? ""
                )
            }
            for (query, message) in [
                ("limit=abc", "limit: a whole number from 1 to 100"), ("limit=500", "limit: a whole number from 1 to 100"),
                ("verdict=maybe", "verdict: one of ship, skip, split, incomplete"),
                ("limit=5&verdict=no", "verdict: one of ship, skip, split, incomplete"),
            ] {
                let answer = try await refusal(.get, "/v1/reviews?\(query)")
                #expect(answer.status == .badRequest && answer.code == "bad_request" && answer.message == message, "\(query): \(answer)")
            }
            for (body, message) in [
                (#"{"role": "viewer"}"#, "name: required — 1-64 letters, digits, '.', '_', '-', '@' or spaces"),
                (#"{"name": "x", "role": "god"}"#, "role: viewer, editor or admin"),
                (#"{"name": "x", "role": "viewer", "budget_usd": "ten"}"#, "budget_usd: a number, 0 or more"),
                (#"{"name": "x", "role": "viewer", "rename": 1}"#, "unknown field(s) rename"),
                ("{nope", "the body is not valid JSON"),
            ] {
                let answer = try await refusal(.post, "/v1/tokens", body: body)
                #expect(answer.status == .badRequest && answer.message.hasPrefix(message), "\(body): \(answer)")
            }
            let typed = try await refusal(.post, "/v1/tokens", body: #"{"name": "x", "role": "viewer"}"#, contentType: "text/plain")
            #expect(
                typed.status == .unsupportedMediaType && typed.code == "unsupported_media_type"
                    && typed.message.contains("application/json"))
            let html = try await refusal(.get, "/v1/tokens", headers: [.accept: "text/html"])
            #expect(html.status == .notAcceptable && html.code == "not_acceptable")
            let large = try await refusal(.post, "/v1/tokens", body: #"{"name": ""# + String(repeating: "a", count: 5000) + #""}"#)
            #expect(large.status == .contentTooLarge && large.code == "too_large")
            let voting = try await refusal(.patch, "/v1/reviews/r_none/publication", body: #"{"voting": "maybe"}"#)
            #expect(voting.status == .badRequest && voting.message == "voting: open or closed")
            let made = try await server.request(.post, "/v1/tokens", token: server.admin, body: #"{"name": "cms", "role": "viewer"}"#)
            #expect(made.status == .created)
            // Required and null: written as null, not left out (the generator would leave it out).
            #expect(made.json?.objectValue?["budget_usd"] == .null && made.json?.objectValue?["display_name"] == .null)
        }
    }

    @Test func theServedOpenAPIDocumentIsTheRepositorysAndDescribesEveryRoute() async throws {
        try await ServerHarness.with { server in
            let served = try await server.request(.get, "/openapi.yaml").text
            let file = try String(contentsOf: repositoryRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
            #expect(served.trimmingCharacters(in: .whitespacesAndNewlines) == file.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let paths = Set(spec.all.map(\.path))
        for path in [
            "/v1/reviews", "/v1/reviews/{id}", "/v1/reviews/{id}/events", "/v1/reviews/{id}/document.md", "/v1/reviews/{id}/document.html",
            "/v1/reviews/{id}/document.json", "/v1/batches", "/v1/batches/{id}", "/v1/tokens", "/v1/tokens/{id}", "/healthz", "/metrics",
        ] {
            #expect(paths.contains(path), "\(path)")
        }
    }
}

extension MockProviderConfiguration {
    static func latency(_ latency: Duration) -> MockProviderConfiguration {
        var configuration = MockProviderConfiguration()
        configuration.latency = latency
        return configuration
    }
}
