import Crypto
public import Foundation
import ModelBackends
public import PanelEngine
public import PanelKit
import Synchronization

/// What readers get of published reviews — the page at `/p/{slug}`, its JSON, the Atom feed and the
/// sitemap — served by `panel serve` and written as static files by `panel publish`, from one renderer.
///
/// A page is the review's document as the editors left it (edits and overrides applied), in the
/// document's HTML with the publication's byline, a canonical link, OpenGraph and Twitter card meta, and
/// schema.org JSON-LD: a `CriticReview` authored by the publication, naming the approving editor, about
/// a `SoftwareApplication` per tool (with an `Offer` when its pricing states a price) — never an
/// `AggregateRating` made of the personas' scores. Everything from a listing or a model is escaped.
public struct PublishedSite: Sendable {
    /// The publication: its name and the base every absolute URL starts with (no trailing slash).
    public var name: String
    public var baseURL: String

    public init(name: String?, baseURL: String) {
        self.name = name ?? "panel"
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    /// One published review, ready to render.
    public struct Page: Sendable {
        public var publication: Publication
        public var review: TeamReview
        public var document: ReviewDocument
        /// The approving editor's public name (their token's display name), when they have one.
        public var editorName: String?
        /// When an editor last changed it — an edit, an override, the approval (ISO 8601, as the editor block
        /// writes times).
        public var lastEdited: String?
    }

    /// A published review read from the store: its document with the editors' actions and the approving
    /// editor's public name. Nil when it is not published, or has no document.
    public static func page(_ publication: Publication, store: any ReviewStore, cache: PublishedCache? = nil) async throws -> Page? {
        guard let review = try await store.review(id: publication.review), review.status == .done, let text = review.document else {
            return nil
        }
        var document: ReviewDocument
        if let cached = cache?.document(review.id, text: text) {
            document = cached
        } else {
            document = try JSONDocumentRenderer.decode(Data(text.utf8), source: "review \(review.id)")
            cache?.keep(review.id, text: text, document: document)
        }
        document.editor = EditorAction.editor(try await store.editorActions(review: review.id))
        // Readers' votes as of now: the Community row and `community_votes` (the listing's text stays in `community`).
        let votes = try await store.voteCounts(review: review.id)
        for index in document.tools.indices { document.tools[index].communityVotes = votes[document.tools[index].name] ?? CommunityVotes() }
        var editorName: String?
        if let by = document.editor?.approved?.by {
            editorName = try await store.token(named: by)?.displayName
        }
        return Page(
            publication: publication, review: review, document: document, editorName: editorName,
            lastEdited: document.editor.flatMap { editor in
                (editor.edits.map(\.at) + editor.overrides.map(\.at) + [editor.approved?.at].compactMap { $0 }).max()
            })
    }

    /// Every published review, most recently published first (at most `limit`).
    public static func pages(store: any ReviewStore, cache: PublishedCache? = nil, limit: Int = 100_000) async throws -> [Page] {
        var pages: [Page] = []
        for publication in try await store.publications(limit: limit) {
            if let page = try await page(publication, store: store, cache: cache) { pages.append(page) }
        }
        return pages
    }

    /// Writes the site as static files into `directory`: `index.html`, `p/SLUG/index.html`, `p/SLUG.json`,
    /// `feed.xml` and `sitemap.xml` (`panel publish`), each replaced atomically.
    public func export(_ pages: [Page], to directory: URL, templates: DocumentTemplates = .builtIn()) throws {
        let root = directory.appendingPathComponent("p")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for page in pages {
            let folder = root.appendingPathComponent(page.publication.slug)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try AtomicFile.write(html(page, templates: templates), to: folder.appendingPathComponent("index.html").path)
            try AtomicFile.write(json(page), to: root.appendingPathComponent("\(page.publication.slug).json").path)
        }
        try AtomicFile.write(index(pages), to: directory.appendingPathComponent("index.html").path)
        try AtomicFile.write(feed(pages), to: directory.appendingPathComponent("feed.xml").path)
        try AtomicFile.write(sitemap(pages), to: directory.appendingPathComponent("sitemap.xml").path)
    }

    public func url(_ page: Page) -> String { "\(baseURL)/p/\(page.publication.slug)" }

    // MARK: the page

    /// The vote forms of a served page (the static site has none): the reader's form token, or voting closed.
    public struct VoteForms: Sendable {
        public var formToken: String
        public var open: Bool
    }

    /// The page's HTML: the document as editors left it, with the publication's head and byline, and on a
    /// served page the readers' vote forms.
    public func html(_ page: Page, templates: DocumentTemplates = .builtIn(), votes: VoteForms? = nil) -> String {
        let document = templates.renderHTML(page.document)
        let head = headHTML(page)
        let byline =
            "<p class=\"byline\">Reviewed by \(escape(page.editorName ?? name)) for \(escape(name)) · published <time datetime=\"\(iso(page.publication.publishedAt))\">\(day(page.publication.publishedAt))</time></p>\n"
        var html = document
        if let end = html.range(of: "</head>") { html.replaceSubrange(end.lowerBound..<end.lowerBound, with: head) }
        if let main = html.range(of: "<main>\n") { html.replaceSubrange(main.upperBound..<main.upperBound, with: byline) }
        if let votes {
            let section = votesHTML(page, votes)
            if let end = html.range(of: "</main>", options: .backwards) {
                html.replaceSubrange(end.lowerBound..<end.lowerBound, with: section)
            }
            // The script outside the page's content, where nothing from a listing or a model is.
            if votes.open, let end = html.range(of: "</body>", options: .backwards) {
                html.replaceSubrange(end.lowerBound..<end.lowerBound, with: "<script src=\"/votes.js\" defer></script>\n")
            }
        }
        return html
    }

    /// One ship/skip form per tool, posting without JavaScript and updated in place with it (`/votes.js`).
    func votesHTML(_ page: Page, _ votes: VoteForms) -> String {
        var html =
            "<section id=\"votes\" class=\"votes\" aria-labelledby=\"votes-heading\">\n<h2 id=\"votes-heading\">Community votes</h2>\n"
        let slug = escape(page.publication.slug)
        for tool in page.document.tools {
            let count = tool.communityVotes.flatMap { $0.readers > 0 ? $0.line : nil } ?? "No community votes yet"
            let name = escape(tool.name)
            if votes.open {
                html += """
                    <form method="post" action="/p/\(slug)/votes" class="vote">
                    <p><strong>\(name)</strong>: <span class="vote-count" role="status">\(escape(count))</span></p>
                    <input type="hidden" name="tool" value="\(name)"><input type="hidden" name="form_token" value="\(escape(votes.formToken))">
                    <button type="submit" name="verdict" value="ship" aria-label="Ship \(name)">Ship</button> <button type="submit" name="verdict" value="skip" aria-label="Skip \(name)">Skip</button>
                    </form>

                    """
            } else {
                html += "<p><strong>\(name)</strong>: \(escape(count))</p>\n"
            }
        }
        if !votes.open { html += "<p>Voting on this page is closed.</p>\n" }
        html += "</section>\n"
        return html
    }

    /// The script that sends a vote and shows the new counts without leaving the page.
    public static let votesScript = """
        document.addEventListener("submit", async (event) => {
          const form = event.target.closest("form.vote");
          if (!form) return;
          event.preventDefault();
          const count = form.querySelector(".vote-count");
          const body = new URLSearchParams(new FormData(form, event.submitter));
          try {
            const response = await fetch(form.action, {method: "POST", body, credentials: "same-origin", headers: {"Accept": "application/json"}});
            const data = await response.json();
            count.textContent = response.ok
              ? `${data.readers} ${data.readers === 1 ? "reader" : "readers"} · ${data.ship} ship / ${data.skip} skip`
              : (data.error && data.error.message) || "Your vote could not be counted.";
          } catch (error) {
            count.textContent = "Your vote could not be sent; try again.";
          }
        });

        """

    func headHTML(_ page: Page) -> String {
        let title = page.document.title
        let description = summary(page)
        let canonical = url(page)
        return """
            <link rel="canonical" href="\(escape(canonical))">
            <link rel="alternate" type="application/atom+xml" title="\(escape(name))" href="\(escape(baseURL))/feed.xml">
            <meta name="description" content="\(escape(description))">
            <meta property="og:type" content="article">
            <meta property="og:title" content="\(escape(title))">
            <meta property="og:description" content="\(escape(description))">
            <meta property="og:url" content="\(escape(canonical))">
            <meta property="og:site_name" content="\(escape(name))">
            <meta property="article:published_time" content="\(iso(page.publication.publishedAt))">
            <meta name="twitter:card" content="summary">
            <meta name="twitter:title" content="\(escape(title))">
            <meta name="twitter:description" content="\(escape(description))">
            <script type="application/ld+json">\(jsonLD(page))</script>
            <style>.byline { color: var(--muted); font-size: .9rem; margin: 0 0 1rem; } .votes form { margin: .75rem 0; } .votes button { font: inherit; padding: .4rem .9rem; border-radius: .4rem; border: 1px solid var(--bar); background: var(--bg); color: var(--bar); cursor: pointer; }</style>

            """
    }

    /// "Ship · 3 ship / 1 skip" per tool (an editor's verdict first when they overrode it).
    func summary(_ page: Page) -> String {
        page.document.tools.map { tool in
            let verdict =
                page.document.editor?.override(tool: tool.name).map { "\($0.verdict.rawValue.capitalized) (editor's call)" }
                ?? tool.panel.headline
            return "\(tool.name): \(verdict)"
        }.joined(separator: "; ")
    }

    /// schema.org JSON-LD, safe inside a script element (`<` written as `\u003c`).
    func jsonLD(_ page: Page) -> String {
        let publisher: [String: JSONValue] = ["@type": .string("Organization"), "name": .string(name), "url": .string(baseURL)]
        var review: [String: JSONValue] = [
            "@context": .string("https://schema.org"), "@type": .string("CriticReview"), "name": .string(page.document.title),
            "url": .string(url(page)), "datePublished": .string(iso(page.publication.publishedAt)),
            "dateModified": .string(iso(page.publication.updatedAt)), "author": .object(publisher), "publisher": .object(publisher),
            "reviewBody": .string(summary(page)), "inLanguage": .string("en"),
        ]
        if let editor = page.editorName { review["editor"] = .object(["@type": .string("Person"), "name": .string(editor)]) }
        let items = page.document.tools.map { tool -> JSONValue in
            var item: [String: JSONValue] = ["@type": .string("SoftwareApplication"), "name": .string(tool.name)]
            if let category = tool.category { item["applicationCategory"] = .string(category) }
            if let tagline = tool.tagline { item["description"] = .string(tagline) }
            if let link = tool.url, link.lowercased().hasPrefix("http") { item["url"] = .string(link) }
            // An offer only where the pricing (or the entry price) states a price.
            let prices = ClaimExtractor.prices(in: [tool.pricing, tool.entry].compactMap { $0 }.joined(separator: " · "))
            if let price = prices.first {
                var offer: [String: JSONValue] = [
                    "@type": .string("Offer"), "price": .string(Self.decimal(price.amount)), "priceCurrency": .string(price.currency),
                ]
                if !price.per.isEmpty, price.per != "free" {
                    offer["description"] = .string("per " + price.per.replacingOccurrences(of: "/", with: " per "))
                }
                item["offers"] = .object(offer)
            }
            return .object(item)
        }
        review["itemReviewed"] = items.count == 1 ? items[0] : .array(items)
        return JSONValue.object(review).canonicalText().replacingOccurrences(of: "<", with: "\\u003c")
    }

    /// The page's JSON: the document as editors left it.
    public func json(_ page: Page) -> String { JSONDocumentRenderer.render(page.document) }

    // MARK: feed, sitemap, index

    /// An Atom feed of the published reviews, newest first.
    public func feed(_ pages: [Page]) -> String {
        let updated = pages.map(\.publication.updatedAt).max() ?? Date(timeIntervalSince1970: 0)
        var xml = """
            <?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom">
            <title>\(xmlEscape(name))</title>
            <id>\(xmlEscape(baseURL))/feed.xml</id>
            <link rel="self" type="application/atom+xml" href="\(xmlEscape(baseURL))/feed.xml"/>
            <link rel="alternate" type="text/html" href="\(xmlEscape(baseURL))/"/>
            <updated>\(iso(updated))</updated>
            <author><name>\(xmlEscape(name))</name></author>

            """
        for page in pages {
            xml += """
                <entry>
                <title>\(xmlEscape(page.document.title))</title>
                <id>\(xmlEscape(url(page)))</id>
                <link rel="alternate" type="text/html" href="\(xmlEscape(url(page)))"/>
                <published>\(iso(page.publication.publishedAt))</published>
                <updated>\(iso(page.publication.updatedAt))</updated>
                <author><name>\(xmlEscape(page.editorName ?? name))</name></author>
                <summary>\(xmlEscape(summary(page)))</summary>
                </entry>

                """
        }
        return xml + "</feed>\n"
    }

    /// A sitemap of the published pages.
    public func sitemap(_ pages: [Page]) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
        for page in pages {
            xml += "<url><loc>\(xmlEscape(url(page)))</loc><lastmod>\(iso(page.publication.updatedAt))</lastmod></url>\n"
        }
        return xml + "</urlset>\n"
    }

