import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PanelRuntime
import PanelServer

/// `panel serve`: the team's review service — the JSON API, event streams and the web page.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the team's review service: a web page and a JSON API on one engine and store.",
        discussion: """
            Listens on 127.0.0.1:8787 by default. With the default SQLite store it runs alone with no setup; \
            with --store postgres://… it shares tokens, reviews and the batch queue with other servers and \
            panel workers. Reviews use the configured backends (panel.yaml, --config, --base-url, or the one \
            detected), streamed so the page fills in live. The API is described at /openapi.yaml; /metrics is \
            Prometheus text; /healthz says it is up. SIGTERM or Ctrl-C stops it gracefully: no new requests, \
            event streams end, running reviews get --grace-seconds to finish and are then put back in the queue.

            Examples:
              panel tokens create --role admin --name me      # prints a token, once
              panel serve                                       # then open http://127.0.0.1:8787
              panel serve --listen 0.0.0.0:8787 --store postgres://panel@db.internal/panel --config panel.yaml

            Exit codes: 0 stopped; 2 bad invocation (the address, the store or the configuration).
            """
    )

    @Option(help: ArgumentHelp("Address and port to listen on (port 0: any free one).", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:8787"

    @OptionGroup(title: "Model backend")
    var backend: BackendOptions

    @Option(help: ArgumentHelp("A directory of persona prompt files to use instead of the built-in ones.", valueName: "DIR"))
    var prompts: String?

    @Option(help: ArgumentHelp("A directory of document templates overriding the built-in ones.", valueName: "DIR"))
    var templates: String?

    @Option(help: ArgumentHelp("Largest request body, in KiB.", valueName: "KIB"))
    var maxBodyKib = 1024

    @Option(help: ArgumentHelp("Requests one token may make per minute.", valueName: "N"))
    var requestsPerMinute = 600

    @Option(
        help: ArgumentHelp(
            "Reviews run at once; more wait their turn (0: this server only accepts them; panel workers run them).", valueName: "N"))
    var maxReviews = 16

    @Flag(help: "Mark the session cookie Secure (behind a TLS proxy that does not send X-Forwarded-Proto: https).")
    var secureCookies = false

    @Flag(help: "Do not drain the batch queue here (leave POST /v1/batches jobs to panel workers).")
    var noWorker = false

    @Flag(help: "Ask for whole answers instead of streamed ones (the page then shows each persona when it finishes).")
    var noStream = false

    @Option(
        help: ArgumentHelp(
            "The address people open the page at, e.g. https://panel.example.com (default: the listen address); a browser's state-changing request from any other origin is refused.",
            valueName: "URL"))
    var publicURL: String?

    @Option(
        name: .customLong("trusted-proxy"),
        help: ArgumentHelp(
            "A reverse proxy's network (repeatable): only its X-Forwarded-For names the client; any other peer is the client.",
            valueName: "CIDR"))
    var trustedProxies: [String] = []

    @Option(help: ArgumentHelp("Seconds a connection has to send a request's headers.", valueName: "S"))
    var headerTimeoutSeconds = 10.0

    @Option(help: ArgumentHelp("Seconds a kept-alive connection may sit idle.", valueName: "S"))
    var idleTimeoutSeconds = 60.0

    @Option(help: ArgumentHelp("Connections open at once, in all (beyond: 503; at most the file limit less 128).", valueName: "N"))
    var maxConnections = 4096

    @Option(help: ArgumentHelp("Connections open at once from one client address (beyond: 503).", valueName: "N"))
    var maxConnectionsPerClient = 256

    @Option(help: ArgumentHelp("Reviews one token may have queued or running at once (beyond: 429).", valueName: "N"))
    var maxQueuedPerToken = 50

    @Option(
        help: ArgumentHelp(
            "New readers' votes one network (IPv4 /24, IPv6 /64) may cast on published pages in an hour (beyond: 429).", valueName: "N"))
    var votesPerNetworkHour = 20

    @Option(
        help: ArgumentHelp(
            "On SIGTERM, seconds running reviews have to finish before they are put back in the queue.", valueName: "S"))
    var graceSeconds = 30.0

    @Option(
        help: ArgumentHelp(
            "Seconds a review or batch listing is held without a heartbeat (renewed every third of it): another server or worker on the store takes a review over this long after its server died.",
            valueName: "S"))
    var leaseSeconds = QueueDefaults.lease.seconds

    @Option(help: ArgumentHelp("Write the port listened on to FILE once ready (for scripts).", valueName: "FILE"))
    var readyFile: String?

    @Flag(name: .shortAndLong, help: "Log warnings and errors only (no access log).")
    var quiet = false

    func validate() throws {
        try backend.validate()
        guard Self.address(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8787 (port 0-65535)") }
        guard (1...65536).contains(maxBodyKib) else { throw ValidationError("--max-body-kib must be from 1 to 65536") }
        guard (1...1_000_000).contains(requestsPerMinute) else { throw ValidationError("--requests-per-minute must be from 1 to 1000000") }
        guard (0...1000).contains(maxReviews) else {
            throw ValidationError("--max-reviews must be from 0 (this server runs none: panel workers do) to 1000")
        }
        if let publicURL, TrustedOrigins.origin(of: publicURL) == nil {
            throw ValidationError("--public-url must be an http:// or https:// URL with a host, e.g. https://panel.example.com")
        }
        for proxy in trustedProxies where NetworkPrefix(proxy) == nil {
            throw ValidationError("--trusted-proxy '\(proxy)': an IPv4 or IPv6 address or network, e.g. 10.0.0.0/8 or ::1")
        }
        guard headerTimeoutSeconds > 0, headerTimeoutSeconds <= 3600 else {
            throw ValidationError("--header-timeout-seconds must be from 0 to 3600")
        }
        guard idleTimeoutSeconds > 0, idleTimeoutSeconds <= 86400 else {
            throw ValidationError("--idle-timeout-seconds must be from 0 to 86400")
        }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--max-connections must be from 1 to 1000000") }
        guard (1...1_000_000).contains(maxConnectionsPerClient) else {
            throw ValidationError("--max-connections-per-client must be from 1 to 1000000")
        }
        guard (1...1_000_000).contains(votesPerNetworkHour) else {
            throw ValidationError("--votes-per-network-hour must be from 1 to 1000000")
        }
        guard (1...1_000_000).contains(maxQueuedPerToken) else { throw ValidationError("--max-queued-per-token must be from 1 to 1000000") }
        guard graceSeconds >= 0, graceSeconds <= 3600 else { throw ValidationError("--grace-seconds must be from 0 to 3600") }
        guard (0.1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be from 0.1 to 3600") }
        if backend.record != nil {
            throw ValidationError("--record is for panel review and batch; the server keeps its answers in the store")
        }
    }

    static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        let level: Logger.Level = quiet ? .warning : .info
        // Traces when the OTEL_* variables ask (Telemetry): log lines then carry the span's trace and span ids.
        let exporter = Telemetry.start(command: "serve", log: log)
        let provider = exporter == nil ? nil : Telemetry.provider
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "panel-serve")
        let store: any ReviewStore
        let engine: ReviewEngine
        let settings: BackendSettings
        do {
            let runtime = try await backend.runtime(
                .always, log: log, prompts: prompts, templates: templates, stream: !noStream, storePatience: .seconds(60))
            engine = runtime.engine
            settings = runtime.backendSettings
            store = try runtime.openedStore()
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        let (host, port) = Self.address(listen)!
        var options = ServerOptions(
            host: host, port: port, maxBodyBytes: maxBodyKib * 1024, requestsPerMinute: requestsPerMinute, maxConcurrentReviews: maxReviews,
            secureCookies: secureCookies, runWorker: !noWorker, workerConcurrency: backend.concurrency, publicURL: publicURL,
            trustedProxies: trustedProxies.compactMap(NetworkPrefix.init), headerTimeout: .seconds(headerTimeoutSeconds),
            idleTimeout: .seconds(idleTimeoutSeconds), maxConnections: maxConnections, maxConnectionsPerClient: maxConnectionsPerClient,
            maxQueuedReviewsPerToken: maxQueuedPerToken, grace: .seconds(graceSeconds),
            lease: .milliseconds(Int64(leaseSeconds * 1000)))
        options.votesPerNetworkHour = votesPerNetworkHour
        let server = TeamServer(
            store: store, engine: engine, backendSettings: settings, options: options, logger: logger)
        let readyFile = self.readyFile
        let app = server.makeApplication(services: exporter.map { [$0] } ?? []) { bound in
            log.info("panel serve: http://\(host.contains(":") ? "[\(host)]" : host):\(bound) (store \(store.location)); Ctrl-C stops")
            if let readyFile { try? Data("\(bound)\n".utf8).write(to: URL(fileURLWithPath: readyFile), options: .atomic) }
        }
        do {
            try await app.runService()
        } catch {
            log.error("panel serve: \(error)")
            throw PanelExit.usage
        }
    }
}
