import ModelBackends
import PanelKit
import Tracing

/// The engine's spans: a persona's call (under it, each backend attempt), a claimed queue item (under
/// it, its personas, saves and document), named and described in one place.
public enum EngineTraces {
    /// A persona's answer on its span: who, about what, how it ended, what it cost, how it was routed.
    static func record(_ result: PersonaResult, listing: Listing, on span: any Span) {
        guard span.isRecording else { return }
        span.attributes["panel.persona"] = result.persona.id
        span.attributes["panel.listing"] = listing.name
        if let backend = result.backend { span.attributes["panel.backend"] = backend }
        if let model = result.model { span.attributes["gen_ai.response.model"] = model }
        span.attributes["panel.calls"] = result.attempts
        if let input = result.inputTokens { span.attributes["gen_ai.usage.input_tokens"] = input }
        if let output = result.outputTokens { span.attributes["gen_ai.usage.output_tokens"] = output }
        if let cost = result.costUSD { span.attributes["panel.cost_usd"] = cost }
        switch result.outcome {
        case .answered(let review):
            span.attributes["panel.outcome"] = "answered"
            span.attributes["panel.score"] = review.score
            span.attributes["panel.verdict"] = review.verdict.rawValue
        case .abstained(let reason):
            span.attributes["panel.outcome"] = "abstained"
            span.setStatus(SpanStatus(code: .error, message: reason))
        }
        if let routing = result.routing { Traces.record(routing, on: span) }
    }

    /// A claimed queue item's span, continuing the trace it was enqueued in.
    public static func item<T>(_ claim: QueuedClaim, owner: String, _ work: () async -> T) async -> T {
        await Traces.span("claim \(claim.claim.job)", context: Traces.context(traceparent: claim.trace), ofKind: .consumer) { span in
            span?.attributes["panel.job"] = claim.claim.job
            span?.attributes["panel.item"] = claim.claim.key
            span?.attributes["panel.attempt"] = claim.attempt
            span?.attributes["panel.owner"] = owner
            return await work()
        }
    }

    /// A step with a span of its own (a save, the document).
    static func step<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        try await Traces.span(name) { _ in try await body() }
    }

    /// A persona's call in a span of its own (described by ``record(_:listing:on:)``).
    static func persona(_ persona: Persona, listing: Listing, _ call: () async -> PersonaResult) async -> PersonaResult {
        await Traces.span("persona \(persona.id)") { span in
            let result = await call()
            if let span { record(result, listing: listing, on: span) }
            return result
        }
    }
}