    /// A list of the published reviews (the static site's front page).
    public func index(_ pages: [Page]) -> String {
        var items = ""
        for page in pages {
            items +=
                "<li><a href=\"p/\(escape(page.publication.slug))/\">\(escape(page.document.title))</a> — \(escape(summary(page))) <time datetime=\"\(iso(page.publication.publishedAt))\">\(day(page.publication.publishedAt))</time></li>\n"
        }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(name))</title>
            <link rel="alternate" type="application/atom+xml" title="\(escape(name))" href="feed.xml">
            <style>body { font: 16px/1.5 system-ui, sans-serif; color: #1b1f24; max-width: 48rem; margin: 0 auto; padding: 1.5rem 1rem; } li { margin: .5rem 0; }</style>
            </head>
            <body>
            <main>
            <h1>\(escape(name))</h1>
            <ul>
            \(items)</ul>
            </main>
            </body>
            </html>

            """
    }

    // MARK: helpers

    /// A strong validator of a body.
    public static func etag(_ body: String) -> String {
        "\"" + ContentHash.hex(SHA256.hash(data: Data(body.utf8)).prefix(12)) + "\""
    }

    static func decimal(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    func escape(_ text: String) -> String { Template.escaped(text, .html) }

    func xmlEscape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 has no place for most control characters.
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    func iso(_ date: Date) -> String { CFormat.iso8601(date) }
    func day(_ date: Date) -> String { String(CFormat.iso8601(date).prefix(10)) }
}

/// What a server keeps between public reads: each published review's decoded document (keyed by its text, so
/// a changed one is decoded again) and the store's keys. Bounded: past 1,000 documents it starts afresh.
public final class PublishedCache: Sendable {
    struct State {
        var documents: [String: (text: Int, document: ReviewDocument)] = [:]
        var keys: [String: String] = [:]
    }

    let state = Mutex(State())

    public init() {}

    func document(_ review: String, text: String) -> ReviewDocument? {
        state.withLock { state in
            guard let entry = state.documents[review], entry.text == text.hashValue else { return nil }
            return entry.document
        }
    }

    func keep(_ review: String, text: String, document: ReviewDocument) {
        state.withLock { state in
            if state.documents.count >= 1_000 { state.documents.removeAll() }
            state.documents[review] = (text.hashValue, document)
        }
    }

    func key(_ name: String) -> String? { state.withLock { $0.keys[name] } }
    func keep(key name: String, _ value: String) { state.withLock { $0.keys[name] = value } }
}
