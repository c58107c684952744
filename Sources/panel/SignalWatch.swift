import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Delivers SIGINT and SIGTERM to Swift code: the C handler writes the signal's number to a pipe (the
/// one async-signal-safe thing it does) and a thread of its own reads the pipe and calls the handlers.
/// libdispatch's signal sources were used before; their signal thread calls `sigsuspend` on a constant
/// mask, which valgrind cannot run, so callgrind could not count a batch's instructions
/// (`bench/instructions.sh`, CI's guard).
final class SignalWatch: Sendable {
    let id: Int
    let signals: [Int32]

    /// Calls `handler` each time one of `signals` arrives, until ``cancel()``; the signals' default
    /// action is restored when the last watch of a signal is cancelled.
    init(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        id = Self.state.withLock { state in
            defer { state.nextID += 1 }
            state.handlers[state.nextID] = (signals, handler)
            return state.nextID
        }
        Self.start()
        for number in signals { signal(number, signalWatchHandler) }
    }

    func cancel() {
        let watched = Self.state.withLock { state -> Set<Int32> in
            state.handlers[id] = nil
            return Set(state.handlers.values.flatMap(\.signals))
        }
        for number in signals where !watched.contains(number) { signal(number, SIG_DFL) }
    }

    struct State {
        var nextID = 0
        var handlers: [Int: (signals: [Int32], handler: @Sendable (Int32) -> Void)] = [:]
        var started = false
    }

    static let state = Mutex(State())

    /// Makes the pipe and the reading thread, once per process.
    static func start() {
        let start = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard start else { return }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        signalWatchPipe.store(fds[1], ordering: .relaxed)
        let readEnd = fds[0]
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                guard count == 1 else { return }
                let number = Int32(byte)
                let handlers = state.withLock { $0.handlers.values.filter { $0.signals.contains(number) }.map(\.handler) }
                for handler in handlers { handler(number) }
            }
        }
        thread.name = "panel signals"
        thread.start()
    }
}

/// The pipe's write end, for the C handler.
let signalWatchPipe = Atomic<Int32>(-1)

/// The C signal handler: writes the signal's number to the pipe and nothing else.
private func signalWatchHandler(_ number: Int32) {
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalWatchPipe.load(ordering: .relaxed), &byte, 1)
}
