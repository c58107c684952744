import Foundation
import MockProvider
import ModelBackends
import PanelEngine
import PanelKit
import Testing

/// `panel audit` reports the shift a length-biased judge makes, and none from a judge that is not.
@Suite(.timeLimit(.minutes(5)))
struct BiasAuditTests {
    let engineTests = EngineTests()
    // The mock's base scores for this name sit mid-scale (54–64), so a shift is never cut off at 100.
    let listing = Listing(
        name: "Coin Flip 39", description: "Coin Flip 39 receives, verifies and retries webhooks for your services, with typed events.",
        tagline: "Typed webhooks", category: "Developer Tools", pricing: "Free tier; $20/month", source: "test")

    @Test func variantsChangeOnlyWhatTheySay() {
        let variants = Dictionary(uniqueKeysWithValues: BiasAudit.variants(of: listing))
        let padded = try! #require(variants[.padded])
        #expect(padded.description.count >= listing.description.count * 2 && padded.description.hasPrefix(listing.description))
        #expect(padded.name == listing.name && padded.tagline == listing.tagline)
        let reordered = try! #require(variants[.reordered])
        #expect(
            reordered.tagline == nil
                && reordered.description.hasPrefix("Pricing: Free tier; $20/month\nCategory: Developer Tools\nTagline: Typed webhooks"))
        let masked = try! #require(variants[.masked])
        #expect(masked.name == "Tool X" && !masked.description.contains("Coin") && !masked.description.contains("Flip"))
    }

    func audit(lengthBias: Double) async throws -> BiasAudit {
        var mock = MockProviderConfiguration()
        mock.lengthBias = lengthBias
        return try await MockProvider.withServer(mock) { handle in
            let engine = try engineTests.engine(engineTests.mockConfiguration(handle.baseURL), overrides: ReviewOverrides(samples: 3))
            return await BiasAudit.run(listing, engine: engine).audit
        }
    }

    @Test func aLengthBiasedJudgeMovesWithPaddingAndAFairOneDoesNot() async throws {
        let biased = try await audit(lengthBias: 8)
        let padded = biased.shifts.filter { $0.variant == .padded }
        #expect(padded.count == 4)
        #expect(padded.allSatisfy { ($0.score ?? 0) > 0 && $0.scoreMoved }, "\(padded.map(\.score))")
        #expect(biased.markdown().contains("**score moved**"))
        #expect(biased.json()["shifts"]?.arrayValue?.count == 12)

        let fair = try await audit(lengthBias: 0)
        let unmoved = fair.shifts.filter { $0.variant == .padded }
        #expect(unmoved.allSatisfy { $0.score == 0 && !$0.scoreMoved && !$0.verdictMoved }, "\(unmoved.map(\.score))")
        #expect(fair.shifts.filter { $0.variant == .reordered }.allSatisfy { !$0.scoreMoved })
    }
}
