import Foundation
public import ModelBackends
import ModelRouter
import PanelKit

/// The backend stack of a run, built from typed settings: which backend answers each persona, the
/// model family of each configured backend, and what a persona's call may cost — one estimator, the
/// router's, for routing and budgets alike.
public struct EngineBackends: Sendable {
    public let configuration: PanelConfiguration?
    let byName: [String: any ModelBackend]
    let fallback: any ModelBackend
    let families: [String: String]

    /// Builds the stack. Every problem — a key variable that is not set, a recording directory that
    /// cannot be written, recordings that cannot be read — is an ``EngineError`` found before any call.
    public init(
        _ settings: BackendSettings, cache: (any ResponseCache)?, transport: HTTPTransport = .shared,
        onRetry: @escaping @Sendable (_ backend: String, _ attempt: Int, _ error: BackendError, _ wait: Duration) -> Void = { _, _, _, _ in
        }
    ) throws(EngineError) {
        switch settings.source {
        case .replay(let directory):
            do {
                let backend = try ReplayBackend(store: RecordingStore(directory: URL(fileURLWithPath: directory)))
                byName = [:]
                fallback = backend
            } catch {
                throw EngineError("--replay: \(error)")
            }
            configuration = nil
            families = [:]
        case .configuration(let configuration):
            let keys: [String: String]
            do {
                keys = try configuration.resolveKeys(environment: settings.environment)
            } catch {
                throw EngineError(error.description)
            }
            var recordDirectory: URL?
            if let directory = settings.recordDirectory {
                let url = URL(fileURLWithPath: directory)
                do {
                    try RecordingStore(directory: url).checkWritable()
                } catch {
                    throw EngineError("--record: \(error.description)")
                }
                recordDirectory = url
            }
            let useCache = settings.cacheMode != .off ? cache : nil
            let built = BackendStack.build(
                configuration, keys: keys,
                options: .init(
                    recordDirectory: recordDirectory, cache: useCache,
                    cacheMode: settings.cacheMode == .refresh || recordDirectory != nil ? .refresh : .normal,
                    cacheLocal: settings.cacheLocal, cacheTTL: settings.cacheTTL, rateWindows: cache as? any RateWindows, onRetry: onRetry),
                transport: transport)
            guard let fallback = built[configuration.defaultBackend] else {
                throw EngineError("\(configuration.source): panel.backend names '\(configuration.defaultBackend)', which is not configured")
            }
            self.configuration = configuration
            byName = built
            self.fallback = fallback
            var families: [String: String] = [:]
            for backend in configuration.backends { families[backend.name] = ModelFamily.of(backend) }
            self.families = families
        }
    }

    /// The backend answering a persona, decorators included.
    public func backend(for persona: String) -> any ModelBackend {
        guard let configuration else { return fallback }
        return byName[configuration.backendName(for: persona)] ?? fallback
    }

    /// The model family of a configured backend (nil for replays, whose answers name their model).
    public func family(ofBackend name: String) -> String? { families[name] }

    /// The most one call of this request by this persona could cost: the backend's estimate, or for a
    /// routed persona the most expensive backend the router could pick under its constraints. Zero
    /// for replays; nil when a backend involved has no price.
    public func costCeiling(_ request: ChatRequest, persona: String) -> Double? {
        guard let configuration else { return 0 }
        let backend = backend(for: persona)
        if let router = backend as? ModelRouter { return router.costCeiling(request) }
        let price = configuration.backend(named: configuration.backendName(for: persona))?.price
        return RoutingPolicy.estimatedCost(request, price: price, meanOutputTokens: nil)
    }

    /// The most one call of this request by this persona can be billed (``ChatRequest/billedCeiling(price:)``):
    /// on its backend, or for a routed persona on the dearest backend the router has. Zero for replays;
    /// nil when a backend involved has no price (or the request no `max_tokens`), so no ceiling holds.
    public func billedCeiling(_ request: ChatRequest, persona: String) -> Double? {
        guard let configuration else { return 0 }
        if let router = backend(for: persona) as? ModelRouter {
            var ceiling = 0.0
            for candidate in router.candidates {
                guard let cost = request.billedCeiling(price: candidate.configuration.price) else { return nil }
                ceiling = max(ceiling, cost)
            }
            return ceiling
        }
        return request.billedCeiling(price: configuration.backend(named: configuration.backendName(for: persona))?.price)
    }

    /// Backends whose calls have no price (their cost is unknown, so a budget cannot count them).
    public var unpriced: [String] {
        configuration?.backends.filter { $0.price == nil }.map(\.name) ?? []
    }
}

/// A problem with settings that stops a run before any call.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
