import Foundation
public import ModelBackends
public import PanelKit
import Synchronization
import Yams

/// What a queued job records when it is enqueued, so every worker — on any machine, with its own
/// backends and keys — reviews its listings the same way: the prompts and templates (their text), the
/// review settings, the document formats, and the configuration's sections other than `backends`
/// (`panel:`, `router:`). Never a key: a configuration names variables, and its backends stay behind.
public struct JobSettings: Codable, Sendable, Hashable {
    public var prompts: [String: String]
    public var promptSource: String
    public var templates: [String: String]
    public var templateSource: String
    public var temperature: Double?
    public var maxOutputTokens: Int?
    public var stream: Bool
    public var quorum: Int?
    /// Times each persona is asked (absent: once, as in jobs enqueued before samples).
    public var samples: Int?
    /// The calibration file's text (`--calibration`), applied to every document of the job.
    public var calibration: String?
    /// `markdown`, `html`, `json`.
    public var formats: [String]
    public var retryFailed: Bool
    /// The enqueuing configuration without its `backends` (YAML); nil when it had no file.
    public var configuration: String?
    /// The model check of claims runs (absent: it does not, as in jobs enqueued before it existed).
    public var checkClaims: Bool?

    enum CodingKeys: String, CodingKey {
        case prompts, templates, temperature, stream, quorum, samples, calibration, formats, configuration
        case promptSource = "prompt_source"
        case templateSource = "template_source"
        case maxOutputTokens = "max_output_tokens"
        case retryFailed = "retry_failed"
        case checkClaims = "check_claims"
    }

    public init(settings: ReviewSettings, formats: [DocumentFormat], retryFailed: Bool, configuration: PanelConfiguration?) {
        prompts = settings.prompts.files
        promptSource = settings.prompts.source
        templates = settings.templates.files
        templateSource = settings.templates.source
        temperature = settings.temperature
        maxOutputTokens = settings.maxOutputTokens
        stream = settings.stream
        quorum = settings.quorum
        samples = settings.samples > 1 ? settings.samples : nil
        calibration = settings.calibration?.yaml()
        self.formats = formats.map(\.rawValue)
        self.retryFailed = retryFailed
        self.configuration = configuration?.text.flatMap(Self.sectionsWithoutBackends)
        checkClaims = settings.checkClaims ? true : nil
    }

