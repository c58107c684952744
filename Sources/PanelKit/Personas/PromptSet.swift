public import Foundation
public import ModelBackends
import Yams

/// The panel's personas and their prompt templates, from a directory of files or the defaults
/// built into the binary.
///
/// A directory holds one `<id>.md` per persona (YAML front matter with `id`, `name`, `weighs`,
/// `order`; the body is the system message, a Mustache template) and optionally `_request.md`, the
/// user message every persona receives. Templates render as plain text (no HTML escaping).
public struct PromptSet: Sendable {
    public let personas: [Persona]
    let systemTemplates: [String: Template]
    /// A system message that names no field (the built-in ones): rendered and trimmed once, here.
    let constantSystems: [String: String]
    let requestTemplate: Template
    /// Where the prompts came from: a directory, or "built-in".
    public let source: String
    /// Persona id → SHA-256 of its prompt (its file and the request template), for provenance.
    public let hashes: [String: String]

    public static let requestFileName = "_request.md"

    /// The prompts built into the binary (the same text as the repository's `prompts/`).
    public static func builtIn() -> PromptSet { parsedBuiltIn }

    private static let parsedBuiltIn: PromptSet = {
        do {
            return try PromptSet(files: DefaultPrompts.files, source: "built-in")
        } catch {
            preconditionFailure("the built-in prompts do not parse: \(error)")
        }
    }()

