public import Foundation
public import ModelBackends
public import ModelRouter
import PanelKit

/// Composes each configured backend into the chain DESIGN.md describes:
/// retries ─► (cache) ─► (recording) ─► (rate limit) ─► concurrency limit ─► billing ─► provider adapter ─► HTTP.
public enum BackendStack {
    /// Options that apply to every backend of a run.
    public struct Options: Sendable {
        /// Record every answer into this directory.
        public var recordDirectory: URL?
        /// Called before each retry wait.
        public var onRetry: @Sendable (_ backend: String, _ attempt: Int, _ error: BackendError, _ wait: Duration) -> Void
        public var clock: any Clock<Duration>
        /// The response cache; `nil` turns caching off.
        public var cache: (any ResponseCache)?
        public var cacheMode: CachingBackend.Mode
        /// Cache local backends too. Off by default: a local server is free, and it often answers with
        /// whatever model is loaded whatever name is asked for, so a cached answer may be stale.
        public var cacheLocal: Bool
        /// How long cached answers are good for (nil: for ever).
        public var cacheTTL: Duration?
        /// Router statistics to start from (e.g. stored ones, for a dry run); fresh when nil.
        public var statistics: BackendStatistics?
        public var routerTime: RouterTime
        /// Where backends' rate windows are counted (a shared store); in this process when nil.
        public var rateWindows: (any RateWindows)?

        public init(
            recordDirectory: URL? = nil,
            cache: (any ResponseCache)? = nil,
            cacheMode: CachingBackend.Mode = .normal,
            cacheLocal: Bool = false,
            cacheTTL: Duration? = nil,
            statistics: BackendStatistics? = nil,
            routerTime: RouterTime = .continuous(),
            rateWindows: (any RateWindows)? = nil,
            onRetry: @escaping @Sendable (String, Int, BackendError, Duration) -> Void = { _, _, _, _ in },
            clock: any Clock<Duration> = ContinuousClock()
        ) {
            self.recordDirectory = recordDirectory
            self.onRetry = onRetry
            self.clock = clock
            self.cache = cache
            self.cacheMode = cacheMode
            self.cacheLocal = cacheLocal
            self.cacheTTL = cacheTTL
            self.statistics = statistics
            self.routerTime = routerTime
            self.rateWindows = rateWindows
        }
    }

    /// One composed backend per configured backend, by name. `keys` come from
    /// ``PanelConfiguration/resolveKeys(environment:)``.
    public static func build(
        _ configuration: PanelConfiguration, keys: [String: String], options: Options = Options(), transport: HTTPTransport = .shared
    ) -> [String: any ModelBackend] {
        let redactor = Redactor(secrets: Array(keys.values) + configuration.backends.flatMap { BackendURL.secrets(in: $0.baseURL) })
        var result: [String: any ModelBackend] = [:]
        let windows = options.rateWindows ?? LocalRateWindows()
        for backend in configuration.backends {
            var chain: any ModelBackend = BillingBackend(
                backend.makeAdapter(apiKey: keys[backend.name], transport: transport), price: backend.price)
            chain = ConcurrencyLimitedBackend(chain, limit: backend.maxConcurrency)
            // Inside the retries: every attempt counts against the limit.
            if let limit = backend.rateLimit { chain = RateLimitedBackend(chain, limit: limit, windows: windows) }
            if let directory = options.recordDirectory {
                chain = RecordingBackend(chain, store: RecordingStore(directory: directory, redactor: redactor))
            }
            if let cache = options.cache, options.cacheLocal || !backend.isLocal {
                // Only answers the panel can read are worth keeping.
                chain = CachingBackend(
                    chain, cache: cache, model: backend.model, mode: options.cacheMode, ttl: options.cacheTTL,
                    isCacheable: { (try? ReviewParser.parse($0.text).get()) != nil })
            }
            let name = backend.name
            let onRetry = options.onRetry
            chain = RetryingBackend(
                chain, policy: backend.retry, clock: options.clock, onRetry: { onRetry(name, $0, $1, $2) }, model: backend.model)
            result[backend.name] = chain
        }
        if configuration.usesRouter {
            let candidates = configuration.backends.compactMap { config in
                result[config.name].map { RouteCandidate(backend: $0, configuration: config) }
            }
            result[PanelConfiguration.routerName] = ModelRouter(
                candidates: candidates, constraints: configuration.router, personaConstraints: configuration.personaRouters,
                statistics: options.statistics, time: options.routerTime, seed: configuration.routerSeed)
        }
        return result
    }
}
