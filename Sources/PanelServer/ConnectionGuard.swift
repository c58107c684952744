import Foundation
import HTTPTypes
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTPTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 network, `10.0.0.0/8` or `::1/128` (a bare address is the one host), for
/// `panel serve --trusted-proxy`.
public struct NetworkPrefix: Sendable, Hashable, CustomStringConvertible {
    let bytes: [UInt8]
    let length: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.address(String(parts[0])) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        guard let length, (0...bytes.count * 8).contains(length) else { return nil }
        self.bytes = bytes
        self.length = length
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(length)"
    }

    /// Whether `address` (text, v4 or v6; an IPv4-mapped v6 address counts as v4) is in this network.
    public func contains(_ address: String) -> Bool {
        guard var other = Self.address(address) else { return false }
        if other.count == 16, bytes.count == 4, other.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            other = Array(other.suffix(4))
        }
        guard other.count == bytes.count else { return false }
        for bit in 0..<length where (bytes[bit / 8] ^ other[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return false }
        return true
    }

    /// The address's bytes (4 or 16), nil when it is not an IP address.
    static func address(_ text: String) -> [UInt8]? {
        var host = text.trimmingCharacters(in: .whitespaces)
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

/// Who the client is: the peer, or — when the peer is a trusted proxy — the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
public struct ClientAddresses: Sendable {
    public let trustedProxies: [NetworkPrefix]

    public init(trustedProxies: [NetworkPrefix]) { self.trustedProxies = trustedProxies }

    func isTrusted(_ address: String) -> Bool { trustedProxies.contains { $0.contains(address) } }

    public func client(peer: String, forwardedFor: String?) -> String {
        guard isTrusted(peer), let forwardedFor else { return peer }
        for hop in forwardedFor.split(separator: ",").reversed() {
            let address = hop.trimmingCharacters(in: .whitespaces)
            guard NetworkPrefix.address(address) != nil else { return peer }
            if !isTrusted(address) { return address }
        }
        return peer
    }
}

/// The connections open now, in all and per client address, against their caps. Shared by every
/// connection of one server.
public final class ConnectionTable: Sendable {
    struct State {
        var total = 0
        var perClient: [String: Int] = [:]
    }

    let state = Mutex(State())
    public let maxTotal: Int
    public let maxPerClient: Int

    public init(maxTotal: Int, maxPerClient: Int) {
        self.maxTotal = maxTotal
        self.maxPerClient = maxPerClient
    }

    /// Counts a connection in, or says why it is over a cap (and then counts nothing). A trusted proxy's
    /// connections count only against the total: its clients are told apart per request.
    public func open(client: String, perClientCap: Bool) -> String? {
        state.withLock { state -> String? in
            if state.total >= maxTotal { return "the server has \(maxTotal) connections open" }
            if perClientCap, state.perClient[client, default: 0] >= maxPerClient {
                return "this address has \(maxPerClient) connections open"
            }
            state.total += 1
            if perClientCap { state.perClient[client, default: 0] += 1 }
            return nil
        }
    }

    public func close(client: String, perClientCap: Bool) {
        state.withLock { state in
            state.total -= 1
            if perClientCap {
                let left = state.perClient[client, default: 1] - 1
                state.perClient[client] = left > 0 ? left : nil
            }
        }
    }

    public var openCount: Int { state.withLock { $0.total } }

    /// The file limit leaves room for the store, the model backends and the listening socket: the total
    /// cap is at most the soft `RLIMIT_NOFILE` less 128, so the server answers 503 before accept fails.
    public static func fitted(_ requested: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return requested }
        return max(16, min(requested, Int(limit.rlim_cur) - 128))
    }
}

/// `panel serve`'s HTTP/1 channel: Hummingbird's, behind a guard that caps connections (answering 503
/// and closing, instead of starving everyone) and closes a connection that does not finish a request's
/// headers within the header deadline (a slowloris). Hummingbird's own idle timeout closes kept-alive
/// connections left idle.
public struct GuardedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let table: ConnectionTable
    let clients: ClientAddresses
    let headerTimeout: TimeAmount

    public init(
        responder: @escaping HTTPChannelHandler.Responder, table: ConnectionTable, clients: ClientAddresses, headerTimeout: Duration,
        idleTimeout: Duration
    ) {
        let header = TimeAmount(headerTimeout)
        inner = HTTP1Channel(
            responder: responder,
            configuration: .init(additionalChannelHandlers: [HeaderDeadlineHandler(timeout: header)], idleTimeout: TimeAmount(idleTimeout)))
        self.table = table
        self.clients = clients
        self.headerTimeout = header
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let (table, clients, inner) = (table, clients, inner)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionAdmissionHandler(table: table, clients: clients), position: .first)
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Sent up the pipeline when bytes arrive, so the header deadline can start at a request's first byte.
struct RequestBytesArrived {}

/// First in the pipeline, on raw bytes: counts the connection against the caps when it opens (over a
/// cap: a 503 written straight away and the connection closed, before any request is read), and tells
/// the header deadline when bytes arrive.
final class ConnectionAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let table: ConnectionTable
    let clients: ClientAddresses
    var counted: (client: String, perClientCap: Bool)?
    var decided = false

    init(table: ConnectionTable, clients: ClientAddresses) {
        self.table = table
        self.clients = clients
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    func admit(_ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let perClientCap = !clients.isTrusted(peer)
        if let reason = table.open(client: peer, perClientCap: perClientCap) {
            let body = "{\"error\":{\"code\":\"overloaded\",\"message\":\"\(reason); retry shortly\"}}\n"
            let text =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let channel = context.channel
            context.writeAndFlush(NIOAny(channel.allocator.buffer(string: text))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        counted = (peer, perClientCap)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard counted != nil else { return }  // refused: nothing it sends is read
        context.fireUserInboundEventTriggered(RequestBytesArrived())
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        uncount()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { uncount() }

    /// Counts the connection out, once.
    func uncount() {
        guard let counted else { return }
        table.close(client: counted.client, perClientCap: counted.perClientCap)
        self.counted = nil
    }
}

/// Closes a connection that opened, or started a new request, and did not send the whole request head
/// within `timeout` — however slowly it trickles bytes in.
final class HeaderDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Phase { case awaitingHead, inRequest, idle }

    let timeout: TimeAmount
    var phase = Phase.awaitingHead
    var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if deadline == nil, phase == .awaitingHead { arm(context) }
        context.fireChannelActive()
    }

    func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, self.phase == .awaitingHead else { return }
            channel.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is RequestBytesArrived {
            if phase == .idle {
                phase = .awaitingHead
                arm(context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            phase = .inRequest
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), phase == .inRequest { phase = .idle }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
