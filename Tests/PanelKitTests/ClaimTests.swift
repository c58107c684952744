import Foundation
import ModelBackends
import Testing

@testable import PanelKit

/// The claim rules: spans, kinds and normalised values on single sentences, then precision and recall on
/// the labelled corpus (fixtures/claims/corpus.jsonl).
struct ClaimTests {
    func claims(_ text: String, listing: Listing = Listing(name: "Tool", description: "")) -> [Claim] {
        ClaimChecker(listing: listing).claims(in: text)
    }

    /// The claim rules' scalars, decoded in one pass, are `Array(unicodeScalars)` for text of every width.
    @Test func scalarArrayIsTheStringsScalars() {
        let alphabet = Array("aZ 09.,$€£¥—’é\u{301}ß\u{2028}😀🇫🇷\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\n")
        var state: UInt64 = 7
        for length in 0..<200 {
            var text = ""
            for _ in 0..<length {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            #expect(text.scalarArray == Array(text.unicodeScalars))
        }
        let bridged = String(decoding: [0x61, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80], as: UTF8.self)
        #expect(bridged.scalarArray == Array(bridged.unicodeScalars))
    }

    /// The tool's name is found wherever it stands, ASCII case folded, matches not overlapping; the
    /// search agrees with a plain scan of every position.
    @Test func theToolsNameIsFoundInAParagraph() {
        func spans(_ name: String, _ text: String) -> [Range<Int>] { ClaimExtractor.occurrences(of: name, in: text.scalarArray) }
        #expect(spans("Tool", "tool, TOOL and ToOl.") == [0..<4, 6..<10, 15..<19])
        #expect(spans("aa", "aaaaa") == [0..<2, 2..<4])
        #expect(spans("Été", "été Été") == [4..<7])  // only ASCII letters fold
        #expect(spans("ab", "xxa").isEmpty && spans("", "abc").isEmpty && spans("abcd", "abc").isEmpty)
        #expect(spans("end", "the end") == [4..<7] && spans("t", "t") == [0..<1])
        var state: UInt64 = 11
        for _ in 0..<300 {
            var text: [Character] = []
            for _ in 0..<40 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(["a", "A", "b", "é"][Int(state >> 33) % 4])
            }
            let name = String(text[5..<(5 + Int(state >> 40) % 3 + 1)])
            let scalars = String(text).scalarArray
            let needle = name.scalarArray.map(ClaimExtractor.fold)
            var expected: [Range<Int>] = []
            var index = 0
            while index + needle.count <= scalars.count {
                if scalars[index..<index + needle.count].map(ClaimExtractor.fold) == needle {
                    expected.append(index..<index + needle.count)
                    index += needle.count
                } else {
                    index += 1
                }
            }
            #expect(spans(name, String(text)) == expected)
        }
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

    /// A document carries each review's claims and the counts; Markdown marks the flagged ones with
    /// footnotes quoting the listing, HTML with keyboard-reachable marks; hostile text stays inert.
    @Test func documentsCarryAndMarkTheClaims() throws {
        let listing = Listing(name: "Relay", description: "An LLM gateway.", pricing: "$10 per month", entry: "Paid")
        let hostile = "<script>alert(1)</script> It costs $5 per month & needs 24 GB of RAM<v2 onclick=x> and has a free tier&amp"
        let results = PromptSet.builtIn().personas.map {
            PersonaResult(persona: $0, outcome: .answered(ParsedReview(score: 70, verdict: .ship, text: hostile)), attempts: 1)
        }
        let run = ReviewRun(
            tools: [.init(listing: listing, results: results, panel: PanelSummary(results: results))],
            personas: PromptSet.builtIn().personas, wallMS: 1)
        let document = ReviewDocument(run: run)
        let claims = try #require(document.tools.first?.reviews.first?.claims)
        #expect(claims.map(\.text) == ["$5 per month", "24 GB", "v2", "free tier"])
        #expect(claims.map(\.status) == [.contradicted, .unsupported, .unsupported, .contradicted])
        #expect(claims[0].quote == "$10 per month" && claims[0].field == "pricing" && claims[3].field == "entry")
        #expect(document.tools.first?.claimCounts == ClaimCounts(total: 16, supported: 0, unsupported: 8, contradicted: 8))
        #expect(document.claimCounts?.total == 16)

        for claim in claims + [
            Claim(
                text: "~7B", span: [0, 3], kind: .parameters, value: .init(unit: "parameters", min: 6e9, max: 8e9, approximate: true),
                status: .supported, quote: "7B", field: "name", quoteSpan: [4, 6])
        ] {
            var json = JSONTextWriter(pretty: false)
            claim.write(to: &json)
            #expect(json.text == (try JSONValueEncoder.encode(claim)).canonicalText())
        }
        let json = try JSONDocumentRenderer.decode(Data(DocumentFormat.json.render(document).utf8), source: "doc.json")
        #expect(json.tools.first?.reviews.first?.claims == claims)

        let markdown = DocumentFormat.markdown.render(document)
        #expect(markdown.contains("It costs $5 per month[^1] & needs 24 GB[^2] of RAM\\<v2[^3] onclick=x>"))
        #expect(markdown.contains("[^1]: **Contradicted** (Relay, Builder) — “$5 per month”: the listing says “$10 per month” (pricing)."))
        #expect(markdown.contains("[^2]: **Unsupported** (Relay, Builder) — “24 GB”: the listing says nothing of it."))
        #expect(markdown.contains("- **Claims to check:** 8 unsupported · 8 contradicted"))
        #expect(markdown.contains("_Claims:_ “$5 per month” — contradicted (pricing: “$10 per month”). “24 GB” — unsupported."))
        #expect(markdown.firstMatch(of: /(^|[^\\])<[A-Za-z\/!?]/) == nil, "\(markdown)")
        #expect(!markdown.contains("&amp") || markdown.contains("\\&amp"))

        let html = DocumentFormat.html.render(document)
        #expect(
            html.contains(
                #"<mark class="claim claim-contradicted" tabindex="0" data-claim="contradicted" aria-describedby="claim-tip-1">$5 per month<sup>1</sup>"#
            ))
        #expect(html.contains(#"<li id="claim-note-2" value="2"><strong>Unsupported</strong>"#))
        let line =
            #"<span class="claim-line" data-claim-status="contradicted">"#
            + "“$5 per month” — contradicted (pricing: “$10 per month”).</span>"
        #expect(html.contains(line))
        #expect(!html.contains("<script") && !html.contains("<v2"))

        // A document made before claims were checked renders as it did: no marks, no notes.
        var older = document
        older.claimCounts = nil
        for index in older.tools.indices {
            older.tools[index].claimCounts = nil
            for review in older.tools[index].reviews.indices { older.tools[index].reviews[review].claims = nil }
        }
        let plain = DocumentFormat.markdown.render(older)
        #expect(!plain.contains("[^") && !plain.contains("Claims to check"))
        #expect(!DocumentFormat.html.render(older).contains("<mark"))
    }
}
