/// An editor's changes to a document, kept beside what the models said, never over it: each entry says
/// who changed what and when. The latest edit of a paragraph and the latest override of a tool's verdict
/// are the ones shown; the earlier ones stay as history.
extension ReviewDocument {
    public struct Editor: Sendable, Hashable, Codable {
        /// A persona's paragraph as an editor rewrote it.
        public struct Edit: Sendable, Hashable, Codable {
            public var tool: String
            public var persona: String
            public var text: String
            public var by: String
            public var at: String

            public init(tool: String, persona: String, text: String, by: String, at: String) {
                self.tool = tool
                self.persona = persona
                self.text = text
                self.by = by
                self.at = at
            }
        }

        /// A tool's panel verdict as an editor decided it, with the reason.
        public struct Override: Sendable, Hashable, Codable {
            public var tool: String
            public var verdict: Verdict
            public var note: String
            public var by: String
            public var at: String

            public init(tool: String, verdict: Verdict, note: String, by: String, at: String) {
                self.tool = tool
                self.verdict = verdict
                self.note = note
                self.by = by
                self.at = at
            }
        }

        /// Who approved the document for publication, and when.
        public struct Approval: Sendable, Hashable, Codable {
            public var by: String
            public var at: String

            public init(by: String, at: String) {
                self.by = by
                self.at = at
            }
        }

        public var edits: [Edit]
        public var overrides: [Override]
        public var approved: Approval?

        public init(edits: [Edit] = [], overrides: [Override] = [], approved: Approval? = nil) {
            self.edits = edits
            self.overrides = overrides
            self.approved = approved
        }

        enum CodingKeys: String, CodingKey {
            case edits, overrides, approved
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(edits, forKey: .edits)
            try c.encode(overrides, forKey: .overrides)
            try c.encode(approved, forKey: .approved)
        }

        /// The paragraph shown for a persona's review of a tool: the latest edit, if any.
        public func edit(tool: String, persona: String) -> Edit? {
            edits.last { $0.tool == tool && $0.persona == persona }
        }

        /// The verdict shown for a tool: the latest override, if any.
        public func override(tool: String) -> Override? {
            overrides.last { $0.tool == tool }
        }

        public var isEmpty: Bool { edits.isEmpty && overrides.isEmpty && approved == nil }
    }
}
