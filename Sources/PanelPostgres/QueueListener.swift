import Logging
import ModelBackends
import PanelEngine
import PostgresNIO
import Synchronization

/// Wakes idle workers when the queue changes: one connection of its own `LISTEN`s on the queue's
/// channel (opened at the first wait, reopened with backoff when it drops) and counts notifications;
/// a waiter returns when the count moves or its timeout passes, whichever is first.
final class QueueListener: Sendable {
    let task = Mutex<Task<Void, Never>?>(nil)
    /// Bumped for each notification, keyed by its payload (a job, a review).
    let signal = ChangeSignal()
    let connect: @Sendable () async throws -> PostgresConnection
    let channel: String
    let logger: Logger

    /// Where the reconnection backoff's time comes from.
    let clock: any EngineClock

    init(
        channel: String, logger: Logger, clock: any EngineClock = EngineExecutor.clock,
        connect: @escaping @Sendable () async throws -> PostgresConnection
    ) {
        self.clock = clock
        self.channel = channel
        self.logger = logger
        self.connect = connect
    }

    /// Returns after a notification (of `key`'s payload, or any) or `timeout`, whichever is first.
    func wait(for key: String? = nil, timeout: Duration) async {
        task.withLock { task in
            if task == nil { task = Task { [self] in await listen() } }
        }
        await signal.wait(for: key, timeout: timeout, clock: clock)
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
                        signal.bumpAll()
                        for try await notification in notifications { signal.bump(notification.payload) }
                    }
                } catch {
                    logger.debug("queue listener: \(error)")
                }
                try? await connection.close()
            } catch {
                logger.debug("queue listener cannot connect: \(error)")
            }
            failures += 1
            await clock.pause(for: RetryPolicy.storeOutage.backoff(after: failures))
        }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}
