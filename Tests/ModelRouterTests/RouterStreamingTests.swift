import ModelBackends
import Synchronization
import Testing

@testable import ModelRouter

/// A backend that streams its answer in pieces, then answers — or fails after the pieces it streamed.
final class StreamingScriptedBackend: ModelBackend {
    let name: String
    let pieces: [String]
    let failAfterPieces: Bool
    /// Holds the answer (after the pieces) until released: a slow primary a hedge can beat.
    let gate: AsyncStream<Void>?
    /// Called once its pieces are out.
    let onStreamed: @Sendable () -> Void
    let calls = Mutex(0)

    init(
        _ name: String, pieces: [String], failAfterPieces: Bool = false, gate: AsyncStream<Void>? = nil,
        onStreamed: @escaping @Sendable () -> Void = {}
    ) {
        self.name = name
        self.pieces = pieces
        self.failAfterPieces = failAfterPieces
        self.gate = gate
        self.onStreamed = onStreamed
    }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        var text = ""
        for try await event in stream(request) {
            if case .delta(let piece) = event { text += piece }
            if case .completed(let response) = event { return response }
        }
        return ChatResponse(text: text, model: name, backend: name)
    }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        calls.withLock { $0 += 1 }
        let (name, pieces, fail, gate, onStreamed) = (name, pieces, failAfterPieces, gate, onStreamed)
        return .answering { yield in
            for piece in pieces { yield(piece) }
            onStreamed()
            if let gate {
                for await _ in gate { break }
                try Task.checkCancellation()
            }
            if fail { throw BackendError(kind: .server, backend: name, status: 500, detail: "scripted mid-stream failure") }
            return ChatResponse(
                text: pieces.joined(), model: name, backend: name, usage: TokenUsage(inputTokens: 10, outputTokens: 10))
        }
    }
}

/// Collects a stream's events as a readable script: "a", "b", "↺", "✓ text".
func script(_ stream: AsyncThrowingStream<ChatStreamEvent, any Error>) async throws -> [String] {
    var events: [String] = []
    for try await event in stream {
        switch event {
        case .delta(let text): events.append(text)
        case .restarted: events.append("↺")
        case .completed(let response): events.append("✓ \(response.text) (\(response.backend))")
        }
    }
    return events
}

/// A routed persona streams: the seam's requirement is kept by the router, and a failover or a hedge
/// that wins replaces the text shown with `.restarted`.
struct RouterStreamingTests {
    var request: ChatRequest {
        var request = routedRequest
        request.stream = true
        return request
    }

    func candidate(_ backend: StreamingScriptedBackend, price: Double = 1, latencyMS: Int? = nil) -> RouteCandidate {
        RouteCandidate(
            backend: backend,
            configuration: BackendConfiguration(
                name: backend.name, kind: .openai, baseURL: "https://example.invalid/v1", model: backend.name,
                price: Price(inputPerMTok: price, outputPerMTok: price), declaredLatencyMS: latencyMS))
    }

    @Test func aRoutedAnswerStreamsPieceByPiece() async throws {
        let a = StreamingScriptedBackend("a", pieces: ["one ", "two ", "three"])
        let router = ModelRouter(candidates: [candidate(a)], constraints: RoutingConstraints(), time: ManualTime().routerTime)
        #expect(try await script(router.stream(request)) == ["one ", "two ", "three", "✓ one two three (a)"])
    }

    @Test func aFailoverAfterStreamedTextRestartsTheText() async throws {
        let a = StreamingScriptedBackend("a", pieces: ["half an ", "answer"], failAfterPieces: true)
        let b = StreamingScriptedBackend("b", pieces: ["the whole ", "answer"])
        let router = ModelRouter(
            candidates: [candidate(a, price: 1), candidate(b, price: 2)],
            constraints: RoutingConstraints(objective: .cheapest, explorationShare: 0), time: ManualTime().routerTime)
        let events = try await script(router.stream(request))
        #expect(events == ["half an ", "answer", "↺", "the whole ", "answer", "✓ the whole answer (b)"])
    }

    @Test func aHedgeThatWinsReplacesTheSlowCallsText() async throws {
        let (gate, _) = AsyncStream.makeStream(of: Void.self)  // never opened: the primary never answers
        // The hedge is due once the slow call has streamed its first text (time that moves when told).
        let (streamed, signal) = AsyncStream.makeStream(of: Void.self)
        let slow = StreamingScriptedBackend("slow", pieces: ["slow start"], gate: gate, onStreamed: { signal.yield() })
        let fast = StreamingScriptedBackend("fast", pieces: ["fast answer"])
        let time = RouterTime(
            now: { .zero },
            sleep: { _ in
                for await _ in streamed { return }
            })
        let router = ModelRouter(
            candidates: [candidate(slow, price: 1), candidate(fast, price: 2)],
            constraints: RoutingConstraints(
                objective: .cheapest, hedge: .init(trigger: .after(.milliseconds(100)), maxExtraShare: 1), explorationShare: 0),
            time: time)
        let events = try await script(router.stream(request))
        #expect(events == ["slow start", "↺", "fast answer", "✓ fast answer (fast)"])
    }
}
