import ArgumentParser
import Foundation
import PanelRuntime
import PanelServer

/// `panel publish --out DIR`: the published reviews as a static site for any static host — the same pages,
/// JSON, feed and sitemap `panel serve` answers (community counts as of the export; no vote form).
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Write the published reviews as a static site: index, pages, their JSON, an Atom feed and a sitemap.",
        discussion: """
            Reads the reviews editors published on the team server (POST /v1/reviews/{id}/publication) from the store
            and writes DIR/index.html, DIR/p/SLUG/index.html, DIR/p/SLUG.json, DIR/feed.xml and DIR/sitemap.xml.
            Absolute links (canonical, feed, sitemap) start with --base-url, else panel.yaml's publication.url.

            Example:
              panel publish --out site/ --store postgres://panel@db/panel --base-url https://reviews.example.com
            """)

    @OptionGroup var store: StoreOption
    @Option(help: ArgumentHelp("The directory to write the site into (made if missing).", valueName: "DIR")) var out: String
    @Option(help: ArgumentHelp("The address the site is served at (default: panel.yaml's publication.url).", valueName: "URL"))
    var baseUrl: String?
    @Option(
        help: ArgumentHelp("The configuration whose publication: section names the site (default: panel.yaml here).", valueName: "FILE"))
    var config: String?

    func validate() throws {
        if let baseUrl {
            let lowered = baseUrl.lowercased()
            guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://"), URL(string: baseUrl)?.host != nil else {
                throw ValidationError("--base-url must be an http(s) URL, not '\(baseUrl)'")
            }
        }
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        var name: String?
        var url: String?
        let path = config ?? (FileManager.default.fileExists(atPath: PanelConfiguration.fileName) ? PanelConfiguration.fileName : nil)
        if let path {
            do {
                let configuration = try PanelConfiguration.load(path: path)
                (name, url) = (configuration.publicationName, configuration.publicationURL)
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
        }
        guard let base = baseUrl ?? url else {
            log.error("publish: give --base-url URL (the address the site is served at), or publication.url in panel.yaml")
            throw PanelExit.usage
        }
        let database: any ReviewStore
        do {
            database = try await store.open(mustExist: true)
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let site = PublishedSite(name: name, baseURL: base)
        do {
            let pages = try await PublishedSite.pages(store: database)
            try site.export(pages, to: URL(fileURLWithPath: out))
            log.info("published \(pages.count) review(s) into \(out) (index.html, p/, feed.xml, sitemap.xml) for \(site.baseURL)")
        } catch {
            log.error("publish: \(error)")
            throw PanelExit.nothingProduced
        }
    }
}
