import ModelBackends
public import PanelKit

/// The engine front ends call: settings and a backend stack in, documents and events out. `panel
/// review`, `panel batch`, a server handler and a worker loop all go through it, so a listing gets the
/// same document whichever way it was reviewed.
public struct ReviewEngine: Sendable {
    public let settings: ReviewSettings
    public let backends: EngineBackends

    public init(settings: ReviewSettings, backends: EngineBackends) {
        self.settings = settings
        self.backends = backends
    }

    /// The pipeline these settings and backends make, reporting to `onEvent`.
    public func pipeline(onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }) -> ReviewPipeline {
        let backends = self.backends
        return ReviewPipeline(
            settings: settings, backendFor: { backends.backend(for: $0.id) }, familyOf: { backends.family(ofBackend: $0) },
            onEvent: onEvent)
    }

    /// Reviews listings together — one review, or a comparison of two or more — and builds the document.
    /// Cancelling the caller's task cancels every call in flight.
    public func review(_ listings: [Listing], onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }) async -> ReviewDocument {
        var document = document(await pipeline(onEvent: onEvent).run(listings))
        await checkClaims(&document)
        return document
    }

    /// The most a review of these listings can be billed: every persona's samples, each with a repair
    /// request (the first answer sent back, at most `max_tokens` long), at the backend's billed ceiling.
    /// What a token's budget reserves when it asks for the review; nil when no ceiling holds (a backend
    /// without a price).
    public func spendCeiling(_ listings: [Listing]) -> Double? {
        let pipeline = pipeline()
        var total = 0.0
        for listing in listings {
            for persona in settings.prompts.personas {
                let request = pipeline.request(listing, by: persona)
                var repair = request
                repair.messages += [
                    .assistant(String(repeating: "x", count: 4 * (request.maxOutputTokens ?? 0))),
                    .user(ReviewPipeline.repairInstruction(ParseFailure(.truncated, String(repeating: "x", count: 200)))),
                ]
                guard let first = backends.billedCeiling(request, persona: persona.id),
                    let second = backends.billedCeiling(repair, persona: persona.id)
                else { return nil }
                total += (first + second) * Double(settings.samples)
            }
            // The model check of claims: one call per listing, at its answer cap with a long claims list.
            if checksClaims {
                let items = (0..<25).map { _ in
                    ClaimModelCheck.Item(
                        review: 0, claim: 0, text: String(repeating: "x", count: 24), sentence: String(repeating: "x", count: 300))
                }
                guard let check = backends.billedCeiling(ClaimModelCheck.request(listing, items: items), persona: ClaimModelCheck.id) else {
                    return nil
                }
                total += check
            }
        }
        return total
    }

    /// The document of a finished run, with these settings' provenance.
    public func document(_ run: ReviewRun) -> ReviewDocument {
        var document = ReviewDocument(run: run, provenance: settings.provenance)
        settings.calibration?.apply(to: &document)
        return document
    }

    /// The document as text in a format, with these settings' templates.
    public func render(_ document: ReviewDocument, as format: DocumentFormat) -> String {
        format.render(document, templates: settings.templates)
    }
}
