import Foundation
import MockProvider
import Testing

@testable import ModelBackends

@Suite(.timeLimit(.minutes(5)))
struct RecordingTests {
    @Test func recordThenReplayRoundTripWithoutSecrets() async throws {
        let key = "sk-test-SECRET-9f8e7d6c5b4a"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-rec-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = MockProviderConfiguration()
        configuration.requiredKey = key
        let request = ChatRequest(
            messages: [.system("You are the Skeptic."), .user("Name: Acme")], temperature: 0.2, label: "skeptic · Acme")
        // A key that found its way into a prompt (and so into the answer) is redacted too.
        let leaky = ChatRequest(messages: [.system("You are the Skeptic."), .user("Name: Acme \(key)")], label: "skeptic · leak")
        let live = try await MockProvider.withServer(configuration) { handle in
            let backend = OpenAICompatibleBackend(.init(name: "mock", baseURL: handle.baseURL, model: "m", apiKey: key))
            let recorder = RecordingBackend(backend, store: RecordingStore(directory: directory, redactor: Redactor(secrets: [key])))
            _ = try await recorder.complete(leaky)
            return try await recorder.complete(request)
        }
        let replay = try ReplayBackend(store: RecordingStore(directory: directory))
        let replayed = try await replay.complete(request)
        #expect(replayed.text == live.text)
        #expect(replayed.model == live.model)
        #expect(replayed.usage == live.usage)
        #expect(replayed.replayed)
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains(key))
            #expect(!text.lowercased().contains("authorization"))
        }
    }

    @Test func missingRecordingNamesWhoAsked() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let replay = try ReplayBackend(store: RecordingStore(directory: directory))
        let error = try await #require(throws: BackendError.self) {
            try await replay.complete(ChatRequest(messages: [.user("hi")], label: "founder · Mistral 3 Small"))
        }
        #expect(error.kind == .notRecorded)
        #expect(error.description.contains("founder · Mistral 3 Small"))
    }

    @Test func damagedRecordingIsReportedWithItsPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("{".utf8).write(to: directory.appendingPathComponent("broken.json"))
        let error = try #require(throws: RecordingError.self) { try ReplayBackend(store: RecordingStore(directory: directory)) }
        #expect(error.description.contains("broken.json"))
    }
}