    /// The settings as stored: JSON with sorted keys (the same settings give the same text).
    public func json() -> String {
        // JSON: Foundation both ways — settings are a Codable value written once per job and read once per worker.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// Reads the settings a job recorded; the error names the job.
    public static func decode(_ text: String, job: String) throws(EngineError) -> JobSettings {
        do {
            return try JSONDecoder().decode(JobSettings.self, from: Data(text.utf8))
        } catch {
            throw EngineError("job '\(job)': its stored settings cannot be read (\(error)); was it enqueued by a newer panel?")
        }
    }

    public var documentFormats: [DocumentFormat] { formats.compactMap(DocumentFormat.init(rawValue:)) }

    /// The review settings the job's listings are reviewed with.
    public func reviewSettings(job: String) throws(EngineError) -> ReviewSettings {
        let promptSet: PromptSet
        let documentTemplates: DocumentTemplates
        do {
            promptSet = try PromptSet(files: prompts, source: "job '\(job)' (\(promptSource))")
            documentTemplates = try DocumentTemplates(files: templates, source: "job '\(job)' (\(templateSource))")
        } catch {
            throw EngineError("\(error)")
        }
        var settings = ReviewSettings(
            prompts: promptSet, templates: documentTemplates, temperature: temperature, maxOutputTokens: maxOutputTokens, stream: stream,
            quorum: quorum, samples: samples ?? 1)
        settings.checkClaims = checkClaims ?? false
        if let calibration {
            do {
                settings.calibration = try Calibration.parse(calibration, source: "job '\(job)' calibration")
            } catch {
                throw EngineError("\(error)")
            }
        }
        return settings
    }

    /// A worker's configuration with the job's `panel:` and `router:` sections: the worker's backends
    /// (and keys), the job's choice of which persona uses which and how the router decides. A worker
    /// configured by flags, or a job enqueued without a file, keeps the worker's configuration.
    public func configuration(merging worker: PanelConfiguration, job: String) throws(ConfigurationError) -> PanelConfiguration {
        guard let configuration, let workerText = worker.text else { return worker }
        let source = "\(worker.source) with job '\(job)''s panel and router sections"
        do {
            guard let jobNode = try Yams.compose(yaml: configuration)?.mapping,
                let workerNode = try Yams.compose(yaml: workerText)?.mapping
            else { return worker }
            var pairs: [(Node, Node)] = []
            if let backends = workerNode["backends"] { pairs.append((Node("backends"), backends)) }
            for (key, value) in jobNode where key.string != "backends" { pairs.append((key, value)) }
            var merged = try PanelConfiguration.parse(Yams.serialize(node: .mapping(Node.Mapping(pairs))), source: source)
            merged.text = workerText
            return merged
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(file: source, path: nil, problem: "cannot be combined (\(error))")
        }
    }

    /// A configuration's text without its `backends` section; nil when nothing else is left.
    static func sectionsWithoutBackends(_ text: String) -> String? {
        guard let root = try? Yams.compose(yaml: text)?.mapping else { return nil }
        let pairs = root.filter { $0.key.string != "backends" }.map { ($0.key, $0.value) }
        guard !pairs.isEmpty else { return nil }
        return try? Yams.serialize(node: .mapping(Node.Mapping(pairs)))
    }
}

extension BatchDriver {
    /// The driver a worker uses for a job it claimed: the job's settings (prompts, templates, formats,
    /// budget, panel and router sections) with the worker's backends and keys. No sink: the documents
    /// stay in the store.
    public static func forJob(
        _ record: JobRecord, backends: BackendSettings, store: any ReviewStore, calls: AsyncSemaphore, owner: String,
        lease: Duration, maxItemAttempts: Int, concurrency: Int, engines: JobEngines? = nil,
        onEvent: @escaping @Sendable (EngineEvent) -> Void,
        onRetry: @escaping @Sendable (_ backend: String, _ attempt: Int, _ error: BackendError, _ wait: Duration) -> Void = { _, _, _, _ in
        }
    ) throws -> BatchDriver {
        guard let text = record.settings else {
            throw EngineError("job '\(record.name)' was made before jobs kept their settings; rerun it with panel batch")
        }
        let job = try JobSettings.decode(text, job: record.name)
        let make = {
            var settings = backends
            if case .configuration(let worker) = backends.source {
                settings.source = .configuration(try job.configuration(merging: worker, job: record.name))
            }
            let engineBackends = try EngineBackends(settings, cache: store, onRetry: onRetry)
            let review = try job.reviewSettings(job: record.name)
            try review.check(against: engineBackends.configuration)
            return ReviewEngine(settings: review, backends: engineBackends)
        }
        let engine = try engines?.engine(for: text, make: make) ?? make()
        return BatchDriver(
            engine: engine, store: store, sink: nil,
            options: .init(
                job: record.name, formats: job.documentFormats, concurrency: concurrency, budgetUSD: record.budgetUSD,
                retryFailed: job.retryFailed, lease: lease, maxItemAttempts: maxItemAttempts),
            calls: calls, owner: owner, onEvent: onEvent)
    }
}

/// The engines a worker made from jobs' settings, by the settings' text: every review a team server
/// enqueues carries the same settings, so its reviews share one engine (backends, connections, router
/// statistics) instead of building one each. Bounded: the least recently used goes first.
public final class JobEngines: Sendable {
    let engines = Mutex<[(settings: String, engine: ReviewEngine)]>([])
    let limit: Int

    public init(limit: Int = 16) {
        self.limit = max(1, limit)
    }

    /// Adds an engine made elsewhere (the server's own, for the settings it enqueues its reviews with).
    public func seed(_ settings: String, _ engine: ReviewEngine) {
        engines.withLock { $0.insert((settings, engine), at: 0) }
    }

