import Foundation
import MockProvider
import ModelBackends
import PanelEngine
import PanelKit
import Synchronization
import Testing

/// A provider that omits usage or reports the impossible, through the whole stack a run builds: the
/// document bills every call, says how, and never beyond what the request allows.
@Suite(.timeLimit(.minutes(5)))
struct BillingTests {
    let engineTests = EngineTests()
    static let price = Price(inputPerMTok: 1, outputPerMTok: 2)

    func review(_ report: MockProviderConfiguration.UsageReport, stream: Bool) async throws -> (ReviewDocument, ReviewEngine, [String]) {
        var mock = MockProviderConfiguration()
        mock.usageReport = report
        return try await MockProvider.withServer(mock) { handle in
            let engine = try engineTests.engine(
                engineTests.mockConfiguration(handle.baseURL, price: Self.price), overrides: ReviewOverrides(stream: stream))
            let problems = ProblemLog()
            let document = await engine.review([Listing(name: "Acme Relay", description: "Typed webhooks as a service.")]) { event in
                if case .problem(let message) = event { problems.add(message) }
            }
            return (document, engine, problems.all)
        }
    }

    @Test(arguments: [false, true]) func aProviderThatOmitsUsageIsBilledAnEstimateAndSaysSo(stream: Bool) async throws {
        let (document, _, _) = try await review(.omitted, stream: stream)
        let reviews = document.tools[0].reviews
        #expect(reviews.count == 4 && reviews.allSatisfy { $0.status == .answered })
        #expect(reviews.allSatisfy { ($0.costUSD ?? 0) > 0 && $0.flags.contains("usage_estimated") && $0.inputTokens != nil })
        #expect((document.totals.costUSD ?? 0) > 0)
    }

    @Test(arguments: [false, true]) func aProviderThatReportsTheImpossibleIsBilledAtTheBound(stream: Bool) async throws {
        let (document, engine, problems) = try await review(.inflated(completionTokens: 1_000_000), stream: stream)
        let ceiling = try #require(engine.spendCeiling([Listing(name: "Acme Relay", description: "Typed webhooks as a service.")]))
        let maxTokens = try #require(engine.settings.maxOutputTokens)
        for review in document.tools[0].reviews {
            #expect(review.outputTokens == maxTokens && review.flags.contains("usage_suspect"))
        }
        // One million completion tokens at $2/M would be $8 for the four; billed at the bound, under the ceiling.
        #expect((document.totals.costUSD ?? .infinity) <= ceiling)
        #expect(problems.count == 4 && problems.allSatisfy { $0.contains("usage_suspect") })
    }
}

final class ProblemLog: Sendable {
    let lines = Mutex([String]())
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
