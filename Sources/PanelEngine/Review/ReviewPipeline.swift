public import ModelBackends
public import PanelKit
import Synchronization

/// Runs every persona over every listing concurrently and aggregates the votes.
///
/// One slow or failing persona never blocks or sinks the others: each call ends as an answer or
/// an abstention with its reason. Per-backend concurrency limits belong to the backends
/// (``ConcurrencyLimitedBackend``); cancelling the caller's task cancels every call in flight.
public struct ReviewPipeline: Sendable {
    public var prompts: PromptSet
    /// The backend answering for each persona.
    public var backendFor: @Sendable (Persona) -> any ModelBackend
    public var temperature: Double?
    public var maxOutputTokens: Int?
    public var stream: Bool
    public var quorum: Int?
    /// How many times each persona is asked (`--samples K`); its answers are combined by
    /// ``PersonaResult/combining(_:)``.
    public var samples: Int
    /// The model family of a configured backend, by name (nil for one without a configuration).
    public var familyOf: @Sendable (String) -> String?
    public var onEvent: @Sendable (EngineEvent) -> Void

    public init(
        prompts: PromptSet,
        backendFor: @escaping @Sendable (Persona) -> any ModelBackend,
        temperature: Double? = ReviewSettings.defaultTemperature,
        maxOutputTokens: Int? = ReviewSettings.defaultMaxOutputTokens,
        stream: Bool = false,
        quorum: Int? = nil,
        samples: Int = 1,
        familyOf: @escaping @Sendable (String) -> String? = { _ in nil },
        onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) {
        self.samples = max(1, samples)
        self.prompts = prompts
        self.backendFor = backendFor
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.stream = stream
        self.quorum = quorum
        self.familyOf = familyOf
        self.onEvent = onEvent
    }

    /// The settings' form of a pipeline.
    public init(
        settings: ReviewSettings, backendFor: @escaping @Sendable (Persona) -> any ModelBackend,
        familyOf: @escaping @Sendable (String) -> String? = { _ in nil }, onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) {
        self.init(
            prompts: settings.prompts, backendFor: backendFor, temperature: settings.temperature,
            maxOutputTokens: settings.maxOutputTokens, stream: settings.stream, quorum: settings.quorum, samples: settings.samples,
            familyOf: familyOf, onEvent: onEvent)
    }

    /// Reviews listings together: every persona of every listing at once, the votes aggregated.
    public func run(_ listings: [Listing]) async -> ReviewRun {
        let clock = ContinuousClock()
        let start = clock.now
        let personas = prompts.personas
        var results = Array(repeating: [PersonaResult?](repeating: nil, count: personas.count), count: listings.count)
        await fanOut(listings, admit: { _, _, _ in true }) { l, p, result, _ in
            results[l][p] = result
            onEvent(.finished(result, listing: listings[l]))
        }
        let tools = listings.enumerated().map { l, listing in
            let personaResults = results[l].enumerated().map { p, result in
                result ?? PersonaResult(persona: personas[p], outcome: .abstained(reason: "cancelled"))
            }
            return ReviewRun.ToolReview(
                listing: listing, results: personaResults, panel: PanelSummary(results: personaResults, quorum: quorum))
        }
        return ReviewRun(tools: tools, personas: personas, wallMS: (clock.now - start).milliseconds)
    }

