import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Gives every request a deadline for arriving in full, counted from its head to the end of its body. Hummingbird's
/// idle timeout only measures the gaps between reads, so without this a client sending a byte now and then could
/// hold a connection, and an upload, open forever. A request that misses its deadline gets a 408 JSON error if no
/// response has started yet, and its connection is closed.
final class RequestReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    /// Whether the application has begun answering the request being read (it may answer before reading a body).
    private var responseStarted = false

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            cancelDeadline()
            responseStarted = false
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                expire(loopBound.value)
            }
        case .body:
            break
        case .end:
            cancelDeadline()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head = unwrapOutboundIn(data) { responseStarted = true }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadline()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }

    private func expire(_ context: ChannelHandlerContext) {
        deadline = nil
        let seconds = timeout.nanoseconds / 1_000_000_000
        logger.notice(
            "Closed a connection whose request did not arrive in time",
            metadata: ["timeoutSeconds": "\(seconds)", "client": "\(context.remoteAddress?.description ?? "?")"])
        guard !responseStarted else {
            context.close(promise: nil)
            return
        }
        let body = ErrorMapping.body(
            status: .requestTimeout,
            message: "The request did not arrive within \(seconds) seconds; the connection is closed.")
        var head = HTTPResponse(status: .requestTimeout)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
