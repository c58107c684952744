import Foundation
import MockProvider
import Testing

/// `panel eval`, `panel stats` and `--samples` as a user runs them.
@Suite(.timeLimit(.minutes(5)))
struct TrustCLITests {
    let cli = PanelCLITests()
    let browser = BrowserTests()

    /// The bundled fixtures reviewed as a batch from the recordings: a directory of JSON documents.
    func fixtureBatch() async throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-trust-\(UUID().uuidString)")
        let result = try await cli.panel([
            "batch", PanelCLITests.root.appendingPathComponent("fixtures/listings").path, "--replay", PanelCLITests.recordings, "--format",
            "json",
            "--out", dir.appendingPathComponent("out").path, "--store", dir.appendingPathComponent("s.sqlite").path,
        ])
        #expect(result.code == 0, "\(result.stderr)")
        return dir.appendingPathComponent("out")
    }

    @Test func evalReadsLabelsAndDocumentsAndSaysWhatIsWrong() async throws {
        let out = try await fixtureBatch()
        let labels = try cli.temporaryFile(
            "labels.csv",
            "name,verdict,score\nOllama,ship,85\nLangfuse,skip,40\nVal Town,ship,70\nTemporal Cloud,skip,\nNot Reviewed,ship,\n")
        let json = try await cli.panel(["eval", "--labels", labels, out.path, "--format", "json"])
        #expect(json.code == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let panel = try #require(object["panel"] as? [String: Any])
        let counts = ["model_ship_editor_ship", "model_ship_editor_skip", "model_skip_editor_ship", "model_skip_editor_skip"].map {
            panel[$0] as? Int ?? -1
        }
        let excluded = (panel["excluded"] as? [String: Int])?.values.reduce(0, +) ?? 0
        #expect(counts.reduce(0, +) == panel["n"] as? Int && (panel["n"] as? Int ?? 0) + excluded == 4)
        #expect((object["personas"] as? [String: Any])?.keys.sorted() == ["builder", "founder", "futurist", "skeptic"])
        #expect((object["labels"] as? [String: Any])?["unmatched"] as? [String] == ["Not Reviewed"])
        let markdown = try await cli.panel(["eval", "--labels", labels, out.path])
        #expect(markdown.stdout.contains("| **Panel** |"))
        let duplicate = try cli.temporaryFile("dup.csv", "name,verdict\nOllama,ship\nOllama,skip\n")
        let refused = try await cli.panel(["eval", "--labels", duplicate, out.path])
        #expect(refused.code == 2 && refused.stderr.contains("named again: 'Ollama'"))
        let none = try await cli.panel(["eval", out.path])
        #expect(none.code == 2 && none.stderr.contains("no labels"))
    }

    @Test func statsOverTheBundledFixturesRendersEveryFormat() async throws {
        let out = try await fixtureBatch()
        let json = try await cli.panel(["stats", out.path, "--format", "json"])
        #expect(json.code == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["tools"] as? Int == 6)
        #expect(((object["agreement"] as? [String: Any])?["effective_opinions"] as? Double).map { $0 > 0 && $0 <= 4 } == true)
        let html = try await cli.panel(["stats", out.path, "--format", "html"])
        #expect(html.stdout.components(separatedBy: "<svg class=\"histogram\"").count - 1 == 5)  // four personas, one backend
        #expect(html.stdout.contains("<svg class=\"matrix\""))
    }

    @Test(.enabled(if: BrowserTests.chromium != nil || BrowserTests.required, "needs chromium"))
    func statsOfHostileDocumentsStayInertInARealBrowser() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-stats-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("doc.json")
        try Data(BrowserTests.hostileDocument().utf8).write(to: json)
        let page = dir.appendingPathComponent("stats.html")
        let result = try await cli.panel(["stats", json.path, "--format", "html", "-o", page.path])
        #expect(result.code == 0, "\(result.stderr)")
        let dom = try await browser.dumpDOM(page)
        let title = try #require(dom.firstMatch(of: try Regex("<title>([^<]*)</title>"))?.output[1].substring)
        #expect(!title.hasPrefix("pwned") && title == "How the panel scores")
        #expect(!dom.contains(#"id="pwned""#) && !dom.contains("<script") && !dom.contains("<img") && !dom.contains("<b>x</b>"))
        #expect(!dom.contains("onload"))
        #expect(dom.contains("mock · m&lt;b&gt;x&lt;/b&gt;"))
        #expect(dom.components(separatedBy: "<svg class=\"histogram\"").count - 1 == 5)
    }

    @Test func aSampledReviewFlagsAnUnstablePersonaInEveryFormat() async throws {
        var configuration = MockProviderConfiguration()
        configuration.sampleSpread = 25
        try await MockProvider.withServer(configuration) { mock in
            let listing = try cli.temporaryFile("coin.yaml", "name: Coin Flip 39\ndescription: Near the line.\n")
            for format in ["json", "markdown", "html"] {
                let result = try await cli.panel([
                    "review", listing, "--base-url", mock.baseURL, "--model", "m", "--samples", "5", "--temperature", "0.9", "--format",
                    format,
                ])
                #expect([0, 3].contains(result.code), "\(result.stderr)")
                switch format {
                case "json":
                    #expect(
                        result.stdout.contains("\"samples\"") && result.stdout.contains("\"interval\"")
                            && result.stdout.contains("\"unstable\""))
                case "markdown":
                    #expect(result.stdout.contains("k=5)") && result.stdout.contains("95% interval") && result.stdout.contains("Unstable"))
                default:
                    #expect(result.stdout.contains("data-unstable=\"true\"") && result.stdout.contains("class=\"interval\""))
                }
            }
            let bad = try await cli.panel(["review", listing, "--base-url", mock.baseURL, "--model", "m", "--samples", "0"])
            #expect(bad.code == 2 && bad.stderr.contains("--samples must be from 1 to 25"))
        }
    }
}
