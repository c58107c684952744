import Foundation
import HTTPTypes
import ModelBackends
import OpenAPIRuntime
import PanelEngine
import PanelKit

/// The JSON API's operations, as openapi.yaml declares them: swift-openapi-generator makes their types
/// and the server side of the wire (parameters, bodies, status codes, content types) from the document;
/// this is what each one does. ``RoleGate`` has checked the caller's role before any runs, and an
/// `APIError` thrown here is the answer (``APIScopeMiddleware``). The routes the generator does not serve
/// are Hummingbird routes, each with its reason (openapi-generator-config.yaml lists them).
struct JSONAPI: APIProtocol {
    let server: TeamServer

    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output {
        .ok(.init(body: .json(.init(status: .ok))))
    }

    // MARK: reviews

    func listReviews(_ input: Operations.ListReviews.Input) async throws -> Operations.ListReviews.Output {
        let query = input.query
        let operation = Operations.ListReviews.id
        if let q = query.q, q.count > 200 { throw FieldRules.refusal(operation, "q") }
        let limit = query.limit ?? 20
        guard (1...100).contains(limit) else { throw FieldRules.refusal(operation, "limit") }
        var cursor: TeamReview.Cursor?
        if let value = query.cursor {
            guard let parsed = TeamReview.Cursor(token: value) else { throw FieldRules.refusal(operation, "cursor") }
            cursor = parsed
        }
        let reviews = try await server.store.reviews(query: query.q, verdict: query.verdict?.rawValue, limit: limit + 1, before: cursor)
        let page = Array(reviews.prefix(limit))
        let next = reviews.count > limit ? page.last?.cursor.token : nil
        return .ok(.init(body: .json(.init(reviews: page.map(Self.summary), nextCursor: .init(next)))))
    }

    func getReview(_ input: Operations.GetReview.Input) async throws -> Operations.GetReview.Output {
        let review = try await server.review(id: input.path.id)
        let actions = try await server.store.editorActions(review: review.id)
        return .ok(.init(body: .json(try Self.review(review, actions: actions))))
    }

    func editReview(_ input: Operations.EditReview.Input) async throws -> Operations.EditReview.Output {
        let identity = try RequestScope.caller()
        let review = try await server.review(id: input.path.id)
        let body =
            switch input.body {
            case .json(let body): body
            }
        let actions = try await ReviewEditing(server: server).actions(body, review: review, by: identity.token.name)
        guard try await server.store.addEditorActions(review: review.id, actions) else { throw APIError.notFound("review '\(review.id)'") }
        let all = try await server.store.editorActions(review: review.id)
        return .ok(.init(body: .json(try Self.review(review, actions: all))))
    }

    // MARK: publication

    func publishReview(_ input: Operations.PublishReview.Input) async throws -> Operations.PublishReview.Output {
        let review = try await server.review(id: input.path.id)
        if let existing = try await server.store.publication(review: review.id) {
            return .ok(.init(body: .json(Self.publication(existing))))
        }
        guard review.status == .done else {
            throw APIError(
                .conflict, code: "not_approved", "the review is \(review.status.rawValue); publish it once it is done and approved")
        }
        let actions = try await server.store.editorActions(review: review.id)
        guard EditorAction.editor(actions)?.approved != nil else {
            throw APIError(.conflict, code: "not_approved", "the review is not approved; an editor approves it first")
        }
        let publication = try await server.store.publish(review: review.id, base: Slug.make(review.title), at: server.now())
        return .created(.init(headers: .init(location: "/p/\(publication.slug)"), body: .json(Self.publication(publication))))
    }

    func unpublishReview(_ input: Operations.UnpublishReview.Input) async throws -> Operations.UnpublishReview.Output {
        let review = try await server.review(id: input.path.id)
        guard try await server.store.unpublish(review: review.id) else { throw APIError.notFound("a publication of review '\(review.id)'") }
        return .noContent(.init())
    }

    func setVoting(_ input: Operations.SetVoting.Input) async throws -> Operations.SetVoting.Output {
        let review = try await server.review(id: input.path.id)
        let body =
            switch input.body {
            case .json(let body): body
            }
        guard try await server.store.setVoting(review: review.id, open: body.voting == .open, at: server.now()),
            let publication = try await server.store.publication(review: review.id)
        else { throw APIError.notFound("a publication of review '\(review.id)'") }
        return .ok(.init(body: .json(Self.publication(publication))))
    }

    /// `DELETE /v1/votes?network=HASH&since=ISO8601&until=ISO8601`: readers' votes removed.
    func purgeVotes(_ input: Operations.PurgeVotes.Input) async throws -> Operations.PurgeVotes.Output {
        let query = input.query
        let operation = Operations.PurgeVotes.id
        func date(_ text: String?, _ field: String) throws(APIError) -> Date? {
            guard let text else { return nil }
            guard let date = CFormat.date(iso8601: text) else { throw FieldRules.refusal(operation, field) }
            return date
        }
        let (since, until) = (try date(query.since, "since"), try date(query.until, "until"))
        if let network = query.network, network.count > 64 { throw FieldRules.refusal(operation, "network") }
        guard query.network != nil || since != nil || until != nil else {
            throw APIError.badRequest("say which votes: network, since and/or until")
        }
        let removed = try await server.store.purgeVotes(network: query.network, since: since, until: until)
        return .ok(.init(body: .json(.init(removed: removed))))
    }

