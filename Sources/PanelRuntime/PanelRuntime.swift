public import Foundation
import ModelBackends
import PanelEngine
import PanelKit

/// What a front end asks of the engine, typed (never CLI strings): where the backends come from, the
/// review settings it overrides, its prompts, templates and calibration, and its store. `panel`'s shared
/// option group fills it from flags; anything else (a test, another front end) may fill it directly.
public struct EngineRequest: Sendable {
    /// `--config FILE` (else `panel.yaml` here, else a detected backend).
    public var configPath: String?
    /// A one-backend configuration: an OpenAI-compatible base URL and the model to request.
    public var baseURL: String?
    public var model: String?
    public var apiKeyEnv: String?
    /// Answer only from recordings in this directory.
    public var replay: String?
    /// Record every answer into this directory.
    public var record: String?
    public var backendName: String?
    public var price: Price?
    /// Deadline for each whole call.
    public var timeout: Duration
    /// Calls in flight at once to a backend described by these options.
    public var concurrency: Int
    public var structuredOutput: StructuredOutputMode
    /// Calls per request in all, retries included.
    public var maxAttempts: Int
    public var cacheMode: BackendSettings.CacheMode
    public var cacheLocal: Bool
    public var cacheTTL: Duration?
    public var overrides: ReviewOverrides
    /// Directories of prompts and document templates (nil: the built-in ones).
    public var prompts: String?
    public var templates: String?
    /// A calibration map (`panel calibrate`).
    public var calibration: String?
    /// The store's location (``Stores/location(_:environment:)``).
    public var store: String
    /// What a user may do instead when the store cannot be opened (", or use --no-cache").
    public var storeAlternative: String
    /// How long a PostgreSQL store that cannot be reached yet is waited for (``Stores/open(_:alternative:mustExist:patience:onWait:)``):
    /// zero for a command a user waits on, a minute for `panel worker` and `panel serve`.
    public var storePatience: Duration = .zero
    public var environment: [String: String]

    public init(
        configPath: String? = nil, baseURL: String? = nil, model: String? = nil, apiKeyEnv: String? = nil, replay: String? = nil,
        record: String? = nil, backendName: String? = nil, price: Price? = nil, timeout: Duration = .seconds(120), concurrency: Int = 8,
        structuredOutput: StructuredOutputMode = .auto, maxAttempts: Int = RetryPolicy().maxAttempts,
        cacheMode: BackendSettings.CacheMode = .normal, cacheLocal: Bool = false, cacheTTL: Duration? = nil,
        overrides: ReviewOverrides = ReviewOverrides(), prompts: String? = nil, templates: String? = nil, calibration: String? = nil,
        store: String = Stores.location(nil), storeAlternative: String = "",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.configPath = configPath
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.replay = replay
        self.record = record
        self.backendName = backendName
        self.price = price
        self.timeout = timeout
        self.concurrency = concurrency
        self.structuredOutput = structuredOutput
        self.maxAttempts = maxAttempts
        self.cacheMode = cacheMode
        self.cacheLocal = cacheLocal
        self.cacheTTL = cacheTTL
        self.overrides = overrides
        self.prompts = prompts
        self.templates = templates
        self.calibration = calibration
        self.store = store
        self.storeAlternative = storeAlternative
        self.environment = environment
    }
}

/// Where the runtime reports what a user should know while it sets up (a detected backend, a measured
/// quality taken from the store) and, at debug level, each retry.
public struct RuntimeLog: Sendable {
    public var info: @Sendable (String) -> Void
    public var debug: @Sendable (String) -> Void

    public init(info: @escaping @Sendable (String) -> Void = { _ in }, debug: @escaping @Sendable (String) -> Void = { _ in }) {
        self.info = info
        self.debug = debug
    }
}

/// The one way in: a ready engine from an ``EngineRequest`` — the configuration loaded or detected,
/// the store opened, the backend stack built, the settings resolved (flags over `panel.yaml` over the
/// defaults), the calibration read and the checks run, every problem found said at once. Each front
/// end is flags → request → ``open(_:store:log:)`` → one engine call → output.
public struct PanelRuntime: Sendable {
    /// When a front end needs the store.
    public enum StoreUse: Sendable {
        /// Always (jobs, a worker, the team server).
        case always
        /// Only for the response cache, when the settings use it (a review at the terminal).
        case forCache
    }

    public let request: EngineRequest
    public let backendSettings: BackendSettings
    public let engine: ReviewEngine
    /// The store, when opened.
    public let store: (any ReviewStore)?

    /// The store of a runtime opened with ``StoreUse/always``.
    public func openedStore() throws(RuntimeError) -> any ReviewStore {
        guard let store else { throw RuntimeError("the store at \(request.store) was not opened") }
        return store
    }

    public static func open(
        _ request: EngineRequest, store use: StoreUse, log: RuntimeLog = RuntimeLog()
    ) async throws(RuntimeError)
        -> PanelRuntime
    {
        var problems: [String] = []
        var prompts = PromptSet.builtIn()
        do { prompts = try Self.prompts(request.prompts) } catch { problems += error.problems }
        var templates = DocumentTemplates.builtIn()
        do { templates = try Self.templates(request.templates) } catch { problems += error.problems }
        var settings: BackendSettings?
        var store: (any ReviewStore)?
        var backends: EngineBackends?
        do throws(RuntimeError) {
            let resolved = try await backendSettings(request, log: log)
            settings = resolved
            if use == .always || resolved.usesCache {
                store = try await Stores.open(
                    request.store, alternative: request.storeAlternative, patience: request.storePatience, onWait: { log.info($0) })
            }
            do {
                backends = try EngineBackends(
                    resolved, cache: store,
                    onRetry: { name, attempt, error, wait in
                        log.debug("↻ \(name): attempt \(attempt) failed (\(error.kind.rawValue)); retrying in \(wait.milliseconds) ms")
                    })
            } catch {
                throw RuntimeError(error.description)
            }
        } catch {
            problems += error.problems
        }
        var calibration: Calibration?
        do { calibration = try Self.calibration(request.calibration) } catch { problems += error.problems }
        guard problems.isEmpty, let settings, let backends else { throw RuntimeError(problems: problems) }
        var review = ReviewSettings.resolved(
            request.overrides, configuration: backends.configuration, prompts: prompts, templates: templates)
        review.calibration = calibration
        do {
            try review.check(against: backends.configuration)
        } catch {
            throw RuntimeError(error.description)
        }
        return PanelRuntime(
            request: request, backendSettings: settings, engine: ReviewEngine(settings: review, backends: backends), store: store)
    }

