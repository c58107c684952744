extension AsyncThrowingStream where Element == ChatStreamEvent, Failure == any Error {
    /// A stream whose producer yields text deltas and returns the complete response; the stream then
    /// ends with `.completed`. Cancelling the consumer cancels the producer (and its HTTP request).
    public static func answering(
        _ produce: @escaping @Sendable (_ yield: @escaping @Sendable (String) -> Void) async throws -> ChatResponse
    ) -> Self {
        answeringEvents { yield in try await produce { yield(.delta($0)) } }
    }

    /// As ``answering(_:)``, for a producer that may also say `.restarted` (a decorator that retries or
    /// fails over after text was streamed).
    public static func answeringEvents(
        _ produce: @escaping @Sendable (_ yield: @escaping @Sendable (ChatStreamEvent) -> Void) async throws -> ChatResponse
    ) -> Self {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await produce { continuation.yield($0) }
                    continuation.yield(.completed(response))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
