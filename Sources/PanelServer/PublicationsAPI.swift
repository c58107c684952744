import Foundation
import HTTPTypes
import Hummingbird
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit
import Synchronization

/// The published site: readers get a page, its JSON, the Atom feed and the sitemap without a token, and
/// vote with a form. (An editor publishes, unpublishes and opens voting through the generated API,
/// ``JSONAPI``.) Plain routes: HTML with validators and a reader's cookie, XML, a form post.
struct PublicationsAPI {
    let server: TeamServer

    func register(_ router: Router<ServerContext>) {
        router.get("/p/:slug") { request, context in try await page(request, context) }
        router.get("/feed.xml") { request, _ in try await listing(request, feed: true) }
        router.post("/p/:slug/votes") { request, context in try await Votes(server: server).cast(request, context) }
        router.get("/votes.js") { request, _ in
            Self.cached(
                request, body: PublishedSite.votesScript, contentType: "text/javascript; charset=utf-8",
                modified: Date(timeIntervalSince1970: 0),
                html: false)
        }
        router.get("/sitemap.xml") { request, _ in try await listing(request, feed: false) }
    }

    /// The site as this server publishes it: `publication:` in panel.yaml, else `--public-url`, else the
    /// address it listens on.
    var site: PublishedSite {
        let configuration = server.engine.backends.configuration
        let listen =
            "http://\(server.options.host == "0.0.0.0" || server.options.host == "::" ? "127.0.0.1" : server.options.host):\(server.origins.port.withLock { $0 })"
        return PublishedSite(
            name: configuration?.publicationName, baseURL: configuration?.publicationURL ?? server.options.publicURL ?? listen)
    }

    // MARK: public

    /// `/p/{slug}` (HTML) and `/p/{slug}.json`: 404 for a slug not published.
    func page(_ request: Request, _ context: ServerContext) async throws -> Response {
        var slug = try context.parameters.require("slug")
        let json = slug.hasSuffix(".json")
        if json { slug = String(slug.dropLast(5)) }
        guard slug.count <= 200, let publication = try await server.store.publication(slug: slug),
            let page = try await PublishedSite.page(publication, store: server.store, cache: server.published)
        else { throw APIError.notFound("published page '\(slug.prefix(80))'") }
        let site = self.site
        // Published, voting opened or closed, or edited since: whichever came last.
        let modified = max(publication.updatedAt, page.lastEdited.flatMap(CFormat.date(iso8601:)) ?? publication.updatedAt)
        if json {
            return Self.cached(
                request, body: site.json(page), contentType: "application/json; charset=utf-8", modified: modified, html: false)
        }
        // The vote forms carry a token bound to the reader: a reader without a (valid) cookie gets one.
        let votes = Votes(server: server)
        var reader = try await votes.reader(request)
        var cookie: String?
        if reader == nil, publication.votingOpen {
            let made = try await votes.newReader(secure: site.baseURL.lowercased().hasPrefix("https://"))
            (reader, cookie) = (made.id, made.cookie)
        }
        var formToken = ""
        if let reader { formToken = try await votes.formToken(slug: slug, reader: reader) }
        let forms = PublishedSite.VoteForms(formToken: formToken, open: publication.votingOpen)
        var response = Self.cached(
            request, body: site.html(page, templates: server.engine.settings.templates, votes: forms),
            contentType: "text/html; charset=utf-8", modified: modified, html: true)
        // A page with a reader's form token is theirs alone.
        response.headers[.cacheControl] = "private, no-cache"
        response.headers[.contentSecurityPolicy] = Self.pagePolicy
        if let cookie { response.headers[.setCookie] = cookie }
        return response
    }

    /// A published page styles itself inline and runs only the vote script, from this server.
    static let pagePolicy =
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func listing(_ request: Request, feed: Bool) async throws -> Response {
        let pages = try await PublishedSite.pages(store: server.store, cache: server.published, limit: 500)
        let site = self.site
        let body = feed ? site.feed(pages) : site.sitemap(pages)
        let modified = pages.map(\.publication.updatedAt).max() ?? Date(timeIntervalSince1970: 0)
        return Self.cached(
            request, body: body, contentType: feed ? "application/atom+xml; charset=utf-8" : "application/xml; charset=utf-8",
            modified: modified, html: false)
    }

    /// A public answer with its validators: `ETag` and `Last-Modified`, `304` when the reader has it,
    /// and "no-cache": caches keep it but ask again each time (cheap with the ETag), so unpublishing is at once.
    static func cached(_ request: Request, body: String, contentType: String, modified: Date, html: Bool) -> Response {
        let etag = PublishedSite.etag(body)
        var headers: HTTPFields = [
            .contentType: contentType, .eTag: etag, .lastModified: CFormat.httpDate(modified),
            .cacheControl: "public, no-cache",
        ]
        if html { headers[.contentSecurityPolicy] = SecurityHeadersMiddleware.documentPolicy }
        if let match = request.headers[.ifNoneMatch],
            match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag })
        {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