    /// Loads a directory of prompt files. A directory without `_request.md` uses the built-in one.
    public static func load(directory: URL) throws(PromptError) -> PromptSet {
        let path = directory.path
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw PromptError(file: path, problem: "cannot list the prompts directory (does it exist?)")
        }
        var files: [String: String] = [:]
        for name in names where name.hasSuffix(".md") {
            let file = directory.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw PromptError(file: file, problem: "cannot be read as UTF-8 text")
            }
            files[name] = text
        }
        if files[requestFileName] == nil { files[requestFileName] = DefaultPrompts.files[requestFileName] }
        return try PromptSet(files: files, source: path)
    }

    /// The prompt files by name, as read: what a queued job carries to the workers that ask them.
    public let files: [String: String]

    /// Prompts from their files' text (`<id>.md` per persona and `_request.md`); `source` names where
    /// they came from in messages.
    public init(files: [String: String], source: String) throws(PromptError) {
        self.files = files
        var personas: [Persona] = []
        var templates: [String: Template] = [:]
        var texts: [String: String] = [:]
        for (fileName, text) in files.sorted(by: { $0.key < $1.key }) where !fileName.hasPrefix("_") {
            let file = source == "built-in" ? "built-in \(fileName)" : "\(source)/\(fileName)"
            let (persona, template) = try Self.parsePersona(text, file: file)
            if personas.contains(where: { $0.id == persona.id }) {
                throw PromptError(file: file, field: "id", problem: "persona '\(persona.id)' is defined twice")
            }
            personas.append(persona)
            templates[persona.id] = template
            texts[persona.id] = text
        }
        guard !personas.isEmpty else {
            throw PromptError(file: source, problem: "holds no persona files (<id>.md with front matter)")
        }
        guard let request = files[Self.requestFileName] else {
            throw PromptError(file: source, problem: "has no \(Self.requestFileName)")
        }
        self.personas = personas.sorted { ($0.order, $0.id) < ($1.order, $1.id) }
        self.systemTemplates = templates
        self.constantSystems = templates.compactMapValues { $0.isConstant ? $0.render([:]).trimmedWhitespace() : nil }
        self.requestTemplate = try Self.template(request, file: "\(source)/\(Self.requestFileName)")
        self.source = source
        self.hashes = texts.mapValues { ContentHash.sha256($0 + "\n" + request) }
    }

    static func parsePersona(_ text: String, file: String) throws(PromptError) -> (Persona, Template) {
        let parts: (yaml: String, body: String)
        do {
            parts = try FrontMatter.split(text)
        } catch {
            throw PromptError(file: file, problem: "a persona file starts with front matter between '---' lines (id, name, weighs, order)")
        }
        let mapping: Node.Mapping?
        do {
            // Every field is read as its text, so no scalar's type is resolved: the default resolver's
            // regular expressions (~9M instructions to build, at every start) are not needed.
            mapping = try Yams.compose(yaml: parts.yaml, .basic)?.mapping
        } catch {
            throw PromptError(file: file, problem: "the front matter is not valid YAML")
        }
        func field(_ key: String) throws(PromptError) -> String {
            guard let value = mapping?[key]?.scalar?.string.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                throw PromptError(file: file, field: key, problem: "is missing from the front matter")
            }
            return value
        }
        let id = try field("id")
        guard id.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw PromptError(file: file, field: "id", problem: "must be lowercase letters, digits, '-' or '_'")
        }
        let orderText = mapping?["order"]?.scalar?.string ?? "100"
        guard let order = Int(orderText) else {
            throw PromptError(file: file, field: "order", problem: "must be a whole number, found '\(orderText)'")
        }
        let persona = Persona(id: id, name: try field("name"), weighs: try field("weighs"), order: order)
        let body = parts.body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !body.isEmpty else { throw PromptError(file: file, problem: "has no system prompt after the front matter") }
        return (persona, try template(body, file: file))
    }

    static func template(_ text: String, file: String) throws(PromptError) -> Template {
        do {
            return try Template(text, escaping: .none)
        } catch {
            throw PromptError(file: file, problem: "is not a valid Mustache template (\(error))")
        }
    }

    /// The chat request that asks `persona` to review `listing`.
    public func request(
        for persona: Persona,
        listing: Listing,
        temperature: Double?,
        maxOutputTokens: Int?,
        stream: Bool = false,
        panel: PanelScope? = nil
    ) -> ChatRequest {
        let context: TemplateValue = [
            "persona": ["id": .text(persona.id), "name": .text(persona.name), "weighs": .text(persona.weighs)],
            "listing": .object(Self.templateFields(listing)),
        ]
        let system = constantSystems[persona.id] ?? (systemTemplates[persona.id]?.render(context) ?? "").trimmedWhitespace()
        let user = requestTemplate.render(context)
        return ChatRequest(
            messages: [
                .system(system),
                .user(user.trimmedWhitespace()),
            ],
            temperature: temperature,
            maxOutputTokens: maxOutputTokens,
            schema: ReviewSchema.outputSchema,
            stream: stream,
            label: "\(persona.id) · \(listing.name)",
            context: RoutingContext(persona: persona.id, panel: panel))
    }

    /// The listing's fields for templates, with the data markers neutralised so listing text cannot
    /// close the `<listing>` block and pose as instructions.
    /// (Built as the fields themselves, once per call: no dictionary to hash and convert.)
    static func templateFields(_ listing: Listing) -> TemplateFields {
        var fields = TemplateFields()
        fields.pairs.reserveCapacity(9)
        for (name, text) in [
            ("name", listing.name), ("description", listing.description), ("tagline", listing.tagline), ("category", listing.category),
            ("pricing", listing.pricing), ("entry", listing.entry), ("best_for", listing.bestFor), ("url", listing.url),
            ("community", listing.community),
        ] {
            if let text { fields.pairs.append(.init(name: name, value: .text(neutraliseMarkers(text)))) }
        }
        return fields
    }

    /// `<listing>`, `</listing>` and their spaced forms (`</ listing >`, `< listing`) become `[listing`…,
    /// so listing text cannot end the data block.
    static func neutraliseMarkers(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "<")) else { return text }
        return text.replacingOccurrences(of: "<\\s*(/?)\\s*(listing)", with: "[$1$2", options: [.regularExpression, .caseInsensitive])
    }
}

/// A prompt file that cannot be used.
public struct PromptError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var field: String?
    public var problem: String

    public init(file: String, field: String? = nil, problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String {
        field.map { "\(file): field '\($0)': \(problem)" } ?? "\(file): \(problem)"
    }
}
