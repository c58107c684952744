import Foundation
import MockProvider
import ModelBackends
import PanelEngine
import PanelKit
import Testing

/// The optional model check of claims: what a model decides is kept only with a quote that is in the
/// listing; the call goes through the backend stack (recordings and replay included) and is counted.
@Suite(.timeLimit(.minutes(5)))
struct ClaimModelCheckTests {
    let engineTests = EngineTests()

    static let listing = Listing(
        name: "Relay", description: "Relay proxies LLM calls; its cache triples   throughput. It needs eight gigabytes of memory.",
        pricing: "$10 per month")
    static let paragraph = "It is 3x faster, keeps 99% uptime, needs 4 GB of RAM and costs $5 per month."

    /// The checker's answer: per paragraph, 3x supported (quoted with its spacing changed), 99% "supported"
    /// with an invented quote, 4 GB contradicted with the listing's words.
    static func checker() -> MockProviderConfiguration {
        var mock = MockProviderConfiguration()
        let personas = ["builder", "skeptic", "founder", "futurist"]
        mock.canned = personas.map {
            MockProviderConfiguration.CannedAnswer(
                persona: $0, tool: "Relay",
                text: JSONValue.object(["score": .int(70), "verdict": .string("ship"), "rationale": .string(paragraph)]).canonicalText())
        }
        func decision(_ id: Int, _ status: String, _ quote: String) -> JSONValue {
            .object(["id": .int(id), "status": .string(status), "quote": .string(quote)])
        }
        var decisions: [JSONValue] = []
        for index in 0..<4 {
            decisions.append(decision(3 * index + 1, "supported", "triples throughput"))
            decisions.append(decision(3 * index + 2, "supported", "never had an outage"))
            decisions.append(decision(3 * index + 3, "contradicted", "needs eight gigabytes\nof memory"))
        }
        decisions.append(decision(99, "supported", "Relay"))
        mock.canned.append(
            MockProviderConfiguration.CannedAnswer(
                persona: "reviewer", tool: "Relay", text: JSONValue.object(["claims": .array(decisions)]).canonicalText()))
        return mock
    }

    func configuration(_ baseURL: String) throws -> PanelConfiguration {
        try PanelConfiguration.parse(
            """
            backends:
              - {name: mock, kind: openai, base_url: "\(baseURL)", model: m, price: {input_per_mtok: 1, output_per_mtok: 2}}
              - {name: checker, kind: openai, base_url: "\(baseURL)", model: c, price: {input_per_mtok: 3, output_per_mtok: 4}}
            panel:
              claims: {check: model, backend: checker}
            """, source: "panel.yaml")
    }

    func check(_ document: ReviewDocument) throws {
        let reviews = try #require(document.tools.first?.reviews)
        #expect(reviews.count == 4)
        for review in reviews {
            let claims = try #require(review.claims)
            #expect(claims.map(\.text) == ["3x", "99%", "4 GB", "$5 per month"])
            #expect(claims.map(\.status) == [.supported, .unsupported, .contradicted, .contradicted])
            #expect(claims.map(\.source) == [.model, .rules, .model, .rules])
            #expect(claims[0].quote == "triples   throughput" && claims[0].field == "description")
            let description = Array(Self.listing.description.unicodeScalars)
            let span = try #require(claims[0].quoteSpan)
            #expect(String(String.UnicodeScalarView(description[span[0]..<span[1]])) == "triples   throughput")
            #expect(claims[2].quote == "needs eight gigabytes of memory")
            #expect(claims[1].quote == nil)
        }
        let record = try #require(document.claimCheck)
        #expect(record.backend == "checker", "\(record)")
        #expect(record.asked == 12 && record.decided == 8 && record.discarded == 4)
        #expect(record.calls == 1 && record.answered == 1 && record.errors.isEmpty)
        #expect(document.claimCounts == ClaimCounts(total: 16, supported: 4, unsupported: 4, contradicted: 8))
        #expect(document.totals.calls == 5)
    }

