import Foundation
import Testing

@testable import PanelKit

/// The claim rules: spans, kinds and normalised values on single sentences, then precision and recall on
/// the labelled corpus (fixtures/claims/corpus.jsonl).
struct ClaimTests {
    func claims(_ text: String, listing: Listing = Listing(name: "Tool", description: "")) -> [Claim] {
        ClaimChecker(listing: listing).claims(in: text)
    }

    @Test func figuresAreNormalised() throws {
        let found = claims("Sub-300 ms latency, a ~7B model, $0.4/M tokens, between 2 and 4 GB, 99.9% uptime and 3× faster.")
        #expect(found.map(\.kind) == [.duration, .parameters, .money, .bytes, .percent, .multiple])
        let latency = try #require(found.first)
        #expect(latency.text == "Sub-300 ms" && latency.value.unit == "s" && latency.value.max == 0.3 && latency.value.min == 0)
        #expect(found[1].text == "~7B" && found[1].value.min == 7e9 && found[1].value.approximate == true)
        let price = found[2]
        #expect(price.text == "$0.4/M tokens" && price.value.unit == "USD/token")
        #expect(abs((price.value.min ?? 0) - 0.000_000_4) < 1e-15)
        #expect(found[3].text == "between 2 and 4 GB" && found[3].value.min == 2e9 && found[3].value.max == 4e9)
    }

    @Test func spansAreUnicodeScalarOffsetsIntoTheStoredText() throws {
        let text = "Überall 🚀 — it answers in under 300 ms."
        let claim = try #require(claims(text).first)
        let scalars = Array(text.unicodeScalars)
        #expect(String(String.UnicodeScalarView(scalars[claim.span[0]..<claim.span[1]])) == "under 300 ms")
        #expect(claim.span == [26, 38])
    }

    @Test func numbersThatAreNotClaimsAreLeftAlone() {
        #expect(claims("Score 78/100. 3 ship / 1 skip. The 4 personas agree; two of them love it. 1. Setup 2. Run.").isEmpty)
        // The tool's own name states no figure.
        let listing = Listing(name: "Office 2024", description: "An office suite.")
        #expect(claims("Office 2024 is fine.", listing: listing).isEmpty)
    }

    @Test func licencesPricesAndYearsAreChecked() {
        let listing = Listing(
            name: "Relay", description: "MIT-licensed, launched in 2022, with a p50 latency under 20 ms.", pricing: "$10 per month",
            entry: "Free tier")
        let found = claims(
            "The MIT licence, $10 per month, a free tier, latency under 50 ms; Apache 2.0 it is not — it launched in 2020 at $5 per month.",
            listing: listing)
        #expect(
            found.map(\.status) == [.supported, .supported, .supported, .supported, .contradicted, .contradicted, .contradicted],
            "\(found.map { "\($0.text): \($0.status)" })")
        let contradicted = found.filter { $0.status == .contradicted }
        #expect(contradicted.map(\.field) == ["description", "description", "pricing"])
        #expect(contradicted.last?.quote == "$10 per month" && contradicted.last?.quoteSpan == [0, 13])
    }

    @Test func aClaimWithoutSupportIsUnsupported() {
        let found = claims("It needs 24 GB of VRAM and has a 128k context window.")
        #expect(found.count == 2 && found.allSatisfy { $0.status == .unsupported && $0.quote == nil })
    }

    @Test func theCorpusHoldsPrecisionAndRecall() throws {
        let corpus = try ClaimCorpus.load(
            packageRoot.appendingPathComponent("fixtures/claims/corpus.jsonl").path, root: packageRoot.path)
        #expect(corpus.cases.count >= 150)
        let score = corpus.score()
        let report = score.mistakes.joined(separator: "\n")
        #expect(score.precision(.unsupported) >= 0.95, "\(report)")
        #expect(score.precision(.contradicted) >= 0.95, "\(report)")
        #expect(score.recall >= 0.90, "recall \(score.found)/\(score.labelled)\n\(report)")
    }
}
