import Synchronization

/// How long one store step may take before the caller stops waiting for it and treats it as failed.
/// A step is milliseconds of work; a connection cut mid-transaction (a server restarting) can leave a
/// driver waiting for an answer that never comes, and a worker must not wait with it — it retries on a
/// new connection, or gives the listing up to the lease.
public enum StoreDeadline {
    public static let step: Duration = .seconds(10)

    public struct Exceeded: Error, CustomStringConvertible {
        public var description: String { "the store did not answer within \(StoreDeadline.step)" }
    }

    /// Runs `operation`, or throws ``Exceeded`` after `limit` on `clock` (the operation is cancelled and left to end
    /// on its own: an operation that ignores cancellation is not waited for). No limit: just runs it.
    public static func run<T: Sendable>(
        limit: Duration? = step, clock: any EngineClock = EngineExecutor.clock, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let limit else { return try await operation() }
        let outcome = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let work = Mutex<Task<Void, Never>?>(nil)
        let timer = Mutex<EngineTimer?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                outcome.withLock { $0 = continuation }
                let finish: @Sendable (Result<T, any Error>) -> Void = { result in
                    guard
                        let continuation = outcome.withLock({ state -> CheckedContinuation<T, any Error>? in
                            defer { state = nil }
                            return state
                        })
                    else { return }
                    continuation.resume(with: result)
                    work.withLock { $0?.cancel() }
                    timer.withLock { $0?.cancel() }
                }
                work.withLock {
                    $0 = Task(executorPreference: EngineExecutor.preferred) {
                        do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
                    }
                }
                // The clock's own timer (the event loop's, in a worker), not a task of its own.
                let deadline = clock.schedule(after: limit) { finish(.failure(Exceeded())) }
                timer.withLock { $0 = deadline }
                // Answered before its timer was kept: the timer would only fire into nothing later.
                if outcome.withLock({ $0 == nil }) { deadline.cancel() }
            }
        } onCancel: {
            let continuation = outcome.withLock { state -> CheckedContinuation<T, any Error>? in
                defer { state = nil }
                return state
            }
            continuation?.resume(throwing: CancellationError())
            work.withLock { $0?.cancel() }
            timer.withLock { $0?.cancel() }
        }
    }
}
