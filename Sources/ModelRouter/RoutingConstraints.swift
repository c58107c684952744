public import ModelBackends

/// What a routed call asks of its backend, and what it optimises.
public struct RoutingConstraints: Sendable, Hashable {
    public enum Objective: Sendable, Hashable {
        case cheapest, fastest, best
        /// Weighted: lower cost, lower latency, higher quality.
        case balanced(cost: Double, latency: Double, quality: Double)

        public var name: String {
            switch self {
            case .cheapest: return "cheapest"
            case .fastest: return "fastest"
            case .best: return "best"
            case .balanced(let cost, let latency, let quality): return "balanced(cost \(cost), latency \(latency), quality \(quality))"
            }
        }
    }

    public enum Capability: String, Sendable, Hashable, CaseIterable {
        case jsonSchema = "json_schema"
        case streaming
        case longContext = "long_context"
    }

    public enum HedgeTrigger: Sendable, Hashable {
        /// The chosen backend's own observed p90 (or its declared latency before any observation).
        case p90
        /// Its observed p95: hedges about one call in twenty, leaving a 10% extra-call budget room for
        /// the further hedges that reach the tail ("The Tail at Scale" defers hedges to p95).
        case p95
        case after(Duration)
    }

    public struct Hedge: Sendable, Hashable {
        public var trigger: HedgeTrigger
        /// Most extra calls, as a share of routed calls.
        public var maxExtraShare: Double

        /// The default trigger is p95: at p90 a tenth of all calls would hedge, spending a 10% extra-call
        /// budget on calls that were about to answer and leaving none for the slow ones.
        public init(trigger: HedgeTrigger = .p95, maxExtraShare: Double = 0.10) {
            self.trigger = trigger
            self.maxExtraShare = maxExtraShare
        }
    }

    public var objective: Objective
    /// Per call, estimated before the call.
    public var maxCostUSD: Double?
    /// Against the backend's observed p90, or its declared latency.
    public var maxLatencyMS: Int?
    public var minQuality: Int?
    public var require: Set<Capability>
    public var localOnly: Bool
    /// Spread one review's personas over model families where possible.
    public var diverseFamilies: Bool
    public var hedge: Hedge?
    /// Share of calls that may try a backend with no observations yet.
    public var explorationShare: Double
    /// How long to wait for a backend to recover when every candidate is cooling down.
    public var maxRecoveryWait: Duration

    public init(
        objective: Objective = .balanced(cost: 1, latency: 1, quality: 1), maxCostUSD: Double? = nil, maxLatencyMS: Int? = nil,
        minQuality: Int? = nil, require: Set<Capability> = [], localOnly: Bool = false, diverseFamilies: Bool = false,
        hedge: Hedge? = nil, explorationShare: Double = 0.05, maxRecoveryWait: Duration = .seconds(30)
    ) {
        self.objective = objective
        self.maxCostUSD = maxCostUSD
        self.maxLatencyMS = maxLatencyMS
        self.minQuality = minQuality
        self.require = require
        self.localOnly = localOnly
        self.diverseFamilies = diverseFamilies
        self.hedge = hedge
        self.explorationShare = explorationShare
        self.maxRecoveryWait = maxRecoveryWait
    }

    /// One line for traces and explanations.
    public var summary: String {
        var parts = ["objective \(objective.name)"]
        if let maxCostUSD { parts.append("max cost $\(maxCostUSD)") }
        if let maxLatencyMS { parts.append("max p90 \(maxLatencyMS) ms") }
        if let minQuality { parts.append("min quality \(minQuality)") }
        if !require.isEmpty { parts.append("require \(require.map(\.rawValue).sorted().joined(separator: ","))") }
        if localOnly { parts.append("local only") }
        if diverseFamilies { parts.append("diverse families") }
        if let hedge {
            let after: String
            switch hedge.trigger {
            case .p90: after = "p90"
            case .p95: after = "p95"
            case .after(let delay): after = "\(delay.milliseconds) ms"
            }
            parts.append("hedge after \(after), ≤\(Int(hedge.maxExtraShare * 100))% extra")
        }
        return parts.joined(separator: "; ")
    }
}

/// A backend the router may choose, with what it declares.
public struct RouteCandidate: Sendable {
    /// Held in one box: a decision's ranked list copies a candidate per call, and a configuration is some
    /// twenty strings and optionals to retain one by one (a fifth of a decision's time, measured).
    final class Box: Sendable {
        let backend: any ModelBackend
        let configuration: BackendConfiguration

        init(backend: any ModelBackend, configuration: BackendConfiguration) {
            self.backend = backend
            self.configuration = configuration
        }
    }

    var box: Box

    public var backend: any ModelBackend {
        get { box.backend }
        set { box = Box(backend: newValue, configuration: box.configuration) }
    }

    public var configuration: BackendConfiguration {
        get { box.configuration }
        set { box = Box(backend: box.backend, configuration: newValue) }
    }

    public init(backend: any ModelBackend, configuration: BackendConfiguration) {
        box = Box(backend: backend, configuration: configuration)
    }

    public var name: String { configuration.name }

    public var capabilities: Set<RoutingConstraints.Capability> {
        var capabilities: Set<RoutingConstraints.Capability> = [.streaming]
        if configuration.structuredOutput != .none { capabilities.insert(.jsonSchema) }
        if (configuration.contextWindow ?? 0) >= 100_000 { capabilities.insert(.longContext) }
        return capabilities
    }

    /// The model family (``ModelFamily``'s one definition, shared with documents).
    public var family: String { ModelFamily.of(configuration) }
}
