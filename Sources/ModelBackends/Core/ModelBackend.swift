/// A piece of an answer arriving from a streaming backend.
public enum ChatStreamEvent: Sendable, Hashable {
    /// More answer text.
    case delta(String)
    /// The text streamed so far is abandoned — its attempt failed and was retried, another backend
    /// took over, or a hedge won — and what follows replaces it: a view drops the partial text.
    case restarted
    /// The answer is complete; the response carries the whole text.
    case completed(ChatResponse)
}

/// The one seam between the panel and the models: anything that can answer a chat request.
///
/// Provider adapters, recorded-answer replay and every decorator around them (concurrency limits,
/// recording, retries, caching, routing) conform, so a configuration is a composition of backends.
/// The pipeline never knows which provider answered; the response says so.
public protocol ModelBackend: Sendable {
    /// The configured name, used in documents, logs and errors.
    var name: String { get }

    /// Answers a request. Throws ``BackendError`` for anything a caller can act on.
    func complete(_ request: ChatRequest) async throws -> ChatResponse

    /// Answers a request as a stream of text deltas ending with the complete response.
    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error>
}

extension ModelBackend {
    /// A backend that cannot stream answers in one piece.
    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        .answering { yield in
            let response = try await complete(request)
            yield(response.text)
            return response
        }
    }

    /// Sends the request the way it asks (streamed or not) and returns the complete response,
    /// calling `onDelta` with each piece of text as it arrives and `onRestart` when the text so far is
    /// abandoned (the next pieces replace it).
    public func respond(
        to request: ChatRequest,
        onDelta: @Sendable (String) -> Void = { _ in },
        onRestart: @Sendable () -> Void = {}
    ) async throws -> ChatResponse {
        guard request.stream else { return try await complete(request) }
        for try await event in stream(request) {
            switch event {
            case .delta(let text): onDelta(text)
            case .restarted: onRestart()
            case .completed(let response): return response
            }
        }
        throw BackendError.invalidResponse(backend: name, status: nil, detail: "the stream ended without a final answer")
    }
}
