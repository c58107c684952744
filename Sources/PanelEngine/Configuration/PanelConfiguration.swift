import Foundation
public import ModelBackends
public import ModelRouter
import PanelKit
import Yams

/// `panel.yaml`: the backends and which persona uses which.
///
/// Every problem — an unknown key, a wrong type, a duplicate name, a persona pointing at a missing
/// backend, a missing key variable for a remote backend — is a ``ConfigurationError`` naming the
/// file, the key path and the fix, found before any call is made.
public struct PanelConfiguration: Sendable {
    public var backends: [BackendConfiguration]
    /// The backend every persona uses unless overridden.
    public var defaultBackend: String
    /// Persona id → backend name.
    public var personaBackends: [String: String]
    public var quorum: Int?
    /// Times each persona is asked (`panel.samples`; nil: once).
    public var samples: Int?
    public var temperature: Double?
    public var maxTokens: Int?
    /// How long cached answers are good for (`panel.cache_ttl_s`; nil: for ever).
    public var cacheTTL: Duration?
    /// Where it was read from.
    public var source: String
    /// The router's constraints (the `router:` section), used by personas whose backend is `router`.
    public var router: RoutingConstraints
    /// Per-persona router overrides (`panel.personas.X.router`).
    public var personaRouters: [String: RoutingConstraints]
    public var routerSeed: UInt64
    /// The YAML it was read from (nil when it was made otherwise: flags, detection).
    public var text: String?
    /// Whether an editor may approve a review whose paragraphs hold claims the listing contradicts
    /// (`team.approve_contradicted`).
    public var approveContradicted: ContradictedApproval = .confirm
    /// The backend of the optional model check of claims (`panel.claims: {check: model, backend: NAME}`);
    /// nil: the rules alone.
    public var claimCheckBackend: String?
    /// Who publishes reviewed pages (`publication: {name, url}`): the author of their structured data, the
    /// feed's title, the canonical links' base.
    public var publicationName: String?
    public var publicationURL: String?

    /// The name that selects the router in `panel.backend` and persona overrides.
    public static let routerName = "router"

    /// True when some persona is routed.
    public var usesRouter: Bool {
        defaultBackend == Self.routerName || personaBackends.values.contains(Self.routerName)
    }

    public static let fileName = "panel.yaml"

    /// `team.approve_contradicted`: `confirm` (the editor confirms, the default) or `refuse` (edit first).
    public enum ContradictedApproval: String, Sendable, CaseIterable {
        case confirm
        case refuse
    }

    public init(
        backends: [BackendConfiguration], defaultBackend: String, personaBackends: [String: String] = [:], quorum: Int? = nil,
        temperature: Double? = nil, maxTokens: Int? = nil, cacheTTL: Duration? = nil, source: String = "command line",
        router: RoutingConstraints = RoutingConstraints(),
        personaRouters: [String: RoutingConstraints] = [:], routerSeed: UInt64 = 1, samples: Int? = nil
    ) {
        self.samples = samples
        self.backends = backends
        self.defaultBackend = defaultBackend
        self.personaBackends = personaBackends
        self.quorum = quorum
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.cacheTTL = cacheTTL
        self.source = source
        self.router = router
        self.personaRouters = personaRouters
        self.routerSeed = routerSeed
    }

    public func backend(named name: String) -> BackendConfiguration? { backends.first { $0.name == name } }

    /// The backend name a persona uses.
    public func backendName(for persona: String) -> String {
        if persona == Self.claimCheckID, let claimCheckBackend { return claimCheckBackend }
        return personaBackends[persona] ?? defaultBackend
    }

    /// The id the model check of claims calls under (not a persona: no persona may take it).
    public static let claimCheckID = "claims-check"

    /// Reads the key of every backend from the environment. A remote backend whose variable is
    /// unset is an error; a local one may go without.
    public func resolveKeys(environment: [String: String]) throws(ConfigurationError) -> [String: String] {
        var keys: [String: String] = [:]
        for (index, backend) in backends.enumerated() {
            guard let variable = backend.apiKeyEnv else {
                if !backend.isLocal, backend.kind.requiresKey {
                    throw ConfigurationError(
                        file: source, path: "backends[\(index)].api_key_env",
                        problem:
                            "backend '\(backend.name)' (\(backend.kind.rawValue)) needs an API key: name the environment variable that holds it"
                    )
                }
                continue
            }
            if let value = environment[variable], !value.isEmpty {
                keys[backend.name] = value
            } else if !backend.isLocal {
                throw ConfigurationError(
                    file: source, path: "backends[\(index)].api_key_env",
                    problem: "the environment variable \(variable) for backend '\(backend.name)' is not set; export it before running panel"
                )
            }
        }
        return keys
    }

    /// Loads and validates a configuration file.
    public static func load(path: String) throws(ConfigurationError) -> PanelConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                file: path, path: nil, problem: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, path: nil, problem: "is not UTF-8 text")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> PanelConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigurationError(file: source, path: nil, problem: "is empty") }
            root = node
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(
                file: source, path: nil, problem: "is not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))")
        }
        var configuration = try ConfigurationReader(source: source).read(root)
        configuration.text = text
        return configuration
    }
}

/// A configuration problem: the file, the key path and what to do.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var path: String?
    public var problem: String

    public init(file: String, path: String?, problem: String) {
        self.file = file
        self.path = path
        self.problem = problem
    }

    public var description: String {
        path.map { "\(file): \($0): \(problem)" } ?? "\(file): \(problem)"
    }
}

extension PanelConfiguration {
    /// Backends whose quality is `measured`: each gets the quality its stored agreement with the editors
    /// gives (``MeasuredQuality/quality``), or 3 without a measurement. Returns the configuration and a
    /// line per backend saying where its quality came from.
    public func resolvingMeasuredQuality(_ measured: [MeasuredQuality]) -> (PanelConfiguration, [String]) {
        var configuration = self
        var notes: [String] = []
        for index in configuration.backends.indices where configuration.backends[index].qualityMeasured {
            let name = configuration.backends[index].name
            if let found = measured.first(where: { $0.backend == name }) {
                configuration.backends[index].quality = found.quality
                let kappa = found.kappa.map { CFormat.double("%.2f", $0) } ?? "undefined"
                notes.append(
                    "backend \(name): quality \(found.quality) measured (kappa \(kappa) over \(found.n) labelled listing(s)\(found.n < MeasuredQuality.minimumListings ? ", fewer than \(MeasuredQuality.minimumListings): left at 3" : ""))"
                )
            } else {
                configuration.backends[index].quality = 3
                notes.append("backend \(name): quality: measured, but no measurement is stored; 3 until panel eval --save measures it")
            }
        }
        return (configuration, notes)
    }
}