    /// The one fan-out of persona calls — a review at the terminal, a team server's review, a batch's
    /// listing: every persona of every listing that `skip` does not leave out (answers already saved)
    /// asked at once, one panel per listing (its routed calls share diversity state). `admit` runs in the
    /// call's task before it (a call slot, a budget reservation, a lease still held); nil leaves the
    /// persona unasked. `called` runs in the call's task after it (the slot given back). `onResult` gets
    /// each result as it completes, one at a time, with its listing's and persona's indices and what
    /// `admit` gave. Cancelling the caller's task cancels every call in flight.
    public func fanOut<Ticket: Sendable>(
        _ listings: [Listing], skip: (_ listing: Int, Persona) -> Bool = { _, _ in false },
        admit: @escaping @Sendable (_ listing: Int, Persona, PanelScope) async -> Ticket?,
        called: @escaping @Sendable (Ticket, PersonaResult) async -> Void = { _, _ in },
        onResult: (_ listing: Int, _ persona: Int, PersonaResult, Ticket) async -> Void
    ) async {
        let personas = prompts.personas
        await withTaskGroup(of: (Int, Int, PersonaResult, Ticket)?.self) { group in
            for (l, listing) in listings.enumerated() {
                let panel = PanelScope()
                for (p, persona) in personas.enumerated() where !skip(l, persona) {
                    group.addTask {
                        guard let ticket = await admit(l, persona, panel) else { return nil }
                        let result = await EngineTraces.persona(persona, listing: listing) {
                            await review(listing, by: persona, panel: panel)
                        }
                        await called(ticket, result)
                        return (l, p, result, ticket)
                    }
                }
            }
            for await case let (l, p, result, ticket)? in group { await onResult(l, p, result, ticket) }
        }
    }

    /// One persona's review of one listing: asked once, or `samples` times at once and combined (the
    /// majority verdict, the median score; only the first sample's text is streamed to `onEvent`).
    public func review(_ listing: Listing, by persona: Persona, panel: PanelScope? = nil) async -> PersonaResult {
        onEvent(.started(persona: persona, listing: listing))
        guard samples > 1 else { return await ask(listing, by: persona, panel: panel, sample: 0) }
        let answers = await withTaskGroup(of: (Int, PersonaResult).self) { group in
            for sample in 0..<samples {
                group.addTask { (sample, await ask(listing, by: persona, panel: panel, sample: sample)) }
            }
            var answers = [PersonaResult?](repeating: nil, count: samples)
            for await (sample, result) in group { answers[sample] = result }
            return answers.compactMap { $0 }
        }
        return PersonaResult.combining(answers)
    }

    /// One ask: send, parse, repair once, or abstain.
    func ask(_ listing: Listing, by persona: Persona, panel: PanelScope?, sample: Int) async -> PersonaResult {
        let backend = backendFor(persona)
        var request = self.request(listing, by: persona, panel: panel)
        request.sample = sample
        var result = PersonaResult(persona: persona, outcome: .abstained(reason: "not answered"), backend: backend.name)
        let onEvent = self.onEvent
        // Views are sent the paragraph as it streams, not the model's raw (structured) output.
        let paragraph = Mutex(StreamedParagraph())
        do {
            let first = try await backend.respond(
                to: request,
                onDelta: { text in
                    guard sample == 0 else { return }
                    let shown = paragraph.withLock { $0.feed(text) }
                    if !shown.isEmpty { onEvent(.delta(persona: persona, listing: listing, text: shown)) }
                },
                onRestart: {
                    guard sample == 0 else { return }
                    paragraph.withLock { $0 = StreamedParagraph() }
                    onEvent(.restarted(persona: persona, listing: listing))
                })
            result.add(first, family: familyOf)
            warnOfSuspectUsage(first, persona: persona, request: request)
            switch ReviewParser.parse(first.text) {
            case .success(let review):
                result.answer(review)
                return result
            case .failure(let failure):
                onEvent(.repairing(persona: persona, listing: listing, reason: failure.reason))
                var repair = request
                repair.messages += [.assistant(first.text), .user(Self.repairInstruction(failure))]
                let second = try await backend.respond(to: repair)
                result.add(second, family: familyOf)
                warnOfSuspectUsage(second, persona: persona, request: repair)
                switch ReviewParser.parse(second.text) {
                case .success(let review):
                    result.answer(review)
                    result.flags.append(PersonaResult.repairedFlag)
                case .failure(let again):
                    result.outcome = .abstained(reason: "unreadable answer, also after a repair request: \(again.reason)")
                }
            }
        } catch let error as BackendError {
            result.outcome = .abstained(reason: error.description)
            result.backendUnreachable = error.unreachable || error.kind == .timeout || error.kind == .connection
            // The calls that failed count: a persona that abstained after four failed calls made four calls.
            result.attempts += error.attempts ?? ([.notRecorded, .cancelled].contains(error.kind) ? 0 : 1)
        } catch is CancellationError {
            result.outcome = .abstained(reason: "cancelled")
        } catch {
            result.outcome = .abstained(reason: "\(error)")
        }
        return result
    }

