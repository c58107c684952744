import Foundation
import NIOCore

extension PlainHTTP1Client {
    /// One exchange at a time: writes the request, collects the answer, fails the call when the
    /// connection closes early, the answer is too large or the deadline passes.
    final class ExchangeHandler: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = Exchange
        typealias OutboundOut = ByteBuffer

        var current: Exchange?
        var timer: Scheduled<Void>?
        var reader: ResponseReader

        init(maxBodyBytes: Int) {
            reader = ResponseReader(maxBodyBytes: maxBodyBytes)
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
            reader.reset()
            let loop = context.eventLoop.assumeIsolated()
            timer = loop.scheduleTask(deadline: exchange.deadline) { [weak self, context] in
                self?.fail(Failure.timedOut, context: context)
            }
            context.write(wrapOutboundOut(exchange.request), promise: promise)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard current != nil else {
                // Bytes no request asked for: the connection is out of step and cannot be reused.
                context.close(promise: nil)
                return
            }
            do {
                if let answer = try reader.read(unwrapInboundIn(data)) { succeed(answer, context: context) }
            } catch {
                fail(error, context: context)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if current != nil {
                do {
                    if let answer = try reader.readEnd() {
                        succeed(answer, context: context)
                    } else {
                        fail(Failure.closedBeforeAnswer, context: context)
                    }
                } catch {
                    fail(error, context: context)
                }
            }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(error, context: context)
            context.close(promise: nil)
        }

        private func succeed(_ answer: Answer, context: ChannelHandlerContext) {
            guard let exchange = current else { return }
            current = nil
            timer?.cancel()
            timer = nil
            exchange.promise.succeed(answer)
            if !answer.reusable { context.close(promise: nil) }
        }

        private func fail(_ error: any Error, context: ChannelHandlerContext) {
            timer?.cancel()
            timer = nil
            guard let exchange = current else { return }
            current = nil
            reader.reset()
            exchange.promise.fail(error)
            context.close(promise: nil)
        }
    }
}