    func engine(for settings: String, make: () throws -> ReviewEngine) throws -> ReviewEngine {
        if let found = engines.withLock({ list -> ReviewEngine? in
            guard let index = list.firstIndex(where: { $0.settings == settings }) else { return nil }
            let entry = list.remove(at: index)
            list.insert(entry, at: 0)
            return entry.engine
        }) {
            return found
        }
        let engine = try make()
        engines.withLock { list in
            list.insert((settings, engine), at: 0)
            if list.count > limit { list.removeLast() }
        }
        return engine
    }
}

/// Writes a job's documents and `summary.json` out of the store — from any machine that reaches it —
/// exactly as `panel batch` writes them: the formats kept in the store, any other rendered from the kept
/// JSON document with the job's templates.
public struct JobExport: Sendable {
    /// The roles an export reads: the job's items, its kept documents, what it spent.
    public let store: any QueueStore & ResultStore & BudgetStore
    public let job: JobRecord
    /// The job's settings, read once (nil for a job made before jobs kept them).
    let settings: Result<JobSettings?, EngineError>

    /// The templates documents are rendered with when a format was not kept (nil: the job's).
    let templates: DocumentTemplates?

    public init(store: any QueueStore & ResultStore & BudgetStore, job: JobRecord, templates: DocumentTemplates? = nil) {
        self.store = store
        self.job = job
        self.templates = templates
        if let text = job.settings {
            do {
                settings = .success(try JobSettings.decode(text, job: job.name))
            } catch {
                settings = .failure(error)
            }
        } else {
            settings = .success(nil)
        }
    }

    /// The formats the job was run with (markdown when it recorded none).
    public var formats: [DocumentFormat] {
        let recorded = ((try? settings.get()) ?? nil)?.documentFormats ?? []
        return recorded.isEmpty ? [.markdown] : recorded
    }

    /// Writes every kept document in `formats` to the sink (replacing what is there), then the summary.
    /// Returns how many documents were written.
    public func write(
        formats: [DocumentFormat], to sink: any DocumentSink, onRow: (BatchRowSummary) -> Void = { _ in }
    ) async throws
        -> (documents: Int, summary: BatchSummary)
    {
        let written = try await writeDocuments(formats: formats, to: sink)
        let summary = try await BatchDriver.writeSummary(
            store: store, job: job.name, budgetUSD: job.budgetUSD, budgetStopped: false, to: sink, onRow: onRow)
        return (written, summary)
    }

    /// Writes the job's kept documents in `formats` (``DocumentWriter``), in input order; `missingOnly`
    /// leaves the files the sink holds already. Returns how many were written; the first failure throws.
    public func writeDocuments(formats: [DocumentFormat], to sink: any DocumentSink, missingOnly: Bool = false) async throws -> Int {
        let templates = try self.templates ?? settings.get()?.reviewSettings(job: job.name).templates ?? .builtIn()
        var written = 0
        var pending: (key: String, name: String, texts: [String: String])?
        func flush() throws {
            guard let item = pending else { return }
            let outcome = DocumentWriter.write(
                name: item.name, texts: item.texts, formats: formats, to: sink, templates: templates,
                source: "job \(job.name), \(item.key)",
                missingOnly: missingOnly)
            written += outcome.written
            if let failure = outcome.failures.first { throw EngineError("\(item.key): \(failure.reason)") }
        }
        // Documents come in input order, every format of one listing together. With `missingOnly`, a
        // listing's texts are read only when the sink lacks one of its formats (asked once per name).
        var lacking: (name: String, lacks: Bool)?
        func wanted(_ name: String, _: String) -> Bool {
            guard missingOnly else { return true }
            if let lacking, lacking.name == name { return lacking.lacks }
            let lacks = formats.contains { !sink.exists(sink.address(name: name, format: $0)) }
            lacking = (name, lacks)
            return lacks
        }
        try await store.forEachDocument(job: job.name, wanted: wanted) { document in
            if pending?.key != document.key {
                try flush()
                pending = (document.key, document.name, [:])
            }
            pending?.texts[document.fileExtension] = document.text
        }
        try flush()
        return written
    }
}
