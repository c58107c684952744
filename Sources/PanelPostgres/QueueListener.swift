import Logging
import ModelBackends
import PostgresNIO
import Synchronization

/// Wakes idle workers when the queue changes: one connection of its own `LISTEN`s on the queue's
/// channel (opened at the first wait, reopened with backoff when it drops) and counts notifications;
/// a waiter returns when the count moves or its timeout passes, whichever is first.
final class QueueListener: Sendable {
    let state = Mutex<(generation: Int, task: Task<Void, Never>?)>((0, nil))
    let connect: @Sendable () async throws -> PostgresConnection
    let channel: String
    let logger: Logger

    init(channel: String, logger: Logger, connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.channel = channel
        self.logger = logger
        self.connect = connect
    }

    /// How often a waiter looks at the count: the most a notification waits to be seen.
    static let tick: Duration = .milliseconds(20)

    func wait(timeout: Duration) async {
        let start = ContinuousClock.now
        let seen = state.withLock { state -> Int in
            if state.task == nil { state.task = Task { [self] in await listen() } }
            return state.generation
        }
        while ContinuousClock.now - start < timeout, !Task.isCancelled {
            try? await Task.sleep(for: min(Self.tick, timeout - (ContinuousClock.now - start)))
            if state.withLock({ $0.generation }) != seen { return }
        }
    }

    func listen() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await connect()
                failures = 0
                do {
                    try await connection.listen(on: channel) { notifications in
                        // Anything may have changed while no one listened.
                        state.withLock { $0.generation += 1 }
                        for try await _ in notifications { state.withLock { $0.generation += 1 } }
                    }
                } catch {
                    logger.debug("queue listener: \(error)")
                }
                try? await connection.close()
            } catch {
                logger.debug("queue listener cannot connect: \(error)")
            }
            failures += 1
            try? await Task.sleep(for: RetryPolicy.storeOutage.backoff(after: failures))
        }
    }

    func stop() {
        state.withLock { $0.task?.cancel() }
    }
}
