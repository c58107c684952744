import Foundation
import MockProvider
import ModelBackends
import PanelEngine
import PanelKit
import Testing

/// `--samples K`: each persona asked K times, the answers combined, spreads and intervals in every
/// format, samples kept apart in the cache and in recordings.
@Suite(.timeLimit(.minutes(5)))
struct SamplesTests {
    let engineTests = EngineTests()

    func persona(_ id: String = "builder") -> Persona { Persona(id: id, name: id.capitalized, weighs: "", order: 0) }

    func answer(_ score: Int, _ verdict: Verdict) -> PersonaResult {
        PersonaResult(
            persona: persona(), outcome: .answered(ParsedReview(score: score, verdict: verdict, text: "\(score) \(verdict)")), attempts: 1)
    }

    @Test func answersAreCombinedByMajorityAndMedian() {
        let combined = PersonaResult.combining([
            answer(70, .ship), answer(80, .ship), answer(40, .skip), answer(90, .ship), answer(75, .ship),
        ])
        #expect(combined.review?.verdict == .ship)
        #expect(combined.review?.score == 75)
        #expect(combined.review?.text == "75 ship")
        #expect(combined.samples.count == 5 && combined.attempts == 5)
        #expect(!combined.flags.contains(PersonaResult.unstableFlag))  // 4/5 = 0.8 agree
        let shaky = PersonaResult.combining([answer(70, .ship), answer(40, .skip), answer(65, .ship)])
        #expect(shaky.review?.verdict == .ship && shaky.flags.contains(PersonaResult.unstableFlag))  // 2/3 < 0.8
        let tie = PersonaResult.combining([answer(70, .ship), answer(40, .skip)])
        #expect(tie.review == nil && tie.abstentionReason?.hasPrefix("unstable") == true)
        #expect(tie.flags.contains(PersonaResult.unstableFlag))
        let one = PersonaResult.combining([answer(70, .ship)])
        #expect(one.samples.isEmpty && one.review?.score == 70)
        let document = ReviewDocument.Review(
            result: PersonaResult.combining([answer(60, .ship), answer(71, .ship), answer(80, .ship), answer(90, .ship)]))
        #expect(document.scoreMedian == 75.5 && document.score == 76)
        #expect(document.spread == ReviewDocument.Spread(min: 60, max: 90, iqr: 82.5 - 68.25))
        #expect(document.agreement == 1)
    }

    @Test func samplesAreKeptApartInTheCacheAndRecordings() {
        var request = ChatRequest(messages: [.user("hello")], temperature: 0.7)
        let caching = CachingBackend(ReplayStub(), cache: MemoryCacheStub(), model: "m")
        let first = caching.key(for: request)
        #expect(request.recordingKey == request.canonicalHash)
        request.sample = 2
        #expect(caching.key(for: request) != first)
        #expect(request.recordingKey != request.canonicalHash)
        #expect(request.canonicalHash == ChatRequest(messages: [.user("hello")], temperature: 0.7).canonicalHash)
    }

    @Test func aSampledReviewShowsSpreadsUnstablePersonasAndIntervalsInEveryFormat() async throws {
        let workspace = try Workspace()
        // The mock's base scores for this name are 64, 64, 54 and 63: near the ship line, so ±25 flips verdicts.
        let path = try engineTests.listing(workspace, "Coin Flip 39")
        var mock = MockProviderConfiguration()
        mock.sampleSpread = 25
        let documents = try await (0..<2).asyncMap { _ in
            try await MockProvider.withServer(mock) { handle in
                let engine = try engineTests.engine(
                    engineTests.mockConfiguration(handle.baseURL), overrides: ReviewOverrides(temperature: 0.9, samples: 5))
                let document = await engine.review([try ListingLoader.load(path: path)])
                #expect(handle.stats.snapshot.chatRequests == 20)
                return document
            }
        }
        let document = documents[0]
        // The same votes (in whatever order the samples arrived) give the same figures and intervals.
        #expect(sortedSamples(engineTests.comparable(documents[1])) == sortedSamples(engineTests.comparable(document)))
        let reviews = document.tools[0].reviews
        #expect(reviews.allSatisfy { $0.samples?.count == 5 && $0.attempts == 5 })
        #expect(reviews.allSatisfy { $0.status == .abstained || ($0.spread != nil && $0.agreement != nil && $0.scoreMedian != nil) })
        #expect(reviews.contains { $0.flags.contains(PersonaResult.unstableFlag) }, "the mock's ±25 flips some persona's verdict")
        let interval = try #require(document.tools[0].panel.interval)
        #expect(interval.scoreMedian?.count == 2 && interval.shipShare?.count == 2)
        #expect(document.tools[0].panel.closeCall != nil)

        let json = JSONDocumentRenderer.render(document)
        #expect(
            json.contains("\"samples\"") && json.contains("\"spread\"") && json.contains("\"agreement\"") && json.contains("\"interval\""))
        #expect(try JSONDocumentRenderer.decode(Data(json.utf8), source: "sampled") == document)
        let markdown = DocumentFormat.markdown.render(document)
        #expect(markdown.contains("k=5) · "))
        #expect(markdown.contains("**95% interval:** median score"))
        #expect(markdown.contains("Unstable: this persona's samples disagree"))
        let html = DocumentFormat.html.render(document)
        #expect(html.contains("class=\"interval\"") && html.contains("data-unstable=\"true\"") && html.contains("k=5)"))
        let answered = reviews.first { $0.status == .answered && $0.samples != nil }
        if let answered, let spread = answered.spread {
            #expect(markdown.contains("(\(spread.min)–\(spread.max), k=5)"))
        }
    }
}

func sortedSamples(_ document: ReviewDocument) -> ReviewDocument {
    var document = document
    for t in document.tools.indices {
        for r in document.tools[t].reviews.indices {
            document.tools[t].reviews[r].samples?.sort {
                ($0.score ?? -1, $0.verdict?.rawValue ?? "") < ($1.score ?? -1, $1.verdict?.rawValue ?? "")
            }
            document.tools[t].reviews[r].text = nil
        }
    }
    return document
}

struct ReplayStub: ModelBackend {
    var name: String { "stub" }
    func complete(_ request: ChatRequest) async throws -> ChatResponse { throw CancellationError() }
}

struct MemoryCacheStub: ResponseCache {
    func cachedResponse(for key: String, maxAge: Duration?) async throws -> ChatResponse? { nil }
    func store(_ response: ChatResponse, for key: String) async throws {}
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