    // MARK: batches and tokens

    func getBatch(_ input: Operations.GetBatch.Input) async throws -> Operations.GetBatch.Output {
        let id = input.path.id
        guard BatchesAPI.isValidName(id), try await server.store.jobExists(id) else { throw APIError.notFound("batch '\(id.prefix(64))'") }
        try await server.store.settleBatchCharges(tokenID: nil)
        return .ok(.init(body: .json(try await BatchesAPI(server: server).status(id))))
    }

    func listTokens(_ input: Operations.ListTokens.Input) async throws -> Operations.ListTokens.Output {
        .ok(.init(body: .json(.init(tokens: try await server.store.tokens().map(Self.token)))))
    }

    func createToken(_ input: Operations.CreateToken.Input) async throws -> Operations.CreateToken.Output {
        let body =
            switch input.body {
            case .json(let body): body
            }
        let operation = Operations.CreateToken.id
        guard TeamTokens.isValidName(body.name) else { throw FieldRules.refusal(operation, "name") }
        if let budget = body.budgetUsd, !(budget.isFinite && budget >= 0) { throw FieldRules.refusal(operation, "budget_usd") }
        if let name = body.displayName, !TeamTokens.isValidDisplayName(name) { throw FieldRules.refusal(operation, "display_name") }
        guard let role = TeamRole(rawValue: body.role.rawValue) else { throw FieldRules.refusal(operation, "role") }
        let made: (token: TeamToken, secret: String)
        do {
            made = try await TeamTokens.create(
                in: server.store, name: body.name, role: role, budgetUSD: body.budgetUsd, displayName: body.displayName, now: server.now())
        } catch {
            throw APIError(.conflict, code: "exists", "a token named '\(body.name)' exists; revoke it first or choose another name")
        }
        return .created(.init(body: .json(.init(value1: Self.token(made.token), value2: .init(secret: made.secret)))))
    }

    func revokeToken(_ input: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output {
        let id = input.path.id
        guard id.count <= 64, try await server.store.revokeToken(id) else { throw APIError.notFound("live token '\(id.prefix(64))'") }
        return .noContent(.init())
    }
}

// MARK: what the API answers with

extension JSONAPI {
    static func time(_ seconds: Double) -> String { CFormat.iso8601(Date(timeIntervalSince1970: seconds)) }

    static func summary(_ review: TeamReview) -> Components.Schemas.ReviewSummary {
        .init(
            id: review.id, title: review.title, status: Components.Schemas.ReviewStatus(rawValue: review.status.rawValue) ?? .failed,
            createdAt: time(review.createdAt), createdBy: review.createdBy,
            verdicts: review.verdicts.compactMap(Components.Schemas.PanelVerdict.init(rawValue:)), costUsd: .init(review.costUSD))
    }

    /// A review with its document (the engine's JSON, with the editor block once an editor acted) and links.
    static func review(_ review: TeamReview, actions: [EditorAction]) throws -> Components.Schemas.Review {
        let editor = EditorAction.editor(actions)
        var document = JSONValue.null
        if let text = review.document, case .object(var value)? = JSONValue.parse(text) {
            if let editor { value["editor"] = try JSONValueEncoder.encode(editor) }
            document = .object(value)
        }
        let base = "/v1/reviews/\(review.id)"
        let links = [
            "self": base, "events": "\(base)/events", "markdown": "\(base)/document.md", "html": "\(base)/document.html",
            "json": "\(base)/document.json", "page": "/reviews/\(review.id)",
        ]
        return .init(
            value1: summary(review),
            value2: .init(
                error: .init(review.error), document: DocumentBody(document), editor: editor ?? ReviewDocument.Editor(),
                links: .init(additionalProperties: links)))
    }

    static func publication(_ publication: Publication) -> Components.Schemas.Publication {
        .init(
            slug: publication.slug, url: "/p/\(publication.slug)", voting: publication.votingOpen ? .open : .closed,
            publishedAt: CFormat.iso8601(publication.publishedAt))
    }

    static func token(_ token: TeamToken) -> Components.Schemas.Token {
        .init(
            id: token.id, name: token.name, role: Components.Schemas.Role(rawValue: token.role.rawValue) ?? .viewer,
            budgetUsd: .init(token.budgetUSD), spentUsd: token.spentUSD, createdAt: CFormat.iso8601(token.createdAt),
            revoked: token.revoked, displayName: .init(token.displayName))
    }
}

extension TeamServer {
    /// The review `id` names (404 when there is none).
    func review(id: String) async throws -> TeamReview {
        guard id.count <= 64, let review = try await store.review(id: id) else { throw APIError.notFound("review '\(id.prefix(64))'") }
        return review
    }
}
