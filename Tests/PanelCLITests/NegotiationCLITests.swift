import Foundation
import MockProvider
import Testing

/// A model that refuses `max_tokens` (OpenAI's reasoning models) or `temperature`: the review still
/// answers, at the cost of one extra call in the run, and the flag says what was dropped.
extension PanelCLITests {
    @Test(arguments: ["max_tokens", "temperature"])
    func aRefusedParameterCostsOneExtraCall(_ parameter: String) async throws {
        var configuration = MockProviderConfiguration()
        configuration.rejectedParameters = [parameter]
        try await MockProvider.withServer(configuration) { handle in
            let result = try await panel([
                "review", Self.azure, "--base-url", handle.baseURL, "--model", "m", "--concurrency", "1", "--format", "json",
            ])
            #expect(result.code == 0, "\(result.stderr)")
            #expect(handle.stats.snapshot.chatRequests == 5)  // four personas, one refusal in the run
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let reviews = try #require((document["tools"] as? [[String: Any]])?.first?["reviews"] as? [[String: Any]])
            #expect(reviews.allSatisfy { $0["status"] as? String == "answered" })
            let flagged = reviews.allSatisfy { ($0["flags"] as? [String] ?? []).contains("temperature_dropped") }
            #expect(flagged == (parameter == "temperature"))
        }
    }
}
