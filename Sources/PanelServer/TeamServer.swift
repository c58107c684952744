public import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging
public import ModelBackends
import OpenAPIHummingbird
import OpenAPIRuntime
public import PanelEngine
import PanelKit
public import ServiceLifecycle

/// `panel serve`: the team's review service. One engine (the server's configuration and backends),
/// one store (SQLite alone, or PostgreSQL shared with workers and other servers), the JSON API, the
/// event streams and the web page. ``makeApplication()`` builds the Hummingbird application, with its
/// workers of the store's queue (reviews; batches unless `--no-worker`) as its services.
public struct TeamServer: Sendable {
    public let store: any ReviewStore
    public let engine: ReviewEngine
    public let backendSettings: BackendSettings
    public let options: ServerOptions
    public let logger: Logger
    public let metrics: ServerMetrics
    public let events: ReviewEvents
    /// The engines the server's workers made from jobs' settings (its own among them).
    let engines = JobEngines()
    /// Published pages' documents as decoded (a done review's document never changes) and the store's keys
    /// for readers' cookies and forms: read once, not on every public read.
    let published = PublishedCache()
    /// The settings its reviews are enqueued with (``JobSettings``): whoever works one reviews it as
    /// this server would.
    let reviewJobSettings: String
    /// Where tokens' request rates are counted: the store's windows unless a test gives its own.
    let rates: any RateWindows
    /// The origins a browser's state-changing request may come from.
    public let origins: TrustedOrigins
    /// The connections open now, against the caps.
    public let connections: ConnectionTable
    let rendered = RenderedDocuments()
    let now: @Sendable () -> Date

    public init(
        store: any ReviewStore, engine: ReviewEngine, backendSettings: BackendSettings, options: ServerOptions, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }, rateWindows: (any RateWindows)? = nil
    ) {
        self.store = store
        self.engine = engine
        self.backendSettings = backendSettings
        self.options = options
        self.logger = logger
        self.now = now
        let metrics = ServerMetrics()
        let events = ReviewEvents(store: store, pollInterval: options.eventPollInterval)
        self.metrics = metrics
        self.events = events
        self.rates = rateWindows ?? store
        self.origins = TrustedOrigins(publicURL: options.publicURL, listenHost: options.host, port: options.port)
        self.connections = ConnectionTable(
            maxTotal: ConnectionTable.fitted(options.maxConnections), maxPerClient: options.maxConnectionsPerClient)
        let settings = JobSettings(
            settings: engine.settings, formats: [.json], retryFailed: false, configuration: engine.backends.configuration
        ).json()
        self.reviewJobSettings = settings
        engines.seed(settings, engine)
    }

    /// `services` run beside the server's own, started first and stopped last (a trace exporter, which
    /// then sends the spans of reviews still finishing at shutdown).
    public func makeApplication(
        services extra: [any Service] = [], onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        // A server span per request once `panel` has bootstrapped a tracer, continuing a caller's traceparent.
        if Traces.isOn { router.add(middleware: TracingMiddleware()) }
        router.add(middleware: AccessLogMiddleware(metrics: metrics, logger: logger))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: CanonicalPathMiddleware())
        let clients = ClientAddresses(trustedProxies: options.trustedProxies)
        router.add(middleware: ClientAddressMiddleware(clients: clients, inFlight: ClientRequests(limit: options.maxConnectionsPerClient)))
        router.add(middleware: BodyLimitMiddleware(limit: options.maxBodyBytes))
        router.add(
            middleware: AuthMiddleware(
                store: store, origins: origins, rates: rates, requestsPerMinute: options.requestsPerMinute, now: now))
        // The JSON API's generated operations (openapi.yaml), and the routes it does not serve by hand.
        let api = router.group().add(middleware: APIScopeMiddleware())
        do {
            try JSONAPI(server: self).registerHandlers(
                on: api, configuration: .init(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]), middlewares: [RoleGate()])
        } catch {
            // Only a server URL the generated code cannot parse fails here, and the default one is "/".
            preconditionFailure("the generated JSON API did not register: \(error)")
        }
        ReviewsAPI(server: self).register(router)
        BatchesAPI(server: self).register(router)
        WebPages(server: self).register(router)
        PublicationsAPI(server: self).register(router)
        router.get("/metrics") { [metrics] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: .init(string: metrics.text())))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: .init(string: WebFiles.files["openapi.yaml"] ?? "")))
        }
        // With --max-reviews 0 the server only accepts reviews: `panel worker`s (or other servers) run them.
        var services: [any Service] = extra
        if options.maxConcurrentReviews > 0 { services.append(QueueWorkerService(server: self, kinds: .reviews)) }
        if options.runWorker { services.append(QueueWorkerService(server: self, kinds: .batches)) }
        let (table, origins, options) = (connections, self.origins, self.options)
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                GuardedHTTP1Channel(
                    responder: responder, table: table, clients: clients, headerTimeout: options.headerTimeout,
                    idleTimeout: options.idleTimeout)
            },
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.port
                origins.bound(port: port)
                await onServerRunning(port)
            },
            logger: logger)
    }

    /// Now, as documents and editor actions write it.
    func timestamp() -> String { CFormat.iso8601(now()) }
}

/// Sets the body limit on the request context.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let limit: Int

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        context.maxUploadSize = limit
        return try await next(request, context)
    }
}
