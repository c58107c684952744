/// A reviewer on the panel: who it is and what it weighs. Its prompt lives in a file editors can
/// change without rebuilding.
public struct Persona: Sendable, Hashable, Codable {
    /// Lowercase identifier used in documents and recordings: `builder`, `skeptic`, …
    public var id: String
    /// The name readers see: "Builder".
    public var name: String
    /// What the persona weighs, in a phrase.
    public var weighs: String
    /// Position on the panel (documents list personas in this order).
    public var order: Int

    public init(id: String, name: String, weighs: String, order: Int) {
        self.id = id
        self.name = name
        self.weighs = weighs
        self.order = order
    }
}
