import Foundation
import HTTPTypes
import Hummingbird
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit

/// The web page: sign in with a token, paste or upload listings, watch the personas answer live, read
/// the review or comparison, edit a paragraph, override a verdict, approve, download; the history with
/// search. Server-rendered from Mustache templates (`web/`) with the documents' view model and CSS,
/// one small script for the live view, nothing from elsewhere. Every form carries the session's CSRF
/// value; text from listings and models is escaped by the templates.
struct WebPages {
    let server: TeamServer

    static let signinCookie = "panel_signin"

    static func template(_ name: String) -> Template {
        // The embedded templates are checked by a test; a broken one is a build defect, not user input.
        (try? Template(WebFiles.files[name] ?? "", escaping: .html)) ?? (try! Template("", escaping: .html))
    }

    static let pageTemplate = template("page.html.mustache")
    static let signinTemplate = template("signin.html.mustache")
    static let homeTemplate = template("home.html.mustache")
    static let liveTemplate = template("live.html.mustache")
    static let reviewTemplate = template("review.html.mustache")

    /// The routes whose forms carry the CSRF value as a field and check it themselves; ``AuthMiddleware``
    /// asks every other state-changing route matched for the `X-CSRF-Token` header. Listed once, here.
    static let formRoutes: Set<String> = Set(
        ["/signin", "/signout", "/reviews", "/reviews/:id/edit", "/reviews/:id/override", "/reviews/:id/approve", "/p/:slug/votes"].map {
            RouterPath($0).description
        })

    func register(_ router: Router<ServerContext>) {
        router.get("/") { request, context in try await home(request, context) }
        router.post("/signin") { request, context in try await signIn(request, context) }
        router.post("/signout") { request, context in try await signOut(request, context) }
        router.post("/reviews") { request, context in try await createReview(request, context) }
        router.get("/reviews/:id") { request, context in try await reviewPage(request, context) }
        router.post("/reviews/:id/edit") { request, context in try await editorAction(request, context, kind: .edit) }
        router.post("/reviews/:id/override") { request, context in try await editorAction(request, context, kind: .override) }
        router.post("/reviews/:id/approve") { request, context in try await editorAction(request, context, kind: .approve) }
        let css = Self.documentCSS(server.engine.settings.templates)
        router.get("/static/document.css") { _, _ in Self.asset(css, type: "text/css; charset=utf-8") }
        router.get("/static/panel.css") { _, _ in Self.asset(WebFiles.files["panel.css"] ?? "", type: "text/css; charset=utf-8") }
        router.get("/static/app.js") { _, _ in Self.asset(WebFiles.files["app.js"] ?? "", type: "text/javascript; charset=utf-8") }
    }

