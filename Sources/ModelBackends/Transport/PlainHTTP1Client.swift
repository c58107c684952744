import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A lean HTTP/1.1 client for plain `http://` servers — vLLM, llama.cpp, Ollama, LM Studio and other
/// local or in-cluster model servers, where a batch sends thousands of calls and the client's own CPU
/// matters. `https://` and streamed answers stay on AsyncHTTPClient.
///
/// One request per connection at a time over keep-alive connections; the request's bytes written here
/// (``requestBytes(_:headers:body:)``), the answer read by ``ResponseReader``; the whole exchange
/// (request written, whole answer read) runs on the connection's event loop, so a call costs one hop
/// onto the loop and one back. The call's deadline is a timer on that loop, covering the connect, the
/// request and every byte of the answer.
final class PlainHTTP1Client: Sendable {
    /// Why an exchange failed, before it is given a backend's name.
    enum Failure: Error, Sendable, Equatable {
        case timedOut
        case closedBeforeAnswer
        case tooLarge(limit: Int)
        case invalidResponse(String)
        case cannotConnect(String)
        case busy
        /// A header the request must not carry (its name or value has bytes HTTP forbids); never sent.
        case invalidHeader(name: String)
    }

    struct Exchange: Sendable {
        /// The whole request as it goes on the wire.
        var request: ByteBuffer
        var deadline: NIODeadline
        var promise: EventLoopPromise<Answer>
    }

    /// The answer, and whether the connection can carry another request.
    struct Answer: Sendable {
        var response: HTTPTransport.Response
        var reusable: Bool
    }

    let group: any EventLoopGroup
    let maxBodyBytes: Int
    let connectTimeout: TimeAmount
    let idleTimeout: TimeAmount

    /// A connection as the pool knows it (the pool compares identities).
    final class Pooled: Sendable {
        let channel: any Channel
        init(_ channel: any Channel) { self.channel = channel }
    }

    typealias Lease = ConnectionPoolState<Pooled>.Lease

    /// The pool's state and the calls waiting on it, behind one lock.
    private struct Pool {
        var state: ConnectionPoolState<Pooled>
        var waiters: [UInt64: CheckedContinuation<Lease, any Error>] = [:]
        /// Wake-ups that came before their waiter had registered.
        var early: [UInt64: Lease] = [:]
        var nextWaiter: UInt64 = 0
        var sweepScheduled = false
    }

    private let pool: Mutex<Pool>
    /// Parsed URLs (adapters post to a handful of fixed URLs; parsing each call was a measurable cost).
    private let targets = Mutex<[String: Target?]>([:])

    /// Where a URL points when this client handles it (plain `http://`), else nil.
    func target(_ url: String) -> Target? {
        if let known = targets.withLock({ $0[url] }) { return known }
        let target = Target(url)
        targets.withLock { targets in
            if targets.count >= 256 { targets.removeAll() }
            targets[url] = target
        }
        return target
    }

