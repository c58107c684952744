/// Everything the panel produced for a set of listings.
public struct ReviewRun: Sendable {
    public struct ToolReview: Sendable {
        public var listing: Listing
        /// In persona order.
        public var results: [PersonaResult]
        public var panel: PanelSummary

        public init(listing: Listing, results: [PersonaResult], panel: PanelSummary) {
            self.listing = listing
            self.results = results
            self.panel = panel
        }
    }

    public var tools: [ToolReview]
    public var personas: [Persona]
    public var wallMS: Int

    public var allAnswered: Bool { tools.allSatisfy { $0.panel.abstained == 0 } }

    public init(tools: [ToolReview], personas: [Persona], wallMS: Int) {
        self.tools = tools
        self.personas = personas
        self.wallMS = wallMS
    }
}
