import Synchronization

/// Who a request is for, in typed form: the persona asking and the panel (one tool's review) it
/// belongs to. The router reads it for per-persona constraints and for panel diversity. It is not
/// part of the request's identity: cache keys and recordings ignore it, and so does ``ChatRequest/label``,
/// which is for display only.
public struct RoutingContext: Sendable, Hashable {
    /// The persona's id (`builder`), when a persona asks.
    public var persona: String?
    /// The panel this call belongs to; its routed calls share diversity state through it.
    public var panel: PanelScope?
    /// Set by the router on the calls it forwards: a backend that cannot be reached at all fails at
    /// once, without its own retries and backoff, so the router can move to the next candidate.
    public var failFastWhenUnreachable: Bool

    public init(persona: String? = nil, panel: PanelScope? = nil, failFastWhenUnreachable: Bool = false) {
        self.persona = persona
        self.panel = panel
        self.failFastWhenUnreachable = failFastWhenUnreachable
    }
}

/// The state one panel's routed calls share — which model family answered for which persona — held
/// by the panel's requests and freed with them when the review ends. Two panels never share one,
/// even for listings of the same name.
public final class PanelScope: Sendable, Hashable {
    private let families = Mutex<[String: String]>([:])

    public init() {}

    /// The families picked for this panel's other personas.
    public func familiesInUse(excluding persona: String?) -> Set<String> {
        families.withLock { Set($0.filter { $0.key != persona }.values) }
    }

    /// Notes the family picked for a persona.
    public func record(persona: String, family: String) {
        families.withLock { $0[persona] = family }
    }

    public static func == (lhs: PanelScope, rhs: PanelScope) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