    /// A provider that reported usage beyond what the request makes possible was billed at the bound:
    /// the editor (or the operator) hears of it, since the provider's figures are then not to be trusted.
    func warnOfSuspectUsage(_ response: ChatResponse, persona: Persona, request: ChatRequest) {
        guard response.adjustments.contains(BillingBackend.suspectFlag) else { return }
        onEvent(
            .problem(
                "\(response.backend) reported more tokens than \(persona.name)'s request allows (max_tokens \(request.maxOutputTokens.map(String.init) ?? "unset"), about \(request.estimatedInputTokens) prompt tokens); billed at the bound and flagged usage_suspect"
            ))
    }

    /// The request a persona sends for a listing, with these settings.
    public func request(_ listing: Listing, by persona: Persona, panel: PanelScope? = nil) -> ChatRequest {
        prompts.request(
            for: persona, listing: listing, temperature: temperature, maxOutputTokens: maxOutputTokens, stream: stream, panel: panel)
    }

    static func repairInstruction(_ failure: ParseFailure) -> String {
        // A cut-off answer ran into the length cap: asking again the same way would only cut it off again.
        let shorter = failure.kind == .truncated ? " Keep the paragraph under 120 words." : ""
        return """
            Your answer could not be read: \(failure.reason). Answer again with only a JSON object and nothing \
            before or after it, with three fields: "rationale" (your paragraph, as a string), "score" (an integer from 0 to 100) \
            and "verdict" ("ship" or "skip").\(shorter)
            """
    }
}

extension PersonaResult {
    mutating func add(_ response: ChatResponse, family familyOf: (String) -> String?) {
        backend = response.backend
        model = response.model ?? model
        family = familyOf(response.backend) ?? family
        latencyMS = CheckedNumber.sum(latencyMS ?? 0, response.latency.milliseconds)
        if ttftMS == nil { ttftMS = response.timeToFirstToken?.milliseconds }
        inputTokens = Self.sum(inputTokens, response.usage.inputTokens, first: attempts == 0)
        outputTokens = Self.sum(outputTokens, response.usage.outputTokens, first: attempts == 0)
        costUSD = Self.sum(costUSD, response.costUSD, first: attempts == 0)
        attempts += response.attempts
        if let trace = response.routing { routing = trace }
        if response.cached && !flags.contains(Self.cachedFlag) { flags.append(Self.cachedFlag) }
        // `temperature_dropped`: the model refused a parameter, and the answer was obtained without it.
        for adjustment in response.adjustments where !flags.contains(adjustment) { flags.append(adjustment) }
    }

    mutating func answer(_ review: ParsedReview) {
        outcome = .answered(review)
        if Self.contradicts(review) { flags.append(Self.contradictionFlag) }
    }

    /// Adds a second call's figure; unknown stays unknown rather than being invented, and so does a sum
    /// too large to hold.
    static func sum(_ total: Int?, _ value: Int?, first: Bool) -> Int? {
        if first { return value }
        guard let total, let value else { return nil }
        return CheckedNumber.sum(total, value)
    }

    static func sum(_ total: Double?, _ value: Double?, first: Bool) -> Double? {
        if first { return value }
        guard let total, let value, (total + value).isFinite else { return nil }
        return total + value
    }
}
