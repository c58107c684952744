import ArgumentParser
import Foundation
import PanelRuntime

/// Where `panel eval`, `stats` and `calibrate` read documents: files, a batch job, or the team server's reviews.
struct DocumentSources: ParsableArguments {
    @Argument(help: ArgumentHelp("panel.document/v1 JSON files.", valueName: "DOC.json"))
    var documents: [String] = []

    @Option(help: ArgumentHelp("A batch job's documents, from the store.", valueName: "NAME"))
    var job: String?

    @Flag(help: "The team server's finished reviews in the store, with their editors' changes.")
    var team = false

    @OptionGroup var store: StoreOption

    func validate() throws {
        if documents.isEmpty && job == nil && !team { throw ValidationError("give DOC.json files, --job NAME or --team") }
    }

    func load(log: Diagnostics) async throws -> [ReviewDocument] {
        do {
            var loaded = try TrustInputs.documents(paths: documents)
            if job != nil || team {
                let database = try await store.open(mustExist: true)
                if let job { loaded += try await TrustInputs.documents(job: job, store: database) }
                if team { loaded += try await TrustInputs.teamDocuments(store: database) }
            }
            return loaded
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
    }
}

enum TrustFormat: String, ExpressibleByArgument, CaseIterable {
    case markdown, json, html
}

/// `panel eval`: agreement with the editors' decisions.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "How far the panel agrees with the editors: agreement, Cohen's kappa, confusion counts, score correlation.",
        discussion: """
            Labels are a CSV file with the columns name,verdict[,score] (a header line first) or YAML — a list \
            of {name, verdict, score} — naming each listing once (by the listing's name in the documents). \
            Documents from the team server (--team, or their JSON) also carry labels: an editor's override, \
            or an approval of the panel's verdict; a label file wins over them.

            For the panel's verdict and for each persona: n, agreement, kappa with a bootstrap 95% interval, \
            the four confusion counts (model/editor) and, where editors gave scores, Spearman's rho and the \
            leniency (mean model score minus the editor's). Abstentions, split and incomplete panels are \
            counted apart, never as agreement.

            Examples:
              panel eval --labels labels.csv reviews/*.json
              panel eval --labels labels.yaml --job nightly-2026-11-30 --format json
              panel eval --team --store postgres://panel@db/panel
            """)

    @OptionGroup var sources: DocumentSources

    @Option(help: ArgumentHelp("The editors' decisions (CSV or YAML).", valueName: "FILE"))
    var labels: String?

    @Option(help: "Output format: markdown or json.")
    var format: TrustFormat = .markdown

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Keep each backend's agreement in the store, for backends configured with quality: measured.")
    var save = false

    func validate() throws {
        if format == .html { throw ValidationError("--format: markdown or json") }
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        var fileLabels: [EditorLabel] = []
        if let labels {
            do {
                fileLabels = try EditorLabels.load(path: labels)
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
        }
        let documents = try await sources.load(log: log)
        let named = Set(fileLabels.map(\.name))
        let all = fileLabels + TrustInputs.labels(fromEditorBlocksOf: documents).filter { !named.contains($0.name) }
        guard !all.isEmpty else {
            log.error("no labels: give --labels FILE (name,verdict[,score]), or documents editors overrode or approved")
            throw PanelExit.usage
        }
        let evaluation = Evaluation.evaluate(documents, labels: all)
        if let notice = evaluation.duplicatesNotice { log.warning(notice) }
        let text = format == .json ? evaluation.json().prettyText() : evaluation.markdown()
        try log.writeDocument(text, to: output)
        if save {
            let measured = evaluation.backends.map {
                MeasuredQuality(backend: $0.name, kappa: $0.group.kappa, agreement: $0.group.confusion.agreement, n: $0.group.n)
            }
            do {
                let database = try await sources.store.open()
                try await database.saveMeasuredQualities(measured)
                for quality in measured {
                    log.info("saved for backend \(quality.backend): quality \(quality.quality) (n \(quality.n)) in \(database.location)")
                }
            } catch {
                log.error("\(error)")
                throw PanelExit.usage
            }
        }
    }
}

