import ArgumentParser
import Foundation
import PanelRuntime

struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Review one tool, or compare two or more.",
        discussion: """
            Each LISTING is a .yaml/.yml file, a Markdown file with YAML front matter (.md; the body is the \
            description) or a .json file, with at least `name` and `description`; - reads one from standard \
            input. One listing gives a review; two or more give a comparison ("A vs B").

            Without panel.yaml, --config or --base-url, the backend is detected: OPENAI_API_KEY (with \
            OPENAI_BASE_URL), ANTHROPIC_API_KEY, GEMINI_API_KEY, AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_API_KEY, \
            then Ollama, llama.cpp or LM Studio on this machine; stderr says which and why.

            Examples:
              # With OPENAI_API_KEY set, or Ollama running, and nothing else:
              panel review mytool.yaml
              pbpaste | panel review -

              # Offline, from the bundled recordings:
              panel review fixtures/listings/azure-ai-foundry-realtime-voice.yaml \\
                fixtures/listings/mistral-3-small.yaml --replay fixtures/recordings

              # A local llama.cpp / vLLM / Ollama server speaking the OpenAI API:
              panel review tool.yaml --base-url http://127.0.0.1:8080/v1 --model qwen2.5-7b

              # OpenAI, recording every answer for later replays:
              panel review a.md b.md --base-url https://api.openai.com/v1 --model gpt-4.1-mini \\
                --api-key-env OPENAI_API_KEY --record fixtures/my-recordings --format json -o review.json

            The document goes to stdout (or -o FILE); progress and diagnostics go to stderr.
            Exit codes: 0 every persona answered; 3 the document was written but some persona abstained; \
            2 usage, input or configuration error; 1 nothing could be produced.
            """
    )

    @Argument(help: ArgumentHelp("Listing files to review; - reads one from standard input.", valueName: "LISTING"))
    var listings: [String] = []

    @OptionGroup(title: "Model backend")
    var backend: BackendOptions

    @Option(help: ArgumentHelp("A directory of persona prompt files to use instead of the built-in ones.", valueName: "DIR"))
    var prompts: String?

    @Option(help: "Document format.")
    var format: OutputFormat = .markdown

    @Option(
        help: ArgumentHelp(
            "A directory of document templates (review.md.mustache, review.html.mustache) overriding the built-in ones.", valueName: "DIR"))
    var templates: String?

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the document to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    @Option(help: ArgumentHelp("Answers needed for a panel verdict (default: a majority of the personas).", valueName: "N"))
    var quorum: Int?

    @Flag(name: .shortAndLong, help: "Log every call: backend, model, latency, tokens, repairs.")
    var verbose = false

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    func validate() throws {
        guard !listings.isEmpty else { throw ValidationError("give at least one listing file") }
        if listings.filter({ $0 == ListingLoader.standardInputPath }).count > 1 {
            throw ValidationError("'-' (standard input) can be given once: it holds one listing")
        }
        try backend.validate()
        if let quorum, quorum < 1 { throw ValidationError("--quorum must be at least 1") }
    }

    func run() async throws {
        let log = Diagnostics(verbose: verbose, quiet: quiet)

        // Inputs first: every problem is reported before any call is made.
        var loaded: [Listing] = []
        var problems: [String] = []
        for path in listings {
            do {
                let listing = try ListingLoader.load(path: path)
                if let warning = ListingLoader.unknownFieldsWarning(listing) { log.warning(warning) }
                loaded.append(listing)
            } catch {
                problems.append("\(error)")
            }
        }
        if let output, let input = listings.first(where: { Self.samePath($0, output) }) {
            problems.append("-o \(output): is the listing \(input); choose another file for the document (nothing was written)")
        }
        var runtime: PanelRuntime?
        do {
            runtime = try await backend.runtime(.forCache, log: log, prompts: prompts, templates: templates, quorum: quorum)
        } catch {
            problems += error.problems
        }
        guard problems.isEmpty, let engine = runtime?.engine else {
            problems.forEach(log.error)
            throw PanelExit.usage
        }
        let promptSet = engine.settings.prompts
        let backends = engine.backends

        let progress = ProgressLines(log: log)
        var live: LiveView?
        if LiveView.usable(lines: promptSet.personas.count * loaded.count, quiet: quiet || verbose) {
            live = LiveView(log: log, personas: promptSet.personas, listings: loaded)
        }
        let onEvent: @Sendable (EngineEvent) -> Void
        if let view = live {
            onEvent = { view.handle($0) }
        } else {
            onEvent = { progress.handle($0) }
        }
        log.debug(
            "panel: \(loaded.count) listing(s) × \(promptSet.personas.count) personas; "
                + promptSet.personas.map { "\($0.id) → \(backends.backend(for: $0.id).name)" }.joined(separator: ", ")
                + "; prompts: \(promptSet.source)")

        let inputs = loaded
        let liveView = live
        let document = await withInterruptHandler {
            guard let live = liveView else { return await engine.review(inputs, onEvent: onEvent) }
            let drawing = Task { await live.run() }
            let document = await engine.review(inputs, onEvent: onEvent)
            drawing.cancel()
            await drawing.value
            return document
        }
        guard let document else {
            log.error("interrupted; in-flight calls were cancelled and no document was written")
            throw PanelExit.interrupted
        }
        let text = engine.render(document, as: format.documentFormat)
        try log.writeDocument(text, to: output)
        progress.summary(document, output: output)
        throw document.allAnswered ? PanelExit.allAnswered : PanelExit.someAbstained
    }
}

extension ReviewCommand {
    /// Two paths naming the same file (symbolic links and `..` resolved).
    static func samePath(_ a: String, _ b: String) -> Bool {
        func resolved(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path }
        return resolved(a) == resolved(b)
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case markdown, html, json

    var documentFormat: DocumentFormat {
        switch self {
        case .markdown: return .markdown
        case .html: return .html
        case .json: return .json
        }
    }
}