    /// The documents' stylesheet: the `<style>` of the HTML template in use, so the page looks like the
    /// documents it shows, from one source.
    static func documentCSS(_ templates: DocumentTemplates) -> String {
        guard let html = templates.files[DocumentTemplates.htmlFile], let start = html.range(of: "<style>"),
            let end = html.range(of: "</style>", range: start.upperBound..<html.endIndex)
        else { return "" }
        return String(html[start.upperBound..<end.lowerBound])
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: rendering

    func page(
        _ body: String, title: String, identity: Identity?, status: HTTPResponse.Status = .ok, error: String? = nil,
        flash: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        var values: TemplateFields = ["title": .text(title), "body": .text(body)]
        if let identity, case .session(let csrf, _) = identity.proof {
            values["signed_in"] = [
                "name": .text(identity.token.name), "role": .text(identity.token.role.rawValue), "csrf": .text(csrf),
            ]
        }
        if let error { values["error"] = .text(error) }
        if let flash { values["flash"] = .text(flash) }
        var headers = headers
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Self.pageTemplate.render(.object(values)))))
    }

    func signInPage(_ request: Request, status: HTTPResponse.Status = .ok, error: String? = nil) -> Response {
        var headers: HTTPFields = [:]
        var csrf = request.cookies[Self.signinCookie]?.value ?? ""
        if csrf.count != 32 {
            csrf = TeamTokens.randomText(32)
            headers[.setCookie] = cookie(Self.signinCookie, csrf, request: request, maxAge: 3600)
        }
        let body = Self.signinTemplate.render(["csrf": .text(csrf)])
        return page(body, title: "Sign in", identity: nil, status: status, error: error, headers: headers)
    }

    func cookie(_ name: String, _ value: String, request: Request, maxAge: Int) -> String {
        let secure = server.options.secureCookies || request.headers[.xForwardedProto]?.lowercased() == "https"
        return Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict).description
    }

    static func redirect(_ location: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    // MARK: sign in and out

    func signIn(_ request: Request, _ context: ServerContext) async throws -> Response {
        let form = FormFields(try await RequestBodies.text(request, context: context))
        guard let sent = form["csrf"], let expected = request.cookies[Self.signinCookie]?.value, AuthMiddleware.same(sent, expected) else {
            return signInPage(request, status: .forbidden, error: "The sign-in form expired; try again.")
        }
        guard let secret = form["token"]?.trimmingCharacters(in: .whitespacesAndNewlines), !secret.isEmpty, secret.count <= 200,
            let token = try await server.store.token(secretHash: TeamTokens.hash(secret)), !token.revoked
        else {
            return signInPage(request, status: .unauthorized, error: "That token is not known here (or was revoked).")
        }
        let session = TeamTokens.randomText(40)
        let lifetime = server.options.sessionLifetime
        try await server.store.createSession(
            TeamSession(tokenID: token.id, csrf: TeamTokens.randomText(32), expires: server.now().addingTimeInterval(lifetime)),
            secretHash: TeamTokens.hash(session))
        var headers: HTTPFields = [:]
        headers.append(
            HTTPField(name: .setCookie, value: cookie(AuthMiddleware.sessionCookie, session, request: request, maxAge: Int(lifetime))))
        headers.append(HTTPField(name: .setCookie, value: cookie(Self.signinCookie, "", request: request, maxAge: 0)))
        return Self.redirect("/", headers: headers)
    }

    func signOut(_ request: Request, _ context: ServerContext) async throws -> Response {
        let form = FormFields(try await RequestBodies.text(request, context: context))
        // A sign-out is a state change like any other: without the session's CSRF value nothing changes
        // (neither the session in the store nor the browser's cookie), so a page elsewhere cannot sign an
        // editor out, and a sign-out that "worked" always ended the session for good.
        if let identity = context.identity, case .session(let csrf, let hash) = identity.proof {
            guard let sent = form["csrf"], AuthMiddleware.same(sent, csrf) else {
                throw APIError(.forbidden, code: "csrf", "The form expired; reload the page and sign out again.")
            }
            try await server.store.deleteSession(secretHash: hash)
        }
        return Self.redirect("/", headers: [.setCookie: cookie(AuthMiddleware.sessionCookie, "", request: request, maxAge: 0)])
    }

    /// The signed-in browser's identity, with the form's CSRF value checked; nil when not signed in.
    func sessionIdentity(_ context: ServerContext, form: FormFields?) throws(APIError) -> (Identity, String)? {
        guard let identity = context.identity, case .session(let csrf, _) = identity.proof else { return nil }
        if let form {
            guard let sent = form["csrf"], AuthMiddleware.same(sent, csrf) else {
                throw APIError(.forbidden, code: "csrf", "The form expired; reload the page and try again.")
            }
        }
        return (identity, csrf)
    }

    // MARK: home

    func home(_ request: Request, _ context: ServerContext) async throws -> Response {
        guard let (identity, csrf) = try sessionIdentity(context, form: nil) else { return signInPage(request) }
        return try await homePage(request, identity: identity, csrf: csrf)
    }

    func homePage(
        _ request: Request, identity: Identity, csrf: String, status: HTTPResponse.Status = .ok, error: String? = nil
    ) async throws -> Response {
        let query = request.uri.queryParameters
        let q = query["q"].map { String($0.prefix(200)) } ?? ""
        let verdict = query["verdict"].flatMap { PanelVerdict(rawValue: String($0)) }
        let cursor = query["cursor"].flatMap { TeamReview.Cursor(token: String($0)) }
        let found = try await server.store.reviews(query: q, verdict: verdict?.rawValue, limit: 26, before: cursor)
        let reviews = Array(found.prefix(25))
        var values: TemplateFields = [
            "csrf": .text(csrf), "q": .text(q), "can_edit": .flag(identity.token.role >= .editor),
            "has_reviews": .flag(!reviews.isEmpty),
            "verdicts": .list(
                PanelVerdict.allCases.map {
                    ["value": .text($0.rawValue), "label": .text($0.rawValue.capitalized), "selected": .flag($0 == verdict)]
                }),
            "reviews": .list(
                reviews.map { review in
                    let badge = review.status == .done ? (review.verdicts.first ?? "incomplete") : "incomplete"
                    let label =
                        review.status == .done
                        ? review.verdicts.map(\.capitalized).joined(separator: " / ") : review.status.rawValue.capitalized
                    return [
                        "id": .text(review.id), "title": .text(review.title), "status_label": .text(label.isEmpty ? "Done" : label),
                        "badge": .text(badge), "created_by": .text(review.createdBy),
                        "created_at": .text(JSONAPI.time(review.createdAt)),
                    ]
                }),
        ]
        if found.count > 25, let last = reviews.last {
            var next = URLComponents()
            next.queryItems = [URLQueryItem(name: "q", value: q), URLQueryItem(name: "cursor", value: last.cursor.token)]
            if let verdict { next.queryItems?.append(URLQueryItem(name: "verdict", value: verdict.rawValue)) }
            values["next"] = .text(next.percentEncodedQuery ?? "")
        }
        return page(Self.homeTemplate.render(.object(values)), title: "Reviews", identity: identity, status: status, error: error)
    }

    // MARK: a new review

    func createReview(_ request: Request, _ context: ServerContext) async throws -> Response {
        let form = FormFields(try await RequestBodies.text(request, context: context))
        guard let (identity, csrf) = try sessionIdentity(context, form: form) else { return signInPage(request, status: .unauthorized) }
        guard identity.token.role >= .editor else {
            return try await homePage(
                request, identity: identity, csrf: csrf, status: .forbidden, error: "Your token can read reviews, not ask for them.")
        }
        let texts = form.all("listing").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        do {
            guard !texts.isEmpty else { throw APIError.badRequest("Paste a listing (or upload one) first.") }
            guard texts.count <= server.options.maxListingsPerReview else {
                throw APIError.badRequest("A review compares at most \(server.options.maxListingsPerReview) listings.")
            }
            let listings = try texts.enumerated().map { index, text throws(APIError) in
                try RequestBodies.parse(text, source: "listing \(index + 1)")
            }
            let review = try await ReviewsAPI(server: server).start(listings, by: identity.token)
            return Self.redirect("/reviews/\(review.id)")
        } catch let error as APIError {
            return try await homePage(request, identity: identity, csrf: csrf, status: error.status, error: error.message)
        }
    }

    // MARK: a review

    func reviewPage(_ request: Request, _ context: ServerContext) async throws -> Response {
        guard let (identity, csrf) = try sessionIdentity(context, form: nil) else { return signInPage(request, status: .unauthorized) }
        let id = try context.parameters.require("id")
        guard id.count <= 64, let review = try await server.store.review(id: id) else {
            return page("", title: "Not found", identity: identity, status: .notFound, error: "There is no review '\(id.prefix(64))'.")
        }
        let flash = request.uri.queryParameters["saved"].map { _ in "Saved." }
        if review.status == .queued || review.status == .running {
            return page(liveBody(review), title: review.title, identity: identity, flash: flash)
        }
        let actions = try await server.store.editorActions(review: review.id)
        let document = try review.document(actions: actions)
        return page(
            reviewBody(review, document: document, identity: identity, csrf: csrf), title: review.title, identity: identity, flash: flash)
    }

    func liveBody(_ review: TeamReview) -> String {
        let listings = (try? JSONDecoder().decode([Listing].self, from: Data(review.listings.utf8))) ?? []
        let personas = server.engine.settings.prompts.personas
        let values: TemplateValue = [
            "id": .text(review.id), "title": .text(review.title),
            "tools": .list(
                listings.enumerated().map { index, listing in
                    [
                        "index": .number(index), "name": .text(listing.name),
                        "personas": .list(personas.map { ["id": .text($0.id), "name": .text($0.name)] }),
                    ]
                }),
        ]
        return Self.liveTemplate.render(values)
    }

    func reviewBody(_ review: TeamReview, document: ReviewDocument?, identity: Identity, csrf: String) -> String {
        var values: TemplateFields = [
            "id": .text(review.id), "review_id": .text(review.id), "title": .text(review.title), "csrf": .text(csrf),
            "status_label": .text(review.status.rawValue.capitalized), "created_by": .text(review.createdBy),
            "created_at": .text(JSONAPI.time(review.createdAt)), "can_edit": .flag(identity.token.role >= .editor),
            "failed": .flag(review.status == .failed), "error": .text(review.error ?? "unknown"),
        ]
        if let document {
            guard case .object(let model) = DocumentViewModel.make(document) else { return "" }
            values.merge(model)
            values["document"] = true
            values["title"] = .text(document.title)
            values["personas"] = Self.withEditableText(model["personas"], document: document)
            if let approved = document.editor?.approved { values["approved"] = ["by": .text(approved.by), "at": .text(approved.at)] }
        }
        return Self.reviewTemplate.render(.object(values))
    }

    /// Adds to each answered review the paragraph as it stands (the latest edit, else the model's) for
    /// the edit form, and the tool's position for the form's field id.
    static func withEditableText(_ personas: TemplateValue?, document: ReviewDocument) -> TemplateValue {
        guard case .list(let rows)? = personas else { return .list([]) }
        return .list(
            rows.map { row in
                guard case .object(var persona) = row, case .text(let id)? = persona["id"], case .list(let reviews)? = persona["reviews"]
                else {
                    return row
                }
                persona["reviews"] = .list(
                    reviews.enumerated().map { index, value in
                        guard case .object(var cell) = value, index < document.tools.count else { return value }
                        let tool = document.tools[index]
                        let original = tool.reviews.first { $0.persona == id }?.text ?? ""
                        cell["raw_text"] = .text(document.editor?.edit(tool: tool.name, persona: id)?.text ?? original)
                        // The edit box's accessible name: "Edit Builder's paragraph on Mistral 3 Small".
                        cell["edit_label"] = .text("Edit \(document.personaName(id))'s paragraph on \(tool.name)")
                        cell["tool_index"] = .number(index)
                        return .object(cell)
                    })
                return .object(persona)
            })
    }

    // MARK: editor actions from forms

    func editorAction(_ request: Request, _ context: ServerContext, kind: EditorAction.Kind) async throws -> Response {
        let form = FormFields(try await RequestBodies.text(request, context: context))
        guard let (identity, csrf) = try sessionIdentity(context, form: form) else { return signInPage(request, status: .unauthorized) }
        let id = try context.parameters.require("id")
        do {
            try identity.require(.editor)
            let review = try await server.review(id: id)
            var request = ReviewEditing.Request()
            switch kind {
            case .edit:
                request.edits = [.init(tool: form["tool"] ?? "", persona: form["persona"] ?? "", text: form["text"] ?? "")]
            case .override:
                guard let verdict = ReviewEditing.Request.OverridePayload.VerdictPayload(rawValue: form["verdict"] ?? "") else {
                    throw FieldRules.refusal(ReviewEditing.operation, "override.verdict")
                }
                request.override = .init(tool: form["tool"] ?? "", verdict: verdict, note: form["note"] ?? "")
            case .approve:
                request.approve = true
                if form["confirm"] == "true" { request.confirm = true }
            }
            let actions = try await ReviewEditing(server: server).actions(request, review: review, by: identity.token.name)
            _ = try await server.store.addEditorActions(review: review.id, actions)
            return Self.redirect("/reviews/\(review.id)?saved=1")
        } catch let error as APIError {
            guard let review = try await server.store.review(id: id) else {
                return page("", title: "Not found", identity: identity, status: .notFound, error: error.message)
            }
            let document = try review.document(actions: try await server.store.editorActions(review: review.id))
            return page(
                reviewBody(review, document: document, identity: identity, csrf: csrf), title: review.title, identity: identity,
                status: error.status, error: error.message)
        }
    }
}

/// `application/x-www-form-urlencoded` fields, in order (a field may repeat).
struct FormFields {
    let pairs: [(String, String)]

    init(_ text: String) {
        pairs = text.split(separator: "&").map { part in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decode(pieces[0]), pieces.count > 1 ? decode(pieces[1]) : "")
        }
    }

    subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
}
