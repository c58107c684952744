/// Lets at most `limit` calls through to the wrapped backend at once; the rest wait their turn in
/// order. A waiting call that is cancelled leaves the queue without taking a slot.
public struct ConcurrencyLimitedBackend: ModelBackend {
    let base: any ModelBackend
    let semaphore: AsyncSemaphore

    public var name: String { base.name }

    public init(_ base: any ModelBackend, limit: Int) {
        self.base = base
        self.semaphore = AsyncSemaphore(limit: max(1, limit))
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await semaphore.acquire()
        defer { semaphore.release() }
        return try await base.complete(request)
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let base = self.base
        let semaphore = self.semaphore
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await semaphore.acquire()
                    defer { semaphore.release() }
                    for try await event in base.stream(request) { continuation.yield(event) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
