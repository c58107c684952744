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

/// `/v1/reviews`: ask for a review, read it (JSON and every document format), watch it as Server-Sent
/// Events, search the history, and edit, override and approve it.
struct ReviewsAPI {
    let server: TeamServer

    func register(_ router: Router<ServerContext>) {
        let group = router.group("v1/reviews")
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.get(":id") { request, context in try await show(request, context) }
        group.patch(":id") { request, context in try await patch(request, context) }
        group.get(":id/events") { request, context in try await stream(request, context) }
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
        let id = try context.parameters.require("id")
        guard id.count <= 64, let review = try await server.store.review(id: id) else {
            throw APIError.notFound("review '\(id.prefix(64))'")
        }
        return review
    }

    func show(_ request: Request, _ context: ServerContext) async throws -> Response {
        _ = try context.identity(atLeast: .viewer)
        let review = try await load(context)
        let actions = try await server.store.editorActions(review: review.id)
        return JSONResponse.make(ReviewJSON.full(review, actions: actions))
    }

    func list(_ request: Request, _ context: ServerContext) async throws -> Response {
        _ = try context.identity(atLeast: .viewer)
        let query = request.uri.queryParameters
        let q = query["q"].map(String.init)
        if let q, q.count > 200 { throw APIError.badRequest("q: at most 200 characters") }
        var verdict: String?
        if let value = query["verdict"] {
            guard let parsed = PanelVerdict(rawValue: String(value)) else {
                throw APIError.badRequest("verdict: one of \(PanelVerdict.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            verdict = parsed.rawValue
        }
        var limit = 20
        if let value = query["limit"] {
            guard let number = Int(value), (1...100).contains(number) else {
                throw APIError.badRequest("limit: a whole number from 1 to 100")
            }
            limit = number
        }
        var cursor: TeamReview.Cursor?
        if let value = query["cursor"] {
            guard let parsed = TeamReview.Cursor(token: String(value)) else {
                throw APIError.badRequest("cursor: not a cursor this server gave (use next_cursor from the previous page)")
            }
            cursor = parsed
        }
        let reviews = try await server.store.reviews(query: q, verdict: verdict, limit: limit + 1, before: cursor)
        let page = Array(reviews.prefix(limit))
        let next: JSONValue = reviews.count > limit ? page.last.map { .string($0.cursor.token) } ?? .null : .null
        return JSONResponse.make(.object(["reviews": .array(page.map(ReviewJSON.summary)), "next_cursor": next]))
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
                    try ReviewJSON.document(review, actions: actions).map { engine.render($0, as: format) }
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

    // MARK: editor actions

    func patch(_ request: Request, _ context: ServerContext) async throws -> Response {
        let identity = try context.identity(atLeast: .editor)
        let review = try await load(context)
        let object = try RequestBodies.object(
            try await RequestBodies.text(request, context: context), allowed: ["edits", "override", "approve", "confirm"])
        let actions = try await editorActions(object, review: review, by: identity.token.name)
        guard try await server.store.addEditorActions(review: review.id, actions) else { throw APIError.notFound("review '\(review.id)'") }
        let all = try await server.store.editorActions(review: review.id)
        return JSONResponse.make(ReviewJSON.full(review, actions: all))
    }

    /// The actions a PATCH body asks for, checked against the review's document: the tool and persona
    /// must be in it; texts are bounded.
    func editorActions(_ object: [String: JSONValue], review: TeamReview, by: String) async throws -> [EditorAction] {
        guard review.status == .done, let document = try ReviewJSON.document(review, actions: []) else {
            throw APIError(.conflict, code: "not_ready", "the review is \(review.status.rawValue); it can be edited once it is done")
        }
        let at = server.timestamp()
        var actions: [EditorAction] = []
        func field(_ object: [String: JSONValue], _ key: String, in path: String, max: Int) throws(APIError) -> String {
            guard let text = object[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                throw .badRequest("\(path).\(key): required, non-empty text")
            }
            guard text.count <= max else { throw .badRequest("\(path).\(key): at most \(max) characters") }
            return text
        }
        func tool(_ object: [String: JSONValue], in path: String) throws(APIError) -> ReviewDocument.Tool {
            let name = try field(object, "tool", in: path, max: 500)
            guard let tool = document.tools.first(where: { $0.name == name }) else {
                throw .badRequest(
                    "\(path).tool: '\(name.prefix(80))' is not a tool of this review (\(document.tools.map(\.name).joined(separator: ", ")))"
                )
            }
            return tool
        }
        if let edits = object["edits"] {
            guard let list = edits.arrayValue, !list.isEmpty else {
                throw APIError.badRequest("edits: a non-empty list of {tool, persona, text}")
            }
            for (index, item) in list.enumerated() {
                let path = "edits[\(index)]"
                guard let edit = item.objectValue else { throw APIError.badRequest("\(path): an object {tool, persona, text}") }
                let unknown = Set(edit.keys).subtracting(["tool", "persona", "text"]).sorted()
                if !unknown.isEmpty { throw APIError.badRequest("\(path): unknown field(s) \(unknown.joined(separator: ", "))") }
                let target = try tool(edit, in: path)
                let persona = try field(edit, "persona", in: path, max: 100)
                guard target.reviews.contains(where: { $0.persona == persona }) else {
                    throw APIError.badRequest(
                        "\(path).persona: '\(persona.prefix(80))' did not review \(target.name) (\(target.reviews.map(\.persona).joined(separator: ", ")))"
                    )
                }
                let text = try field(edit, "text", in: path, max: 20_000)
                actions.append(EditorAction(kind: .edit, tool: target.name, persona: persona, text: text, by: by, at: at))
            }
        }
        if let value = object["override"] {
            guard let override = value.objectValue else { throw APIError.badRequest("override: an object {tool, verdict, note}") }
            let unknown = Set(override.keys).subtracting(["tool", "verdict", "note"]).sorted()
            if !unknown.isEmpty { throw APIError.badRequest("override: unknown field(s) \(unknown.joined(separator: ", "))") }
            let target = try tool(override, in: "override")
            guard let verdict = override["verdict"]?.stringValue.flatMap(Verdict.init(rawValue:)) else {
                throw APIError.badRequest("override.verdict: ship or skip")
            }
            let note = try field(override, "note", in: "override", max: 2_000)
            actions.append(EditorAction(kind: .override, tool: target.name, verdict: verdict, note: note, by: by, at: at))
        }
        if let value = object["confirm"], value != .bool(true), value != .bool(false) {
            throw APIError.badRequest("confirm: true or false (with approve: the contradicted claims were checked)")
        }
        if let value = object["approve"] {
            guard value == .bool(true) else { throw APIError.badRequest("approve: true (an approval is not taken back; override instead)") }
            try await checkContradictedClaims(document, review: review, edits: actions, confirmed: object["confirm"] == .bool(true))
            actions.append(EditorAction(kind: .approve, by: by, at: at))
        }
        guard !actions.isEmpty else { throw APIError.badRequest("the body asks for nothing: give edits, override or approve") }
        return actions
    }

    /// An approval of a review whose paragraphs (those no editor rewrote, before or in this request) hold
    /// claims the listing contradicts needs `confirm: true` — or, under `team.approve_contradicted: refuse`,
    /// the paragraphs edited first.
    func checkContradictedClaims(_ document: ReviewDocument, review: TeamReview, edits: [EditorAction], confirmed: Bool) async throws {
        let earlier = try await server.store.editorActions(review: review.id)
        let edited = Set((earlier + edits).filter { $0.kind == .edit }.map { "\($0.tool ?? "")\u{0}\($0.persona ?? "")" })
        var contradicted: [String] = []
        for tool in document.tools {
            for item in tool.reviews where !edited.contains("\(tool.name)\u{0}\(item.persona)") {
                for claim in item.claims ?? [] where claim.status == .contradicted {
                    contradicted.append(
                        "\(document.personaName(item.persona)) on \(tool.name): “\(claim.text)” (the listing says “\(claim.quote ?? "")”)")
                }
            }
        }
        guard !contradicted.isEmpty else { return }
        let list = contradicted.prefix(5).joined(separator: "; ") + (contradicted.count > 5 ? "; and \(contradicted.count - 5) more" : "")
        switch server.engine.backends.configuration?.approveContradicted ?? .confirm {
        case .refuse:
            throw APIError(
                .conflict, code: "contradicted_claims",
                "\(contradicted.count) claim(s) the listing contradicts — \(list). This team approves only once they are fixed (team.approve_contradicted: refuse): edit the paragraphs, then approve"
            )
        case .confirm where !confirmed:
            throw APIError(
                .conflict, code: "contradicted_claims",
                "\(contradicted.count) claim(s) the listing contradicts — \(list). Check them, then approve with confirm: true")
        case .confirm:
            return
        }
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

/// How reviews appear in the API.
enum ReviewJSON {
    static func time(_ seconds: Double) -> String { CFormat.iso8601(Date(timeIntervalSince1970: seconds)) }

    static func summary(_ review: TeamReview) -> JSONValue {
        .object([
            "id": .string(review.id), "title": .string(review.title), "status": .string(review.status.rawValue),
            "created_at": .string(time(review.createdAt)), "created_by": .string(review.createdBy),
            "verdicts": .array(review.verdicts.map(JSONValue.string)), "cost_usd": review.costUSD.map(JSONValue.double) ?? .null,
        ])
    }

    static func editor(_ actions: [EditorAction]) -> JSONValue {
        let editor = EditorAction.editor(actions) ?? ReviewDocument.Editor()
        return (try? JSONValueEncoder.encode(editor)) ?? .null
    }

    static func full(_ review: TeamReview, actions: [EditorAction]) -> JSONValue {
        guard case .object(var object) = summary(review) else { return .null }
        object["error"] = review.error.map(JSONValue.string) ?? .null
        var document = JSONValue.null
        if let text = review.document, case .object(var value)? = JSONValue.parse(text) {
            if let block = EditorAction.editor(actions) { value["editor"] = (try? JSONValueEncoder.encode(block)) ?? .null }
            document = .object(value)
        }
        object["document"] = document
        object["editor"] = editor(actions)
        object["links"] = .object([
            "self": .string("/v1/reviews/\(review.id)"), "events": .string("/v1/reviews/\(review.id)/events"),
            "markdown": .string("/v1/reviews/\(review.id)/document.md"), "html": .string("/v1/reviews/\(review.id)/document.html"),
            "json": .string("/v1/reviews/\(review.id)/document.json"), "page": .string("/reviews/\(review.id)"),
        ])
        return .object(object)
    }

    /// The review's document with its editor block; nil until it is done.
    static func document(_ review: TeamReview, actions: [EditorAction]) throws -> ReviewDocument? {
        guard review.status == .done, let text = review.document else { return nil }
        var document = try JSONDocumentRenderer.decode(Data(text.utf8), source: "review \(review.id)")
        document.editor = EditorAction.editor(actions)
        return document
    }
}
