import Foundation
import Testing

/// Loads the HTML page in headless Chromium and asserts on the rendered DOM: the components carry
/// the right values, and hostile text from listings and model answers stayed inert.
///
/// Needs Debian's `chromium` (.ci/run installs it and sets PANEL_REQUIRE_CHROMIUM=1, so CI fails
/// rather than skips when it is missing).
@Suite(.timeLimit(.minutes(5)))
struct BrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let required = ProcessInfo.processInfo.environment["PANEL_REQUIRE_CHROMIUM"] == "1"

    static let evil =
        #"<script>document.title='pwned-script'</script><img src=x onerror="document.title='pwned-img';document.body.appendChild(Object.assign(document.createElement('div'),{id:'pwned'}))">"#
        + #" </td></tr></table><a href="javascript:document.title='pwned-link'">click</a> <svg onload="document.title='pwned-svg'"></svg>"#

    /// A v1 document with hostile text in listing fields and in model answers.
    static func hostileDocument() -> String {
        func review(_ persona: String, _ score: Int, _ verdict: String, _ text: String) -> String {
            let fields: [String: Any] = [
                "persona": persona, "status": "answered", "score": score, "verdict": verdict, "text": text, "error": NSNull(),
                "flags": [String](),
                "backend": "mock", "model": "m<b>x</b>", "latency_ms": 10, "ttft_ms": NSNull(), "input_tokens": 1, "output_tokens": 1,
                "cost_usd": 0.0, "attempts": 1,
            ]
            return String(decoding: try! JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
        }
        func quoted(_ text: String) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
        }
        let tools = [("Acme \(evil)", 82, "ship"), ("Globex", 38, "skip")].map { name, score, verdict in
            """
            {"name": \(quoted(name)), "tagline": \(quoted("Tag " + evil)), "category": "Dev <i>Tools</i>", "pricing": \(quoted("$5 | " + evil)),
             "entry": "Paid", "best_for": "Teams", "description": \(quoted("First paragraph " + evil + "\n\nSecond paragraph.")),
             "url": "javascript:alert(1)", "community": null,
             "panel": {"verdict": "\(verdict)", "ship": \(verdict == "ship" ? 4 : 0), "skip": \(verdict == "ship" ? 0 : 4), "abstained": 0,
                       "ship_share": \(verdict == "ship" ? 1 : 0), "score_median": \(score), "score_min": \(score), "score_max": \(score)},
             "reviews": [\(["builder", "skeptic", "founder", "futurist"].map { review($0, score, verdict, "Model says: " + evil) }.joined(separator: ","))]}
            """
        }
        return """
            {"schema": "panel.document/v1", "kind": "comparison", "generated_at": "2026-11-25T12:00:00Z",
             "personas": [{"id": "builder", "name": "Builder"}, {"id": "skeptic", "name": "Skeptic"}, {"id": "founder", "name": "Founder"}, {"id": "futurist", "name": "Futurist"}],
             "tools": [\(tools.joined(separator: ","))],
             "totals": {"calls": 8, "input_tokens": 8, "output_tokens": 8, "cost_usd": 0, "wall_ms": 100}}
            """
    }

    func dumpDOM(_ html: URL) async throws -> String {
        let chromium = try #require(Self.chromium)
        let out = html.deletingLastPathComponent().appendingPathComponent("dom.html")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=3000", "--dump-dom",
            html.absoluteString,
        ]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        #expect(status == 0)
        return try String(contentsOf: out, encoding: .utf8)
    }

    @Test(.enabled(if: chromium != nil || required, "needs chromium (apt-get install chromium)"))
    func hostilePayloadsStayInertInARealBrowser() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("panel-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("doc.json")
        try Data(Self.hostileDocument().utf8).write(to: json)
        let html = dir.appendingPathComponent("page.html")
        let render = try await PanelCLITests().panel(["render", json.path, "--format", "html", "-o", html.path])
        #expect(render.code == 0, "\(render.stderr)")
        let dom = try await dumpDOM(html)

        let title = try #require(dom.firstMatch(of: try Regex("<title>([^<]*)</title>"))?.output[1].substring)
        #expect(!title.hasPrefix("pwned"), "a payload ran: title is \(title)")
        #expect(title.hasPrefix("Acme"))
        #expect(!dom.contains(#"id="pwned""#))
        #expect(!dom.contains("<script"))
        #expect(!dom.contains("<img"))
        #expect(!dom.contains("<svg"))
        #expect(!dom.contains(#"<a href="javascript:"#))
        #expect(dom.contains("&lt;script&gt;document.title='pwned-script'&lt;/script&gt;"))  // shown as text

        // The components are there with the right values.
        #expect(dom.components(separatedBy: #"<article class="card""#).count - 1 == 2)
        #expect(dom.components(separatedBy: #"<tr><th scope="row">"#).count - 1 == 6)
        #expect(dom.components(separatedBy: #"data-score="82""#).count - 1 == 4)
        #expect(dom.components(separatedBy: #"data-score="38""#).count - 1 == 4)
        #expect(dom.contains(#"<span class="badge ship" data-verdict="ship">Ship</span>"#))
        #expect(dom.contains(#"<span class="badge skip" data-verdict="skip">Skip</span>"#))
        #expect(dom.contains("Ship · 4 ship / 0 skip"))
        #expect(dom.components(separatedBy: #"<tr data-persona="#).count - 1 == 4)
    }
}

@Suite(.timeLimit(.minutes(5)))
struct RenderCommandTests {
    @Test func rendersSavedDocumentsAndRejectsOtherSchemas() async throws {
        let cli = PanelCLITests()
        let golden = PanelCLITests.root.appendingPathComponent("fixtures/golden/comparison-2.md").path
        let document = PanelCLITests.root.appendingPathComponent("fixtures/documents/comparison-2.json").path
        let markdown = try await cli.panel(["render", document])
        #expect(markdown.code == 0)
        #expect(markdown.stdout == (try String(contentsOfFile: golden, encoding: .utf8)))
        let old = try cli.temporaryFile("old.json", #"{"schema": "panel.document/v0", "tools": []}"#)
        let rejected = try await cli.panel(["render", old, "--format", "html"])
        #expect(rejected.code == 2)
        #expect(rejected.stderr.contains("panel.document/v0"))
        let missing = try await cli.panel(["render", "/nonexistent/doc.json"])
        #expect(missing.code == 2)
    }
}
