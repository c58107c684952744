import Foundation
import HTTPTypes
import HummingbirdTesting
import MockProvider
import Testing

/// What a screen reader needs of the pages, checked on the markup (the browser run in CI adds
/// axe-core and a keyboard-only flow): a name for every control, landmarks, one h1, and a polite
/// status line on the live view.
@Suite(.timeLimit(.minutes(5)))
struct AccessibilityMarkupTests {
    typealias Browser = ServerWebTests.Browser

    func count(_ text: String, _ fragment: String) -> Int { text.components(separatedBy: fragment).count - 1 }

    @Test func everyPageHasLandmarksOneHeadingAndNamedControls() async throws {
        try await ServerHarness.with { server in
            let (id, _) = try await server.review([ServerHarness.ollama, ServerHarness.vllm])
            for token in [server.editor, server.viewer] {
                let browser = Browser(server)
                _ = try await browser.signIn(token)
                for path in ["/", "/reviews/\(id)"] {
                    let page = try await browser.send(.get, path).text
                    #expect(page.contains("<header class=\"top\">") && page.contains("<nav ") && page.contains("<main"), "\(path)")
                    #expect(count(page, "<h1") == 1, "\(path) has \(count(page, "<h1")) h1")
                }
                let home = try await browser.send(.get, "/").text
                #expect(home.contains(#"aria-label="Search the reviews by tool name""#) && home.contains(#"aria-label="Verdict""#))
            }
            let browser = Browser(server)
            _ = try await browser.signIn(server.editor)
            let page = try await browser.send(.get, "/reviews/\(id)").text
            // Eight edit boxes, each named for its persona and tool.
            for persona in ["Builder", "Skeptic", "Founder", "Futurist"] {
                for tool in ["Ollama", "vLLM"] {
                    #expect(
                        page.contains("aria-label=\"Edit \(persona)&#39;s paragraph on \(tool)\"")
                            || page.contains("aria-label=\"Edit \(persona)'s paragraph on \(tool)\""), "\(persona) on \(tool)")
                }
            }
            #expect(count(page, "<textarea") == 8)
        }
    }

    @Test func theLiveViewAnnouncesFinishedPersonasPolitely() async throws {
        try await ServerHarness.with(mock: .latency(.seconds(600))) { server in
            defer { server.mock.stats.beginShutdown() }
            let browser = Browser(server)
            let csrf = try await browser.signIn(server.editor)
            let created = try await browser.send(
                .post, "/reviews", form: [("csrf", csrf), ("listing", "name: Slow\ndescription: Takes a while.\n")])
            let location = try #require(created.headers[.location])
            let live = try await browser.send(.get, location).text
            #expect(live.contains(#"id="live-status" class="visually-hidden" role="status" aria-live="polite""#), "\(live.prefix(600))")
            // The cards' own status lines are not live regions: streaming text is never announced.
            #expect(!live.contains(#"class="status" aria-live"#))
        }
    }

    /// One badge and one label: "Ship" beside "3 ship / 1 skip", not "Ship Ship · 3 ship / 1 skip".
    @Test func aToolsVerdictIsShownOnce() async throws {
        try await ServerHarness.with { server in
            let (id, _) = try await server.review([ServerHarness.ollama])
            let browser = Browser(server)
            _ = try await browser.signIn(server.viewer)
            let page = try await browser.send(.get, "/reviews/\(id)").text
            let start = try #require(page.range(of: #"<span class="share">"#))
            let label = String(page[start.upperBound...].prefix { $0 != "<" })
            #expect(label.wholeMatch(of: /\d+ ship \/ \d+ skip( · \d+ abstained)?/) != nil, "\(label)")
        }
    }
}