    /// The prompts in a directory (nil: the built-in ones).
    public static func prompts(_ directory: String?) throws(RuntimeError) -> PromptSet {
        guard let directory else { return .builtIn() }
        do { return try PromptSet.load(directory: URL(fileURLWithPath: directory)) } catch { throw RuntimeError("\(error)") }
    }

    /// The document templates in a directory (nil: the built-in ones).
    public static func templates(_ directory: String?) throws(RuntimeError) -> DocumentTemplates {
        guard let directory else { return .builtIn() }
        do { return try DocumentTemplates.load(directory: URL(fileURLWithPath: directory)) } catch { throw RuntimeError("\(error)") }
    }

    /// The calibration map at a path (`panel calibrate` writes them; nil: none).
    public static func calibration(_ path: String?) throws(RuntimeError) -> Calibration? {
        guard let path else { return nil }
        do { return try Calibration.load(path: path) } catch { throw RuntimeError("--calibration \(error)") }
    }

    /// The typed backend settings a request describes (a store is opened only to read measured
    /// qualities a configuration asks for).
    public static func backendSettings(
        _ request: EngineRequest, log: RuntimeLog = RuntimeLog()
    ) async throws(RuntimeError)
        -> BackendSettings
    {
        if let replay = request.replay { return BackendSettings(source: .replay(directory: replay)) }
        var configuration = try await configuration(request, log: log)
        if configuration.backends.contains(where: \.qualityMeasured) {
            let store = try await Stores.open(request.store, alternative: request.storeAlternative)
            let measured: [MeasuredQuality]
            do { measured = try await store.measuredQualities() } catch { throw RuntimeError("--store \(error)") }
            let (resolved, notes) = configuration.resolvingMeasuredQuality(measured)
            configuration = resolved
            notes.forEach(log.info)
        }
        if request.baseURL != nil, let variable = request.apiKeyEnv, request.environment[variable]?.isEmpty ?? true {
            throw RuntimeError(
                "--api-key-env: the environment variable \(variable) is not set; export it, or leave out --api-key-env for a server without auth"
            )
        }
        return BackendSettings(
            source: .configuration(configuration), recordDirectory: request.record, cacheMode: request.cacheMode,
            cacheLocal: request.cacheLocal, cacheTTL: request.cacheTTL ?? configuration.cacheTTL)
    }

    /// The configuration a request describes: its file, else `--base-url/--model` as a one-backend
    /// configuration, else `panel.yaml` here, else a detected backend (provider keys in the environment,
    /// then a model server on this machine), said through `log`.
    public static func configuration(
        _ request: EngineRequest, log: RuntimeLog = RuntimeLog()
    ) async throws(RuntimeError)
        -> PanelConfiguration
    {
        let retry = RetryPolicy(maxAttempts: request.maxAttempts)
        if request.baseURL == nil, request.configPath == nil, !FileManager.default.fileExists(atPath: PanelConfiguration.fileName) {
            // The options that describe a backend apply to a detected one as to a --base-url one.
            return try await detected(model: request.model, environment: request.environment, log: log) { backend in
                if let name = request.backendName { backend.name = name }
                if let price = request.price { backend.price = price }
                backend.maxConcurrency = request.concurrency
                backend.timeout = request.timeout
                backend.structuredOutput = request.structuredOutput
                backend.retry = retry
            }
        }
        if let baseURL = request.baseURL, let model = request.model {
            let name = request.backendName ?? URL(string: baseURL)?.host ?? "openai"
            let backend = BackendConfiguration(
                name: name, kind: .openai, baseURL: baseURL, model: model, apiKeyEnv: request.apiKeyEnv, price: request.price,
                maxConcurrency: request.concurrency, timeout: request.timeout, structuredOutput: request.structuredOutput, retry: retry)
            return PanelConfiguration(backends: [backend], defaultBackend: name, source: "command line")
        }
        do {
            return try PanelConfiguration.load(path: request.configPath ?? PanelConfiguration.fileName)
        } catch {
            throw RuntimeError("\(error)")
        }
    }

    /// A backend found without configuration, announced through `log`; the error lists what was tried.
    public static func detected(
        model: String?, environment: [String: String] = ProcessInfo.processInfo.environment, log: RuntimeLog = RuntimeLog(),
        adjust: (inout BackendConfiguration) -> Void = { _ in }
    ) async throws(RuntimeError) -> PanelConfiguration {
        switch await BackendDetection(environment: environment).detect(model: model) {
        case .success(var found):
            adjust(&found.backend)
            log.info(
                "no \(PanelConfiguration.fileName) here: using backend '\(found.backend.name)' — \(found.reason). panel init writes a panel.yaml."
            )
            return found.configuration
        case .failure(let notFound):
            throw RuntimeError(notFound.description)
        }
    }
}
