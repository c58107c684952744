public import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging
import ModelBackends
public import PanelEngine
import PanelKit
import ServiceLifecycle

/// `panel serve`: the team's review service. One engine (the server's configuration and backends),
/// one store (SQLite alone, or PostgreSQL shared with workers and other servers), the JSON API, the
/// event streams and the web page. ``makeApplication()`` builds the Hummingbird application, with the
/// review runner and (optionally) a queue worker as its services.
public struct TeamServer: Sendable {
    public let store: any ReviewStore
    public let engine: ReviewEngine
    public let backendSettings: BackendSettings
    public let options: ServerOptions
    public let logger: Logger
    public let metrics: ServerMetrics
    public let events: ReviewEvents
    let runner: ReviewRunner
    let rates: LocalRateWindows
    /// The origins a browser's state-changing request may come from.
    public let origins: TrustedOrigins
    /// The connections open now, against the caps.
    public let connections: ConnectionTable
    let rendered = RenderedDocuments()
    let now: @Sendable () -> Date

    /// `resumeUnfinished`: run again the reviews the store has queued or running (right when this
    /// server is the store's only one, as with SQLite).
    public init(
        store: any ReviewStore, engine: ReviewEngine, backendSettings: BackendSettings, options: ServerOptions, logger: Logger,
        resumeUnfinished: Bool, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.engine = engine
        self.backendSettings = backendSettings
        self.options = options
        self.logger = logger
        self.now = now
        let metrics = ServerMetrics()
        let events = ReviewEvents()
        self.metrics = metrics
        self.events = events
        self.rates = LocalRateWindows(now: { now().timeIntervalSince1970 })
        self.origins = TrustedOrigins(publicURL: options.publicURL, listenHost: options.host, port: options.port)
        self.connections = ConnectionTable(
            maxTotal: ConnectionTable.fitted(options.maxConnections), maxPerClient: options.maxConnectionsPerClient)
        self.runner = ReviewRunner(
            store: store, engine: engine, events: events, metrics: metrics, concurrency: options.maxConcurrentReviews, logger: logger,
            resumeUnfinished: resumeUnfinished, grace: options.grace)
    }

    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        router.add(middleware: AccessLogMiddleware(metrics: metrics, logger: logger))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: CanonicalPathMiddleware())
        let clients = ClientAddresses(trustedProxies: options.trustedProxies)
        router.add(middleware: ClientAddressMiddleware(clients: clients, inFlight: ClientRequests(limit: options.maxConnectionsPerClient)))
        router.add(middleware: BodyLimitMiddleware(limit: options.maxBodyBytes))
        router.add(
            middleware: AuthMiddleware(
                store: store, origins: origins, rates: rates, requestsPerMinute: options.requestsPerMinute, now: now))
        ReviewsAPI(server: self).register(router)
        BatchesAPI(server: self).register(router)
        TokensAPI(server: self).register(router)
        WebPages(server: self).register(router)
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: "{\"status\":\"ok\"}\n")))
        }
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
        var services: [any Service] = [runner]
        if options.runWorker { services.append(QueueWorkerService(server: self)) }
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

/// Drains the batch queue in the server's process, as `panel worker` does, until shutdown.
struct QueueWorkerService: Service {
    let server: TeamServer

    func run() async throws {
        let store = server.store
        let settings = server.backendSettings
        let concurrency = server.options.workerConcurrency
        let calls = AsyncSemaphore(limit: concurrency)
        let owner = BatchDriver.makeOwner()
        let lease = Duration.seconds(30)
        let logger = server.logger
        let onEvent: @Sendable (EngineEvent) -> Void = { event in
            if case .problem(let message) = event { logger.warning("batch: \(message)") }
        }
        let worker = QueueWorker(
            store: store, owner: owner, calls: calls,
            options: .init(
                job: nil, drain: false, concurrency: concurrency, lease: lease, maxItemAttempts: 3,
                pollInterval: server.options.workerPollInterval,
                grace: server.options.grace),
            onEvent: onEvent,
            driver: { record in
                try BatchDriver.forJob(
                    record, backends: settings, store: store, calls: calls, owner: owner, lease: lease, maxItemAttempts: 3,
                    concurrency: concurrency, onEvent: onEvent)
            })
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            worker.stop()
        }
    }
}
