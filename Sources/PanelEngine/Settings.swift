public import Foundation
import ModelBackends
public import PanelKit

/// How reviews are asked and written — the same for `review`, `batch`, the server and workers.
public struct ReviewSettings: Sendable {
    public var prompts: PromptSet
    public var templates: DocumentTemplates
    public var temperature: Double?
    public var maxOutputTokens: Int?
    public var stream: Bool
    /// Answers needed for a panel verdict (nil: a majority of the personas).
    public var quorum: Int?
    /// Times each persona is asked; its answers are combined (majority verdict, median score, spread).
    public var samples: Int
    /// Maps raw scores to the editors' scale in documents (`--calibration`).
    public var calibration: Calibration?
    /// Whether a model checks the claims the rules leave unsupported (`panel.claims.check: model`,
    /// `--claims-check model`); the rules always run.
    public var checkClaims = false

    public static let defaultTemperature = 0.2
    /// The most samples a persona may be asked for.
    public static let maxSamples = 25
    public static let defaultMaxOutputTokens = 700

    public init(
        prompts: PromptSet = .builtIn(), templates: DocumentTemplates = .builtIn(), temperature: Double? = defaultTemperature,
        maxOutputTokens: Int? = defaultMaxOutputTokens, stream: Bool = false, quorum: Int? = nil, samples: Int = 1
    ) {
        self.samples = samples
        self.prompts = prompts
        self.templates = templates
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.stream = stream
        self.quorum = quorum
    }

    /// Settings from what a user said, in order of precedence: explicit overrides (flags, an API
    /// request), then the configuration's `panel:` section, then the defaults.
    public static func resolved(
        _ overrides: ReviewOverrides, configuration: PanelConfiguration?, prompts: PromptSet = .builtIn(),
        templates: DocumentTemplates = .builtIn()
    ) -> ReviewSettings {
        var settings = ReviewSettings(
            prompts: prompts, templates: templates,
            temperature: overrides.temperature ?? configuration?.temperature ?? defaultTemperature,
            maxOutputTokens: overrides.maxOutputTokens ?? configuration?.maxTokens ?? defaultMaxOutputTokens,
            stream: overrides.stream ?? false, quorum: overrides.quorum ?? configuration?.quorum,
            samples: overrides.samples ?? configuration?.samples ?? 1)
        settings.checkClaims = overrides.checkClaims ?? (configuration?.claimCheckBackend != nil)
        return settings
    }

    /// Checks the settings against the panel and the configuration before any call: a quorum the panel
    /// cannot reach, a persona the configuration names that the prompts do not have.
    public func check(against configuration: PanelConfiguration?) throws(EngineError) {
        let ids = Set(prompts.personas.map(\.id))
        if !(1...Self.maxSamples).contains(samples) {
            throw EngineError("samples \(samples): ask each persona from 1 to \(Self.maxSamples) times")
        }
        if let quorum, quorum > ids.count {
            throw EngineError("quorum \(quorum) is more than the \(ids.count) personas of the panel; use at most \(ids.count)")
        }
        guard let configuration else { return }
        let named = Set(configuration.personaBackends.keys).union(configuration.personaRouters.keys)
        for persona in named.sorted() where !ids.contains(persona) {
            throw EngineError(
                "\(configuration.source): panel.personas.\(persona): no persona has the id '\(persona)'; the panel's are \(ids.sorted().joined(separator: ", "))"
            )
        }
    }

    /// What produced documents made with these settings.
    public var provenance: ReviewDocument.Provenance {
        ReviewDocument.Provenance(panelVersion: PanelVersion.current, prompts: prompts.hashes, templates: templates.hashes)
    }
}

/// What a caller asked for explicitly; nil leaves the choice to the configuration or the default.
public struct ReviewOverrides: Sendable {
    public var temperature: Double?
    public var maxOutputTokens: Int?
    public var stream: Bool?
    public var quorum: Int?
    public var samples: Int?
    /// `--claims-check rules|model`: whether the model check runs, over the configuration's word.
    public var checkClaims: Bool?

    public init(temperature: Double? = nil, maxOutputTokens: Int? = nil, stream: Bool? = nil, quorum: Int? = nil, samples: Int? = nil) {
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.stream = stream
        self.quorum = quorum
        self.samples = samples
    }
}

/// Where answers come from and what is kept of them.
public struct BackendSettings: Sendable {
    public enum Source: Sendable {
        /// Live backends, as configured.
        case configuration(PanelConfiguration)
        /// Recorded answers only, from a directory.
        case replay(directory: String)
    }

    /// How the response cache is used.
    public enum CacheMode: Sendable, Hashable {
        /// Read and write cached answers.
        case normal
        /// Ignore cached answers, store fresh ones.
        case refresh
        /// Neither read nor write.
        case off
    }

    public var source: Source
    /// Record every answer into this directory.
    public var recordDirectory: String?
    public var cacheMode: CacheMode
    /// Cache local backends too (off by default: they cost nothing, and a local server often answers
    /// with whatever model is loaded).
    public var cacheLocal: Bool
    /// How long a cached answer is good for (nil: for ever).
    public var cacheTTL: Duration?
    /// The environment keys are read from.
    public var environment: [String: String]

    public init(
        source: Source, recordDirectory: String? = nil, cacheMode: CacheMode = .normal, cacheLocal: Bool = false,
        cacheTTL: Duration? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.source = source
        self.recordDirectory = recordDirectory
        self.cacheMode = cacheMode
        self.cacheLocal = cacheLocal
        self.cacheTTL = cacheTTL
        self.environment = environment
    }

    public var configuration: PanelConfiguration? {
        if case .configuration(let configuration) = source { return configuration }
        return nil
    }

    /// True when these settings read or write the response cache, so a store must be opened.
    public var usesCache: Bool {
        guard cacheMode != .off, let configuration else { return false }
        return cacheLocal || configuration.backends.contains { !$0.isLocal }
    }
}