/// `panel stats`: how the panel scores and how far its personas agree.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "How the panel scores over many documents: histograms, round-number bunching, agreement between personas.",
        discussion: """
            Per persona and per backend/model: the score histogram, the share of scores on multiples of 5 and \
            10, mean, median, SD, ship rate and (with --samples) the verdict flip rate. Between personas: \
            Krippendorff's alpha on scores and on verdicts, pairwise Spearman rho, and the effective number of \
            independent opinions. --format html draws the histograms and the agreement matrix as inline SVG.

            Examples:
              panel stats reviews/*.json
              panel stats --job nightly-2026-11-30 --format html -o stats.html
            """)

    @OptionGroup var sources: DocumentSources

    @Option(help: "Output format: markdown, json or html.")
    var format: TrustFormat = .markdown

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        let documents = try await sources.load(log: log)
        guard !documents.isEmpty else {
            log.error("no documents to read")
            throw PanelExit.usage
        }
        let stats = PanelStats.compute(documents)
        let text: String
        switch format {
        case .markdown: text = stats.markdown()
        case .json: text = stats.json().prettyText()
        case .html: text = stats.html()
        }
        try log.writeDocument(text, to: output)
    }
}

/// `panel calibrate`: fit the editors' scale per persona and model.
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Fit, per persona and model, a monotone map from raw scores to the editors' scale (isotonic regression).",
        discussion: """
            Needs labels with editor scores (name,verdict,score). Writes a YAML map that --calibration FILE \
            (panel review, batch, serve, render) applies: documents then show the calibrated score beside \
            the raw one (calibrated_score in JSON).

            Example:
              panel calibrate --labels labels.csv reviews/ -o calibration.yaml
              panel render review.json --calibration calibration.yaml
            """)

    @OptionGroup var sources: DocumentSources

    @Option(help: ArgumentHelp("The editors' decisions with scores (CSV or YAML).", valueName: "FILE"))
    var labels: String

    @Option(help: ArgumentHelp("Labelled scores a persona and model need before a map is fitted.", valueName: "N"))
    var minimum = 3

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the map to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    func validate() throws {
        guard minimum >= 2 else { throw ValidationError("--minimum must be at least 2") }
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        let loaded: [EditorLabel]
        do {
            loaded = try EditorLabels.load(path: labels)
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        guard loaded.contains(where: { $0.score != nil }) else {
            log.error("\(labels): no label has a score; calibration maps raw scores to the editors' scores (name,verdict,score)")
            throw PanelExit.usage
        }
        let calibration = Calibration.fit(try await sources.load(log: log), labels: loaded, minimum: minimum)
        guard !calibration.maps.isEmpty else {
            log.error("no persona and model has \(minimum) or more reviews of scored listings; label more listings (or lower --minimum)")
            throw PanelExit.usage
        }
        try log.writeDocument(calibration.yaml(), to: output)
        log.info(
            "fitted \(calibration.maps.count) map(s): "
                + calibration.maps.map { "\($0.persona) · \($0.model) (n=\($0.n))" }.joined(separator: ", "))
    }
}

/// `panel audit`: does a fair judge's mind change when nothing that matters changes?
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Review a listing as written and in controlled variants, and report each persona's score and verdict shifts.",
        discussion: """
            Variants: the description padded with neutral filler to twice its length; the fields presented in \
            another order; the tool's and vendor's names masked. Each shift has a bootstrap 95% interval over \
            the samples; use --samples 5 or more for intervals worth reading (a single sample gives exact \
            shifts and no spread).

            Example:
              panel audit mytool.yaml --samples 5
            """)

    @Argument(help: ArgumentHelp("The listing file.", valueName: "LISTING"))
    var listing: String

    @OptionGroup(title: "Model backend")
    var backend: BackendOptions

    @Option(help: "Output format: markdown or json.")
    var format: TrustFormat = .markdown

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write to FILE instead of stdout.", valueName: "FILE"))
    var output: String?

    func validate() throws {
        try backend.validate()
        if format == .html { throw ValidationError("--format: markdown or json") }
    }

    func run() async throws {
        let log = Diagnostics(verbose: false, quiet: false)
        let loaded: Listing
        let engine: ReviewEngine
        do {
            loaded = try ListingLoader.load(path: listing)
            engine = try await backend.runtime(.forCache, log: log).engine
        } catch {
            log.error("\(error)")
            throw PanelExit.usage
        }
        log.info(
            "auditing \(TerminalText.safe(loaded.name)): 4 versions × \(engine.settings.prompts.personas.count) personas × \(engine.settings.samples) sample(s)"
        )
        let (audit, _) = await BiasAudit.run(loaded, engine: engine)
        try log.writeDocument(format == .json ? audit.json().prettyText() : audit.markdown(), to: output)
    }
}
