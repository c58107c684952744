import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit

/// Readers' votes on published pages: ship or skip per tool, one per reader per tool (a random reader id in
/// a signed, first-party, `SameSite=Lax`, `HttpOnly` cookie; a reader may change their vote), at most
/// `--votes-per-network-hour` new votes per network (IPv4 /24, IPv6 /64, kept only as a hash under a key
/// that changes every day), a form token bound to the reader and the page, cross-site posts refused (the
/// origin check every state-changing request gets). Votes live in the store, so servers sharing it count
/// the same votes.
struct Votes {
    let server: TeamServer

    static let cookie = "panel_reader"

    /// The keys, kept in the store (one value for every server sharing it).
    func key(_ name: String) async throws -> SymmetricKey {
        if let text = server.published.key(name) { return SymmetricKey(data: Data(text.utf8)) }
        let text = try await server.store.secret(name) { TeamTokens.randomText(43) }
        server.published.keep(key: name, text)
        return SymmetricKey(data: Data(text.utf8))
    }

    static func mac(_ key: SymmetricKey, _ text: String) -> String {
        ContentHash.hex(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key).prefix(16))
    }

    /// The reader's id from their cookie, when its signature holds.
    func reader(_ request: Request) async throws -> String? {
        guard let value = request.cookies[Self.cookie]?.value, value.count <= 100 else { return nil }
        let parts = value.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].count == 24 else { return nil }
        return Self.mac(try await key("reader-cookie"), parts[0]) == parts[1] ? parts[0] : nil
    }

    /// A new reader's id and the cookie that carries it.
    func newReader(secure: Bool) async throws -> (id: String, cookie: String) {
        let id = TeamTokens.randomText(24)
        let signed = "\(id).\(Self.mac(try await key("reader-cookie"), id))"
        return (id, "\(Self.cookie)=\(signed); Path=/p; Max-Age=31536000; HttpOnly; SameSite=Lax\(secure ? "; Secure" : "")")
    }

    /// The token a page's vote form carries: bound to the page and the reader.
    func formToken(slug: String, reader: String) async throws -> String {
        Self.mac(try await key("vote-form"), "\(slug)\n\(reader)")
    }

    /// The reader's network (IPv4 /24, IPv6 /64) under today's key.
    func network(_ client: String, at date: Date) async throws -> String {
        var prefix = client
        if let bytes = NetworkPrefix.address(client) {
            prefix =
                bytes.count == 4
                ? bytes.prefix(3).map(String.init).joined(separator: ".") : ContentHash.hex(bytes.prefix(8))
        }
        let day = String(CFormat.iso8601(date).prefix(10))
        return Self.mac(try await key("vote-network-\(day)"), prefix)
    }

    // MARK: the vote

    /// `POST /p/{slug}/votes`, form-encoded `tool`, `verdict` and `form_token`: 303 back to the page, or
    /// 200 `{"tool", "readers", "ship", "skip"}` for a request that accepts JSON.
    func cast(_ request: Request, _ context: ServerContext) async throws -> Response {
        let slug = try context.parameters.require("slug")
        let wantsJSON = request.headers[.accept]?.contains("application/json") == true
        func refuse(_ error: APIError, reason: String) -> APIError {
            server.metrics.vote("refused", reason: reason)
            return error
        }
        guard slug.count <= 200, let publication = try await server.store.publication(slug: slug) else {
            throw refuse(APIError.notFound("published page '\(slug.prefix(80))'"), reason: "not_published")
        }
        guard publication.votingOpen else {
            throw refuse(APIError(.conflict, code: "voting_closed", "voting on this page is closed"), reason: "closed")
        }
        let form = FormFields(try await RequestBodies.text(request, context: context))
        guard let reader = try await reader(request) else {
            throw refuse(
                APIError(.forbidden, code: "form_token", "voting needs the page's cookie: open the page, then vote (cookies must be on)"),
                reason: "form_token")
        }
        guard let sent = form["form_token"], AuthMiddleware.same(sent, try await formToken(slug: slug, reader: reader)) else {
            throw refuse(
                APIError(.forbidden, code: "form_token", "the vote's form token is not this page's: reload the page"), reason: "form_token")
        }
        guard let verdict = form["verdict"].flatMap(Verdict.init(rawValue:)) else {
            throw refuse(APIError.badRequest("verdict: ship or skip"), reason: "bad_request")
        }
        guard let review = try await server.store.review(id: publication.review), let text = review.document,
            let tool = try JSONDocumentRenderer.decode(Data(text.utf8), source: "review").tools.first(where: { $0.name == form["tool"] })
        else {
            throw refuse(APIError.badRequest("tool: the name of a tool on this page"), reason: "bad_request")
        }
        let now = server.now()
        let vote = CommunityVote(
            review: publication.review, tool: tool.name, reader: reader, network: try await network(context.client, at: now),
            verdict: verdict, at: now)
        switch try await server.store.vote(vote, limitPerNetworkHour: server.options.votesPerNetworkHour) {
        case .counted(let votes, let changed):
            server.metrics.vote(changed ? "changed" : "accepted")
            if wantsJSON {
                return JSONResponse.make(
                    .object([
                        "tool": .string(tool.name), "readers": .int(votes.readers), "ship": .int(votes.ship), "skip": .int(votes.skip),
                    ]))
            }
            return Response(status: .seeOther, headers: [.location: "/p/\(slug)#votes"])
        case .notPublished:
            throw refuse(APIError.notFound("published page '\(slug.prefix(80))'"), reason: "not_published")
        case .closed:
            throw refuse(APIError(.conflict, code: "voting_closed", "voting on this page is closed"), reason: "closed")
        case .networkLimit:
            throw refuse(
                APIError(
                    .tooManyRequests, code: "network_limit",
                    "your network cast \(server.options.votesPerNetworkHour) votes this hour; try again later",
                    headers: [.retryAfter: "3600"]),
                reason: "network_limit")
        }
    }
}
