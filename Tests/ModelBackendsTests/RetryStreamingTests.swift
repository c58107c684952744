import Synchronization
import Testing

@testable import ModelBackends

/// Streams "partial " and fails (retryable) on its first call; streams the whole answer on the next.
final class FailsMidStreamOnce: ModelBackend {
    let name = "mid"
    let calls = Mutex(0)

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        ChatResponse(text: "whole answer", model: "m", backend: name)
    }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let first = calls.withLock { calls -> Bool in
            calls += 1
            return calls == 1
        }
        let name = name
        return .answering { yield in
            if first {
                yield("partial ")
                throw BackendError(kind: .server, backend: name, status: 502, detail: "dropped mid-stream")
            }
            yield("whole ")
            yield("answer")
            return ChatResponse(text: "whole answer", model: "m", backend: name)
        }
    }
}

/// A retry after streamed text says so, so a view shows the retry's answer rather than both.
struct RetryStreamingTests {
    @Test func aRetryAfterStreamedTextRestartsIt() async throws {
        let backend = RetryingBackend(FailsMidStreamOnce(), policy: RetryPolicy(), clock: TestClock(), random: { 0 })
        var request = ChatRequest(messages: [.user("q")])
        request.stream = true
        var events: [String] = []
        for try await event in backend.stream(request) {
            switch event {
            case .delta(let text): events.append(text)
            case .restarted: events.append("↺")
            case .completed(let response): events.append("✓ \(response.text) ×\(response.attempts)")
            }
        }
        #expect(events == ["partial ", "↺", "whole ", "answer", "✓ whole answer ×2"])
        let pieces = Mutex([String]())
        let response = try await RetryingBackend(FailsMidStreamOnce(), clock: TestClock(), random: { 0 }).respond(
            to: request, onDelta: { text in pieces.withLock { $0.append(text) } }, onRestart: { pieces.withLock { $0.removeAll() } })
        #expect(pieces.withLock { $0.joined() } == response.text)
    }
}
