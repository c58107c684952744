import Foundation
import ModelBackends
import ModelRouter
import PanelKit
import Testing

@testable import PanelEngine

/// What a queued job records for its workers, and how a worker combines it with its own configuration.
struct JobSettingsTests {
    static let enqueuing = """
        backends:
          - {name: fast, kind: openai, base_url: "https://api.example.com/v1", model: small, api_key_env: ENQUEUER_KEY}
          - {name: deep, kind: anthropic, model: big, api_key_env: ENQUEUER_ANTHROPIC}
        panel:
          backend: fast
          quorum: 3
          personas:
            skeptic: {backend: deep}
        router:
          objective: cheapest
        """

    static let worker = """
        backends:
          - {name: fast, kind: openai, base_url: "http://10.0.0.5:8000/v1", model: small-local}
          - {name: deep, kind: openai, base_url: "http://10.0.0.6:8000/v1", model: big-local, max_concurrency: 2}
        panel:
          backend: deep
        """

    @Test func settingsTravelWithoutBackendsOrKeys() throws {
        let configuration = try PanelConfiguration.parse(Self.enqueuing, source: "enqueuer.yaml")
        var review = ReviewSettings(quorum: 3)
        review.temperature = 0.7
        let settings = JobSettings(settings: review, formats: [.markdown, .json], retryFailed: true, configuration: configuration)
        let stored = settings.json()
        #expect(!stored.contains("ENQUEUER_KEY") && !stored.contains("api.example.com") && !stored.contains("backends"))
        let back = try JobSettings.decode(stored, job: "j")
        #expect(back == settings)
        #expect(back.documentFormats == [.markdown, .json] && back.retryFailed)
        let reviewed = try back.reviewSettings(job: "j")
        #expect(reviewed.prompts.hashes == review.prompts.hashes && reviewed.templates.hashes == review.templates.hashes)
        #expect(reviewed.temperature == 0.7 && reviewed.quorum == 3)
        // The worker's backends with the job's panel and router sections.
        let merged = try back.configuration(
            merging: try PanelConfiguration.parse(Self.worker, source: "worker.yaml"), job: "j")
        #expect(merged.backends.map(\.model) == ["small-local", "big-local"] && merged.backends[1].maxConcurrency == 2)
        #expect(merged.defaultBackend == "fast" && merged.backendName(for: "skeptic") == "deep" && merged.quorum == 3)
        #expect(merged.router.objective == .cheapest)
        #expect(merged.source.contains("worker.yaml") && merged.source.contains("job 'j'"))
    }

    @Test func aJobNamingABackendTheWorkerLacksIsRefusedWithTheJobsName() throws {
        let configuration = try PanelConfiguration.parse(Self.enqueuing, source: "enqueuer.yaml")
        let settings = JobSettings(settings: ReviewSettings(), formats: [.markdown], retryFailed: false, configuration: configuration)
        let lonely = try PanelConfiguration.parse(
            "backends:\n  - {name: fast, kind: openai, base_url: \"http://10.0.0.5:8000/v1\", model: m}\n", source: "worker.yaml")
        do {
            _ = try settings.configuration(merging: lonely, job: "nightly")
            Issue.record("a persona's backend the worker lacks was accepted")
        } catch {
            #expect(error.description.contains("job 'nightly'") && error.description.contains("deep"), "\(error)")
        }
        #expect(throws: EngineError.self) { try JobSettings.decode("{not json", job: "nightly") }
    }
}
