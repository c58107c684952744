import Foundation
import NIOCore
import NIOHTTP1

extension PlainHTTP1Client {
    /// One exchange at a time: writes the request, collects the answer, fails the call when the
    /// connection closes early, the answer is too large or the deadline passes.
    final class ExchangeHandler: ChannelDuplexHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundIn = Exchange
        typealias OutboundOut = HTTPClientRequestPart

        let maxBodyBytes: Int
        var current: Exchange?
        var timer: Scheduled<Void>?
        var head: HTTPResponseHead?
        var body: ByteBuffer?

        /// What the response decoder is told of each request: a POST.
        static let post = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")

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
            // The head tells the response decoder the method; the request's bytes follow (``RequestWriter``).
            context.write(wrapOutboundOut(.head(Self.post)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(exchange.request))), promise: promise)
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
