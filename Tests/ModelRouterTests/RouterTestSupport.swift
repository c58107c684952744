import ModelBackends
import Synchronization

@testable import ModelRouter

/// Virtual time: `now` moves only when someone sleeps (by exactly that long) or a test advances it.
final class ManualTime: Sendable {
    private let current = Mutex<Duration>(.zero)
    var now: Duration { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 += duration } }

    var routerTime: RouterTime {
        RouterTime(
            now: { self.now },
            sleep: { duration in
                try Task.checkCancellation()
                self.advance(duration)
                await Task.yield()
            })
    }
}

/// A backend whose behaviour a test scripts.
final class ScriptedRouteBackend: ModelBackend {
    enum Behaviour: Sendable {
        case answer
        case fail(BackendError.Kind, retryAfter: Duration? = nil)
        /// Never answers until cancelled.
        case hang
    }

    let name: String
    let behaviour: Mutex<Behaviour>
    let calls = Mutex(0)
    let cancellations = Mutex(0)

    init(_ name: String, _ behaviour: Behaviour = .answer) {
        self.name = name
        self.behaviour = Mutex(behaviour)
    }

    func set(_ behaviour: Behaviour) { self.behaviour.withLock { $0 = behaviour } }
    var callCount: Int { calls.withLock { $0 } }
    var cancelCount: Int { cancellations.withLock { $0 } }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        calls.withLock { $0 += 1 }
        switch behaviour.withLock({ $0 }) {
        case .answer:
            return ChatResponse(
                text: "answer from \(name)", model: name, backend: name, usage: TokenUsage(inputTokens: 100, outputTokens: 50))
        case .fail(let kind, let retryAfter):
            throw BackendError(kind: kind, backend: name, status: 500, detail: "scripted", retryAfter: retryAfter)
        case .hang:
            let stream = AsyncStream<Void> { _ in }
            await withTaskCancellationHandler {
                for await _ in stream {}
            } onCancel: {
                self.cancellations.withLock { $0 += 1 }
            }
            throw BackendError.cancelled(backend: name)
        }
    }
}

func candidate(
    _ backend: ScriptedRouteBackend, price: (Double, Double)? = (1, 1), quality: Int = 3, family: String? = nil, local: Bool = false,
    latencyMS: Int? = nil, structured: StructuredOutputMode = .auto, maxConcurrency: Int = 8
) -> RouteCandidate {
    RouteCandidate(
        backend: backend,
        configuration: BackendConfiguration(
            name: backend.name, kind: .openai, baseURL: local ? "http://127.0.0.1:1/v1" : "https://example.invalid/v1", model: backend.name,
            price: price.map { Price(inputPerMTok: $0.0, outputPerMTok: $0.1) }, maxConcurrency: maxConcurrency,
            structuredOutput: structured,
            quality: quality, family: family, declaredLocal: local, declaredLatencyMS: latencyMS))
}

let routedRequest = ChatRequest(
    messages: [.system("You are the Builder."), .user(String(repeating: "x", count: 4000))], maxOutputTokens: 500, label: "builder · Acme")
