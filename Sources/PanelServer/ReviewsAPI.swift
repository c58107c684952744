import Foundation
import HTTPTypes
import Hummingbird
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit
import ServiceLifecycle
import Synchronization
import Tracing

/// `/v1/reviews` by hand: asking for a review, its event stream and its documents. Reading, listing and
/// editing reviews are generated operations (``JSONAPI``); these three are not, each for its reason below.
struct ReviewsAPI {
    let server: TeamServer

    func register(_ router: Router<ServerContext>) {
        let group = router.group("v1/reviews")
        // The body is a listing file's text as much as JSON — YAML, or Markdown with front matter, sent as
        // `curl --data-binary @tool.yaml` with whatever Content-Type the client puts — and is recognised by
        // its content; the generated code would choose by Content-Type and refuse the rest.
        group.post { request, context in try await create(request, context) }
        // Server-Sent Events with replay and heartbeats, open until the review ends: a stream the
        // generated code cannot write.
        group.get(":id/events") { request, context in try await stream(request, context) }
        // Downloads, one renderer and cache for the three: the JSON one is the engine's document as written
        // (the generated Document type would hold only the outline openapi.yaml gives it and drop the rest).
        group.get(":id/document.md") { _, context in try await document(context, .markdown) }
        group.get(":id/document.html") { _, context in try await document(context, .html) }
        group.get(":id/document.json") { _, context in try await document(context, .json) }
    }

    // MARK: create

    func create(_ request: Request, _ context: ServerContext) async throws -> Response {
        let identity = try context.identity(atLeast: .editor)
        let text = try await RequestBodies.text(request, context: context)
        let listings = try RequestBodies.listings(text, limit: server.options.maxListingsPerReview)
        let review = try await start(listings, by: identity.token)
        var headers: HTTPFields = [.location: "/v1/reviews/\(review.id)"]
        headers[.contentType] = "application/json; charset=utf-8"
        return JSONResponse.make(
            .object(["id": .string(review.id), "status": .string(review.status.rawValue)]), status: .accepted, headers: headers)
    }

    /// Keeps a new review (queued) and puts its job on the store's queue, where this server's worker (or
    /// another server's, or a `panel worker`) takes it. The review's spend ceiling is reserved
    /// against a budgeted token's budget as it is kept (402 when it does not fit), and a token may have
    /// at most `--max-queued-per-token` reviews queued or running (429 beyond): one step in the store,
    /// so concurrent requests — on this server or another — cannot all slip under either limit.
    func start(_ listings: [Listing], by token: TeamToken) async throws -> TeamReview {
        // JSON: Foundation both ways — a listing is Codable, written here and read by the review's worker and the web page with JSONDecoder.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var review = TeamReview(
            id: "r_" + TeamTokens.randomText(16), createdAt: server.now().timeIntervalSince1970, tokenID: token.id, createdBy: token.name,
            status: .queued, title: listings.map(\.name).joined(separator: " vs "),
            listings: String(decoding: try encoder.encode(listings), as: UTF8.self))
        if token.budgetUSD != nil {
            try await server.store.settleBatchCharges(tokenID: token.id)
            guard let ceiling = server.engine.spendCeiling(listings) else {
                throw APIError(
                    .paymentRequired, code: "budget_unenforceable",
                    "the token '\(token.name)' has a budget, but a backend this review may use has no price (or no max_tokens), so its cost has no ceiling; an admin can give it a price or use a token without a budget"
                )
            }
            review.reservedUSD = ceiling
        }
        // Enqueued in a span of its own, whose context goes with the job: whoever claims it continues this trace.
        let admitted = review
        let admission = try await Traces.span("enqueue review", ofKind: .producer) { span in
            var queued = admitted
            queued.trace = Traces.traceparent()
            span?.attributes["panel.review"] = queued.id
            span?.attributes["panel.listings"] = listings.count
            return try await server.store.admitReview(
                queued, settings: server.reviewJobSettings, maxUnfinished: server.options.maxQueuedReviewsPerToken)
        }
        switch admission {
        case .admitted:
            break
        case .overBudget(let remaining):
            throw APIError(
                .paymentRequired, code: "budget_spent",
                "the token '\(token.name)' has $\(String(format: "%.4f", remaining)) of its $\(String(format: "%.2f", token.budgetUSD ?? 0)) budget left (reviews in flight hold their ceiling until they finish); this review may cost up to $\(String(format: "%.4f", review.reservedUSD))"
            )
        case .tooManyUnfinished(let count):
            throw APIError(
                .tooManyRequests, code: "too_many_queued",
                "the token '\(token.name)' has \(count) reviews queued or running (at most \(server.options.maxQueuedReviewsPerToken)); ask again when some finish",
                headers: [.retryAfter: "30"])
        }
        return review
    }

    // MARK: read

    func load(_ context: ServerContext) async throws -> TeamReview {
        try await server.review(id: try context.parameters.require("id"))
    }

    func document(_ context: ServerContext, _ format: DocumentFormat) async throws -> Response {
        _ = try context.identity(atLeast: .viewer)
        let review = try await load(context)
        let actions = try await server.store.editorActions(review: review.id)
        let key = RenderedDocuments.Key(review: review.id, format: format.rawValue, actions: actions.count)
        let engine = server.engine
        guard
            let text = try server.rendered.text(
                key,
                render: {
                    try review.document(actions: actions).map { engine.render($0, as: format) }
                })
        else {
            throw APIError(.conflict, code: "not_ready", "the review is \(review.status.rawValue); its document exists once it is done")
        }
        let title = review.title
        let (type, ext): (String, String) =
            switch format {
            case .markdown: ("text/markdown; charset=utf-8", "md")
            case .html: ("text/html; charset=utf-8", "html")
            case .json: ("application/json; charset=utf-8", "json")
            }
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-store"]
        headers[.contentDisposition] = "attachment; filename=\"\(Slug.make(title).prefix(80))-\(review.id).\(ext)\""
        if format == .html { headers[.contentSecurityPolicy] = SecurityHeadersMiddleware.documentPolicy }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: events

    func stream(_ request: Request, _ context: ServerContext) async throws -> Response {
        _ = try context.identity(atLeast: .viewer)
        let review = try await load(context)
        let events = server.events
        let metrics = server.metrics
        let live = events.subscribe(review.id)
        let closed = context.closed
        let heartbeat = server.options.streamHeartbeat
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                metrics.streamOpened()
                defer { metrics.streamClosed() }
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                if !live.past.isEmpty { try await writer.write(ByteBuffer(string: live.past)) }
                if let watcher = live.watcher {
                    defer { events.stopWatching(review.id, watcher) }
                    // The stream ends when the review does, when the connection closes (a client that
                    // left is noticed at the latest by the next heartbeat's failed write) and when the
                    // server shuts down (a watcher must not keep it alive: the client reconnects
                    // elsewhere or later and replays).
                    closed.whenComplete { _ in watcher.finish() }
                    let beats = Task {
                        while !Task.isCancelled {
                            try await Task.sleep(for: heartbeat)
                            watcher.push(": keep-alive\n\n")
                        }
                    }
                    defer { beats.cancel() }
                    await withGracefulShutdownHandler {
                        while let text = await watcher.next() {
                            do { try await writer.write(ByteBuffer(string: text)) } catch { return }
                        }
                    } onGracefulShutdown: {
                        watcher.finish()
                    }
                }
                try await writer.finish(nil)
            })
    }
}

/// JSON responses, keys sorted.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.canonicalText() + "\n")))
    }
}