    @Test(.timeLimit(.minutes(2))) func aModelDecidesWhatTheRulesCannotButOnlyWithTheListingsWords() async throws {
        try await MockProvider.withServer(Self.checker()) { mock in
            let engine = try engineTests.engine(try configuration(mock.baseURL))
            let document = await engine.review([Self.listing])
            try check(document)
            // The call is billed on its own backend and counted in the totals.
            let record = try #require(document.claimCheck)
            let cost = try #require(record.costUSD)
            #expect(cost > 0 && record.inputTokens != nil)
            let personas = document.tools[0].reviews.compactMap(\.costUSD).reduce(0, +)
            #expect(abs((document.totals.costUSD ?? 0) - ReviewDocument.roundCost(personas + cost)) < 1e-9)
            #expect(mock.stats.snapshot.chatRequests == 5)
            // The document says it all: JSON round trip.
            let json = try JSONDocumentRenderer.decode(Data(DocumentFormat.json.render(document).utf8), source: "doc.json")
            #expect(json.claimCheck == document.claimCheck && json.tools[0].reviews[0].claims == document.tools[0].reviews[0].claims)
        }
    }

    @Test(.timeLimit(.minutes(2))) func theCheckIsRecordedAndReplayed() async throws {
        let workspace = try Workspace()
        let recorded = try await MockProvider.withServer(Self.checker()) { mock in
            try await engineTests.engine(try configuration(mock.baseURL), recordDirectory: workspace.path).review([Self.listing])
        }
        try check(recorded)
        let backends = try EngineBackends(
            BackendSettings(source: .replay(directory: workspace.path), cacheMode: .off, environment: [:]), cache: nil)
        var overrides = ReviewOverrides()
        overrides.checkClaims = true
        let replay = ReviewEngine(settings: .resolved(overrides, configuration: nil), backends: backends)
        try check(await replay.review([Self.listing]))
    }

    @Test(.timeLimit(.minutes(2))) func withoutTheCheckOnlyTheRulesRun() async throws {
        try await MockProvider.withServer(Self.checker()) { mock in
            var configuration = try configuration(mock.baseURL)
            configuration.claimCheckBackend = nil
            let document = try await engineTests.engine(configuration).review([Self.listing])
            #expect(document.claimCheck == nil && mock.stats.snapshot.chatRequests == 4)
            #expect(document.tools[0].reviews[0].claims?.map(\.status) == [.unsupported, .unsupported, .unsupported, .contradicted])
        }
    }

    @Test func aFailedCheckLeavesTheRulesAndSaysWhy() throws {
        let recordings = try Workspace()
        var document = ReviewDocument(
            run: ReviewRun(
                tools: [
                    .init(
                        listing: Self.listing,
                        results: [
                            PersonaResult(
                                persona: PromptSet.builtIn().personas[0],
                                outcome: .answered(ParsedReview(score: 70, verdict: .ship, text: Self.paragraph)), attempts: 1)
                        ], panel: PanelSummary(results: []))
                ], personas: PromptSet.builtIn().personas, wallMS: 1))
        let engine = ReviewEngine(
            settings: { () -> ReviewSettings in
                var settings = ReviewSettings()
                settings.checkClaims = true
                return settings
            }(),
            backends: try EngineBackends(
                BackendSettings(source: .replay(directory: recordings.path), cacheMode: .off, environment: [:]), cache: nil))
        let calls = engine.claimCheckCalls(document)
        #expect(calls.count == 1 && calls[0].items.map(\.text) == ["3x", "99%", "4 GB"])
        #expect(calls[0].request.messages.last?.content.contains("1. “3x” — in: “It is 3x faster") == true)
        engine.applyClaimCheck(calls[0], .failure(BackendError(kind: .timeout, backend: "checker", detail: "no answer")), to: &document)
        #expect(document.claimCheck?.errors.first?.contains("no answer") == true && document.claimCheck?.decided == 0)
        #expect(document.tools[0].reviews[0].claims?.map(\.status) == [.unsupported, .unsupported, .unsupported, .contradicted])
    }

    @Test func quotesMustBeTheListingsWords() {
        let listing = Self.listing
        let answer = #"""
            Here you go: {"claims": [
              {"id": 1, "status": "supported", "quote": "  triples throughput "},
              {"id": 2, "status": "contradicted", "quote": "TRIPLES THROUGHPUT"},
              {"id": 3, "status": "supported", "quote": "..."},
              {"id": 4, "status": "unsupported", "quote": ""},
              {"id": 0, "status": "supported", "quote": "Relay"},
              {"id": 1, "status": "contradicted", "quote": "Relay"}
            ]}
            """#
        let (decided, discarded) = ClaimModelCheck.decisions(answer, listing: listing, count: 4)
        #expect(decided.keys.sorted() == [0])
        #expect(decided[0]?.quote == "triples   throughput" && decided[0]?.status == .supported)
        #expect(discarded == 2)
        #expect(ClaimModelCheck.decisions("no JSON here", listing: listing, count: 4).decided.isEmpty)
    }
}