    /// - Parameters:
    ///   - maxPerServer: connections in use or being opened per `host:port`; calls beyond wait their turn.
    ///   - maxIdlePerServer: idle keep-alive connections kept per server.
    ///   - idleTimeout: how long an idle connection is kept — below common servers' own keep-alive
    ///     timeouts (uvicorn's 5 s), so a connection the server is about to close is not reused.
    init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxBodyBytes: Int = HTTPTransport.maxBodyBytes,
        connectTimeout: TimeAmount = .seconds(10), maxPerServer: Int = 512, maxIdlePerServer: Int = 256,
        idleTimeout: TimeAmount = .seconds(4)
    ) {
        self.group = group
        self.maxBodyBytes = maxBodyBytes
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.pool = Mutex(
            Pool(
                state: ConnectionPoolState(
                    maxPerServer: maxPerServer, maxIdlePerServer: maxIdlePerServer, idleTimeout: UInt64(max(0, idleTimeout.nanoseconds)))))
    }

    /// POSTs `body` and reads the whole answer before `timeout` has passed. A parked connection that
    /// turns out closed before the request was written is replaced by a new one, once, transparently
    /// (nothing reached the server, so the POST is not repeated).
    func post(
        _ target: Target, headers: [(String, String)], body: Data, backend: String, timeout: Duration
    ) async throws -> HTTPTransport.Response {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let request: ByteBuffer
        do {
            request = try Self.requestBytes(target, headers: headers, body: body)
        } catch {
            throw Self.describe(error, backend: backend, timeout: timeout)
        }
        var fresh = false
        while true {
            var leased: (connection: Pooled, reused: Bool)?
            do {
                let connection = try await lease(target, deadline: deadline, fresh: fresh)
                leased = connection
                let channel = connection.connection.channel
                let exchange = Exchange(request: request, deadline: deadline, promise: channel.eventLoop.makePromise())
                let answer = try await withTaskCancellationHandler {
                    // A connection that closed before the request reached the handler fails the write.
                    let written = channel.eventLoop.makePromise(of: Void.self)
                    written.futureResult.whenFailure { exchange.promise.fail($0) }
                    channel.writeAndFlush(exchange, promise: written)
                    return try await exchange.promise.futureResult.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
                if !answer.reusable { channel.close(promise: nil) }
                release(target.key, connection.connection, reusable: answer.reusable)
                return answer.response
            } catch {
                if let leased {
                    leased.connection.channel.close(promise: nil)
                    release(target.key, nil, reusable: false)
                }
                if Task.isCancelled { throw BackendError.cancelled(backend: backend) }
                if let leased, leased.reused, !fresh, Self.neverSent(error) {
                    fresh = true
                    continue
                }
                throw Self.describe(error, backend: backend, timeout: timeout)
            }
        }
    }

    /// True when the request cannot have reached the server: the connection was closed before it was
    /// written, or — on a parked connection — the server had closed its end, so the request bytes met a
    /// reset (ECONNRESET, EPIPE) instead of a reader. That is the idle-close race: the server closed the
    /// keep-alive connection just as it was leased, and never read the request.
    static func neverSent(_ error: any Error) -> Bool {
        switch error {
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed: return true
        case let error as IOError: return error.errnoCode == ECONNRESET || error.errnoCode == EPIPE
        default: return false
        }
    }

    static func describe(_ error: any Error, backend: String, timeout: Duration) -> any Error {
        switch error {
        case Failure.timedOut:
            return BackendError.timeout(backend: backend, after: timeout)
        case Failure.closedBeforeAnswer:
            return BackendError.connection(backend: backend, detail: "the server closed the connection before the answer was complete")
        case Failure.tooLarge(let limit):
            let size = limit >= 1 << 20 ? "\(limit >> 20) MiB" : "\(limit) bytes"
            var error = BackendError(kind: .invalidResponse, backend: backend, detail: "the answer is larger than \(size); it was not read")
            error.permanent = true
            return error
        case Failure.invalidHeader(let name):
            // The value is not repeated: it may be a key.
            var error = BackendError(
                kind: .badRequest, backend: backend,
                detail: "the request header '\(name)' has a line break or another character HTTP forbids in its name or value; "
                    + "nothing was sent — check the headers the configuration sets")
            error.permanent = true
            return error
        case Failure.invalidResponse(let detail):
            return BackendError(kind: .invalidResponse, backend: backend, detail: "not a valid HTTP/1.1 answer (\(detail))")
        case Failure.cannotConnect(let detail):
            return BackendError.unreachable(backend: backend, detail: "cannot connect (\(detail))")
        case ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed, ChannelError.eof:
            return BackendError.connection(backend: backend, detail: "the connection closed before the request was sent")
        case is ChannelError, is IOError:
            return BackendError.connection(backend: backend, detail: "the connection failed (\(error))")
        default:
            return classify(error, backend: backend)
        }
    }

    /// A connection to the server for one call: an idle keep-alive one (unless `fresh`), or a new one;
    /// waits its turn when the server is at its connection limit. The caller must ``release(_:_:reusable:)``
    /// it (or, when the connect fails, nothing: the slot is given back here).
    private func lease(_ target: Target, deadline: NIODeadline, fresh: Bool) async throws -> (connection: Pooled, reused: Bool) {
        let key = target.key
        var waiter: UInt64 = 0
        let (first, close) = pool.withLock { pool in
            pool.nextWaiter += 1
            waiter = pool.nextWaiter
            return pool.state.checkOut(key, waiter: waiter, now: Self.now(), fresh: fresh)
        }
        for connection in close { connection.channel.close(promise: nil) }
        var lease = first
        if case .wait = lease { lease = try await waitForTurn(key, waiter: waiter, deadline: deadline) }
        switch lease {
        case .reuse(let connection) where connection.channel.isActive:
            return (connection, true)
        case .reuse(let connection):
            // The server closed it while it was parked: open another in its place (same slot).
            connection.channel.close(promise: nil)
            return (try await connect(target, deadline: deadline), false)
        case .connect, .wait:
            return (try await connect(target, deadline: deadline), false)
        }
    }

    /// Opens a connection in a slot already held; gives the slot back when that fails.
    private func connect(_ target: Target, deadline: NIODeadline) async throws -> Pooled {
        let remaining = deadline - .now()
        guard remaining > .zero else {
            release(target.key, nil, reusable: false)
            throw Failure.timedOut
        }
        let maxBodyBytes = maxBodyBytes
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(min(remaining, connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler(maxBodyBytes: maxBodyBytes))
                }
            }
        do {
            // An IP address is connected to directly; a name goes through NIO's resolver and Happy Eyeballs
            // (a resolver query on another thread and timers, per connect).
            let channel =
                if let address = target.address {
                    try await bootstrap.connect(to: address).get()
                } else {
                    try await bootstrap.connect(host: target.host, port: target.port).get()
                }
            return Pooled(channel)
        } catch ChannelError.connectTimeout where deadline <= .now() {
            release(target.key, nil, reusable: false)
            throw Failure.timedOut
        } catch {
            release(target.key, nil, reusable: false)
            if Task.isCancelled { throw CancellationError() }
            throw Failure.cannotConnect(String(describing: error))
        }
    }

    /// Waits until another call hands over a connection or a slot, the deadline passes or the task is
    /// cancelled.
    private func waitForTurn(_ key: String, waiter: UInt64, deadline: NIODeadline) async throws -> Lease {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, any Error>) in
                let early = pool.withLock { pool -> Lease? in
                    if let lease = pool.early.removeValue(forKey: waiter) { return lease }
                    pool.waiters[waiter] = continuation
                    return nil
                }
                if let early {
                    continuation.resume(returning: early)
                    return
                }
                group.any().scheduleTask(deadline: deadline) { self.abandonWait(key, waiter: waiter, error: Failure.timedOut) }
            }
        } onCancel: {
            abandonWait(key, waiter: waiter, error: CancellationError())
        }
    }

    private func abandonWait(_ key: String, waiter: UInt64, error: any Error) {
        let continuation = pool.withLock { pool -> CheckedContinuation<Lease, any Error>? in
            guard pool.state.cancelWait(key, waiter: waiter) else { return nil }
            guard let continuation = pool.waiters.removeValue(forKey: waiter) else {
                pool.early[waiter] = nil
                return nil
            }
            return continuation
        }
        continuation?.resume(throwing: error)
    }

    /// A call is done with its connection (nil: it has none left to give).
    private func release(_ key: String, _ connection: Pooled?, reusable: Bool) {
        let (wake, close, sweep) = pool.withLock {
            pool -> ((continuation: CheckedContinuation<Lease, any Error>, lease: Lease)?, [Pooled], Bool) in
            let (woken, close) = pool.state.checkIn(key, connection, reusable: reusable, now: Self.now())
            var wake: (continuation: CheckedContinuation<Lease, any Error>, lease: Lease)?
            if let (waiter, lease) = woken {
                if let continuation = pool.waiters.removeValue(forKey: waiter) {
                    wake = (continuation, lease)
                } else {
                    pool.early[waiter] = lease
                }
            }
            let sweep = !pool.sweepScheduled && pool.state.hasIdle
            if sweep { pool.sweepScheduled = true }
            return (wake, close, sweep)
        }
        for connection in close { connection.channel.close(promise: nil) }
        if let wake { wake.continuation.resume(returning: wake.lease) }
        if sweep { scheduleSweep() }
    }

    /// Closes connections idle past the idle timeout, every half of it while any are parked.
    private func scheduleSweep() {
        group.any().scheduleTask(in: .nanoseconds(max(idleTimeout.nanoseconds / 2, 1_000_000))) {
            var again = false
            let expired = self.pool.withLock { pool -> [Pooled] in
                let expired = pool.state.sweep(now: Self.now())
                again = pool.state.hasIdle
                pool.sweepScheduled = again
                return expired
            }
            for connection in expired { connection.channel.close(promise: nil) }
            if again { self.scheduleSweep() }
        }
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// Closes every idle connection.
    func shutdownIdle() {
        let channels = pool.withLock { pool in
            defer { _ = pool.state.sweep(now: UInt64.max) }
            return pool.state.idle.values.flatMap { $0.map(\.connection.channel) }
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
