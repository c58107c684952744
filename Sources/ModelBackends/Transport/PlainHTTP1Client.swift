import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A lean HTTP/1.1 client for plain `http://` servers — vLLM, llama.cpp, Ollama, LM Studio and other
/// local or in-cluster model servers, where a batch sends thousands of calls and the client's own CPU
/// matters. `https://` and streamed answers stay on AsyncHTTPClient.
///
/// One request per connection at a time over keep-alive connections; NIO's HTTP/1.1 codec; the whole
/// exchange (request written, whole answer read) runs on the connection's event loop, so a call costs
/// one hop onto the loop and one back. The call's deadline is a timer on that loop, covering the
/// connect, the request and every byte of the answer.
final class PlainHTTP1Client: Sendable {
    /// Where a plain-HTTP URL points.
    struct Target: Sendable, Hashable {
        var host: String
        var port: Int
        /// Path and query, as sent in the request line.
        var path: String
        /// The `Host` header.
        var authority: String

        /// `http://host[:port][/path][?query]`; nil for anything else (https, user info, fragments),
        /// which AsyncHTTPClient handles.
        init?(_ url: String) {
            let scheme = "http://"
            guard url.utf8.count > scheme.utf8.count, url.prefix(scheme.count).lowercased() == scheme else { return nil }
            let rest = url.dropFirst(scheme.count)
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            var path = String(rest[authorityEnd...])
            guard !authority.isEmpty, !authority.contains("@"), !path.contains("#") else { return nil }
            if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
            let host: Substring
            let portText: Substring?
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                host = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                guard after.isEmpty || after.hasPrefix(":") else { return nil }
                portText = after.isEmpty ? nil : after.dropFirst()
            } else if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
                portText = nil
            }
            var port = 80
            if let portText {
                guard let value = Int(portText), (1...65535).contains(value) else { return nil }
                port = value
            }
            guard !host.isEmpty else { return nil }
            self.host = String(host)
            self.port = port
            self.path = path
            self.authority = String(authority)
        }

        var key: String { "\(host):\(port)" }
    }

    /// Why an exchange failed, before it is given a backend's name.
    enum Failure: Error, Sendable, Equatable {
        case timedOut
        case closedBeforeAnswer
        case tooLarge(limit: Int)
        case invalidResponse(String)
        case cannotConnect(String)
        case busy
    }

    private struct Exchange: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
        var deadline: NIODeadline
        var promise: EventLoopPromise<Answer>
    }

    /// The answer, and whether the connection can carry another request.
    private struct Answer: Sendable {
        var response: HTTPTransport.Response
        var reusable: Bool
    }

    let group: any EventLoopGroup
    let maxBodyBytes: Int
    let connectTimeout: TimeAmount
    /// Idle keep-alive connections per `host:port`, most recently used last.
    private let idle = Mutex<[String: [any Channel]]>([:])
    /// The most idle connections kept per server.
    let maxIdlePerServer = 256
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

    init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxBodyBytes: Int = HTTPTransport.maxBodyBytes,
        connectTimeout: TimeAmount = .seconds(10)
    ) {
        self.group = group
        self.maxBodyBytes = maxBodyBytes
        self.connectTimeout = connectTimeout
    }

    /// POSTs `body` and reads the whole answer before `timeout` has passed.
    func post(
        _ target: Target, headers: [(String, String)], body: Data, backend: String, timeout: Duration
    ) async throws -> HTTPTransport.Response {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        do {
            let channel = try await connection(to: target, deadline: deadline)
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target.path)
            head.headers.reserveCapacity(headers.count + 4)
            head.headers.add(name: "host", value: target.authority)
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "user-agent", value: "panel/1")
            head.headers.add(name: "content-length", value: String(body.count))
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            let exchange = Exchange(head: head, body: ByteBuffer(bytes: body), deadline: deadline, promise: channel.eventLoop.makePromise())
            let answer = try await withTaskCancellationHandler {
                // A connection that closed before the request reached the handler fails the write.
                let written = channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { exchange.promise.fail($0) }
                channel.writeAndFlush(exchange, promise: written)
                return try await exchange.promise.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            if answer.reusable { checkIn(channel, key: target.key) } else { channel.close(promise: nil) }
            return answer.response
        } catch {
            if Task.isCancelled { throw BackendError.cancelled(backend: backend) }
            throw Self.describe(error, backend: backend, timeout: timeout)
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
            return BackendError(kind: .invalidResponse, backend: backend, detail: "the answer is larger than \(size); it was not read")
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

    /// An idle keep-alive connection to the server, or a new one.
    private func connection(to target: Target, deadline: NIODeadline) async throws -> any Channel {
        let key = target.key
        while let channel = idle.withLock({ $0[key]?.popLast() }) {
            if channel.isActive { return channel }
        }
        let remaining = deadline - .now()
        guard remaining > .zero else { throw Failure.timedOut }
        let maxBodyBytes = maxBodyBytes
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(min(remaining, connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler(maxBodyBytes: maxBodyBytes))
                }
            }
        do {
            return try await bootstrap.connect(host: target.host, port: target.port).get()
        } catch ChannelError.connectTimeout where deadline <= .now() {
            throw Failure.timedOut
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw Failure.cannotConnect(String(describing: error))
        }
    }

    private func checkIn(_ channel: any Channel, key: String) {
        let surplus: (any Channel)? = idle.withLock { idle in
            var list = idle[key, default: []]
            list.removeAll { !$0.isActive }
            list.append(channel)
            let surplus = list.count > maxIdlePerServer ? list.removeFirst() : nil
            idle[key] = list
            return surplus
        }
        surplus?.close(promise: nil)
    }

    /// Closes every idle connection.
    func shutdownIdle() {
        let channels = idle.withLock { idle in
            defer { idle.removeAll() }
            return idle.values.flatMap { $0 }
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// One exchange at a time: writes the request, collects the answer, fails the call when the
    /// connection closes early, the answer is too large or the deadline passes.
    private final class ExchangeHandler: ChannelDuplexHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundIn = Exchange
        typealias OutboundOut = HTTPClientRequestPart

        let maxBodyBytes: Int
        var current: Exchange?
        var timer: Scheduled<Void>?
        var head: HTTPResponseHead?
        var body: ByteBuffer?

        init(maxBodyBytes: Int) {
            self.maxBodyBytes = maxBodyBytes
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let exchange = unwrapOutboundIn(data)
            guard current == nil, context.channel.isActive else {
                // Never sent: the connection closed first (or, a bug, already carries an exchange).
                let failure: any Error = current == nil ? ChannelError.ioOnClosedChannel : Failure.busy
                exchange.promise.fail(failure)
                promise?.fail(failure)
                return
            }
            current = exchange
            head = nil
            body = nil
            let loop = context.eventLoop.assumeIsolated()
            timer = loop.scheduleTask(deadline: exchange.deadline) { [weak self, context] in
                self?.fail(Failure.timedOut, context: context)
            }
            context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: promise)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard current != nil else { return }
            switch unwrapInboundIn(data) {
            case .head(let received):
                head = received
            case .body(var chunk):
                if (body?.readableBytes ?? 0) + chunk.readableBytes > maxBodyBytes {
                    fail(Failure.tooLarge(limit: maxBodyBytes), context: context)
                    return
                }
                if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            case .end:
                guard let head else { return }
                // An informational answer (100 Continue, 103 Early Hints) comes before the real one.
                if head.status.code < 200 {
                    self.head = nil
                    return
                }
                guard let exchange = current else { return }
                current = nil
                timer?.cancel()
                timer = nil
                let keepAlive = head.isKeepAlive
                let bytes = body.map { Data($0.readableBytesView) } ?? Data()
                self.head = nil
                body = nil
                let response = HTTPTransport.Response(
                    status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) }, body: bytes)
                exchange.promise.succeed(Answer(response: response, reusable: keepAlive))
                if !keepAlive { context.close(promise: nil) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(Failure.closedBeforeAnswer, context: context)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            switch error {
            // A body cut short shows up as a parser error at end of file.
            case HTTPParserError.invalidEOFState: fail(Failure.closedBeforeAnswer, context: context)
            case is HTTPParserError: fail(Failure.invalidResponse("\(error)"), context: context)
            default: fail(error, context: context)
            }
            context.close(promise: nil)
        }

        private func fail(_ error: any Error, context: ChannelHandlerContext) {
            timer?.cancel()
            timer = nil
            guard let exchange = current else { return }
            current = nil
            head = nil
            body = nil
            exchange.promise.fail(error)
            context.close(promise: nil)
        }
    }
}
