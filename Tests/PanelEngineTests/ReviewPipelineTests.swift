import Foundation
import ModelBackends
import PanelKit
import Synchronization
import Testing

@testable import PanelEngine

/// A backend answering from a script keyed by persona and call number, for pipeline logic tests.
/// (The real HTTP path is tested against the mock provider.)
struct ScriptedBackend: ModelBackend {
    let name = "scripted"
    let script: @Sendable (_ persona: String, _ tool: String, _ call: Int) throws -> String
    let calls = CallCounter()
    /// When set, every call waits until this many calls have arrived: proof that they run at once.
    let barrier: Barrier?

    init(barrier: Barrier? = nil, script: @escaping @Sendable (String, String, Int) throws -> String) {
        self.script = script
        self.barrier = barrier
    }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let parts = request.label.components(separatedBy: " · ")
        let key = request.label
        let call = calls.next(key)
        if let barrier { await barrier.arrive() }
        let text = try script(parts[0], parts[1], call)
        return ChatResponse(
            text: text, model: "m", backend: name, usage: TokenUsage(inputTokens: 10, outputTokens: 5), costUSD: 0.001,
            latency: .milliseconds(100))
    }
}

/// Counts calls per key.
final class CallCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func next(_ key: String) -> Int {
        counts.withLock { counts in
            counts[key, default: 0] += 1
            return counts[key]!
        }
    }
}

/// Waits until `count` callers have arrived.
actor Barrier {
    let count: Int
    var arrived = 0
    var waiters: [CheckedContinuation<Void, Never>] = []
    init(count: Int) { self.count = count }

    func arrive() async {
        arrived += 1
        if arrived >= count {
            waiters.forEach { $0.resume() }
            waiters.removeAll()
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }
}

struct ReviewPipelineTests {
    let listings = [Listing(name: "Acme", description: "a"), Listing(name: "Globex", description: "g")]

    func json(_ score: Int, _ verdict: String) -> String {
        #"{"rationale": "Because.", "score": \#(score), "verdict": "\#(verdict)"}"#
    }

    @Test func allCallsRunConcurrently() async {
        // Eight calls that each wait for all eight: this finishes only if they are all in flight at once.
        let backend = ScriptedBackend(barrier: Barrier(count: 8)) { _, _, _ in json(70, "ship") }
        let run = await ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend }).run(listings)
        #expect(run.tools.map(\.panel.ship) == [4, 4])
        #expect(run.allAnswered)
    }

    @Test func unreadableAnswerIsRepairedOnce() async {
        let backend = ScriptedBackend { persona, _, call in
            persona == "founder" && call == 1 ? "I like it a lot." : json(64, "ship")
        }
        let run = await ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend }).run([listings[0]])
        let founder = run.tools[0].results[2]
        #expect(founder.persona.id == "founder")
        #expect(founder.review?.score == 64)
        #expect(founder.flags == ["repaired"])
        #expect(founder.attempts == 2)
        #expect(founder.inputTokens == 20 && founder.latencyMS == 200)
        #expect(run.tools[0].results[0].attempts == 1)
    }

    @Test func stillUnreadableAfterRepairAbstainsWithTheReason() async {
        let backend = ScriptedBackend { persona, _, _ in persona == "skeptic" ? "No comment." : json(40, "skip") }
        let run = await ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend }).run([listings[0]])
        let skeptic = run.tools[0].results[1]
        #expect(skeptic.review == nil)
        #expect(skeptic.abstentionReason?.contains("found no score") == true)
        #expect(run.tools[0].panel.abstained == 1)
        #expect(run.tools[0].panel.verdict == .skip)
    }

    @Test func failingBackendSinksOnlyItsPersona() async {
        let backend = ScriptedBackend { persona, tool, _ in
            if persona == "futurist" && tool == "Globex" {
                throw BackendError(kind: .server, backend: "scripted", status: 500, detail: "boom")
            }
            return json(30, "ship")
        }
        let run = await ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend }).run(listings)
        #expect(run.tools[0].panel.abstained == 0)
        #expect(run.tools[1].panel.abstained == 1)
        let failed = run.tools[1].results[3]
        #expect(failed.abstentionReason?.contains("HTTP 500") == true)
        #expect(run.tools[0].results[0].flags == [PersonaResult.contradictionFlag])  // ship at 30
    }

    @Test func documentCarriesNullsNeverInventedValues() async throws {
        let backend = ScriptedBackend { persona, _, _ in
            if persona == "builder" { throw BackendError(kind: .timeout, backend: "scripted", detail: "slow") }
            return json(70, "ship")
        }
        let run = await ReviewPipeline(prompts: .builtIn(), backendFor: { _ in backend }).run([listings[0]])
        let document = ReviewDocument(run: run)
        let text = JSONDocumentRenderer.render(document)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "panel.document/v1")
        #expect(object["kind"] as? String == "review")
        let tool = try #require((object["tools"] as? [[String: Any]])?.first)
        #expect(tool["tagline"] is NSNull)
        #expect(tool["community"] is NSNull)
        let reviews = try #require(tool["reviews"] as? [[String: Any]])
        #expect(reviews.map { $0["persona"] as? String } == ["builder", "skeptic", "founder", "futurist"])
        #expect(reviews[0]["status"] as? String == "abstained")
        #expect(reviews[0]["score"] is NSNull)
        #expect(reviews[0]["input_tokens"] is NSNull)
        #expect(reviews[0]["attempts"] as? Int == 1)  // the call that timed out counts (it showed 0)
        #expect(reviews[1]["status"] as? String == "answered")
        let totals = try #require(object["totals"] as? [String: Any])
        #expect(totals["calls"] as? Int == 4)
        #expect(totals["input_tokens"] as? Int == 30)
        let decoded = try JSONDocumentRenderer.decode(Data(text.utf8), source: "doc.json")
        #expect(decoded == document)
    }
}
