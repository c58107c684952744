import Synchronization
public import Tracing

/// Traces (swift-distributed-tracing): spans cost next to nothing until an executable bootstraps a
/// tracer (`panel` does when the standard `OTEL_*` variables ask for one), and a trace crosses processes
/// as a W3C `traceparent` — in HTTP headers, and stored with a queued item, so the worker that claims a
/// review asked of another host's server continues the server's trace.
public enum Traces {
    /// Whether a tracer was bootstrapped (``enable()``): until then no span is even started — the no-op
    /// tracer's lookup and the task-local context would still cost each call something.
    public static var isOn: Bool { enabled.load(ordering: .relaxed) }

    /// Said by an executable once it has bootstrapped a tracer.
    public static func enable() { enabled.store(true, ordering: .relaxed) }

    static let enabled = Atomic<Bool>(false)

    /// `body` in a span of its own — continuing `context` when given, else the current one — once traces
    /// are on; until then no span is started and `body` gets nil (as it does for a span not recording).
    public static func span<T>(
        _ name: @autoclosure () -> String, context: @autoclosure () -> ServiceContext? = nil, ofKind kind: SpanKind = .internal,
        _ body: ((any Span)?) async throws -> T
    ) async rethrows -> T {
        guard isOn else { return try await body(nil) }
        return try await withSpan(name(), context: context() ?? .current ?? .topLevel, ofKind: kind) { span in
            try await body(span.isRecording ? span : nil)
        }
    }

    /// The current span's context as a `traceparent` (nil when nothing is traced).
    public static func traceparent(_ context: @autoclosure () -> ServiceContext? = .current) -> String? {
        guard isOn, let context = context() else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// The context a stored `traceparent` names, to continue its trace (a fresh top level without one).
    public static func context(traceparent: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        if let traceparent {
            InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryExtractor())
        }
        return context
    }

    struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    /// One call to a model backend (an attempt: a retry is another), as a client span named after the
    /// OpenTelemetry GenAI conventions (`chat <model>`, `gen_ai.*` attributes, `error.type`).
    static func attempt(
        backend: String, model: String?, attempt: Int, request: ChatRequest, _ call: () async throws -> ChatResponse
    ) async throws -> ChatResponse {
        try await span("chat \(model ?? backend)", ofKind: .client) { span in
            guard let span else { return try await call() }
            span.attributes["gen_ai.operation.name"] = "chat"
            if let model { span.attributes["gen_ai.request.model"] = model }
            span.attributes["panel.backend"] = backend
            span.attributes["panel.attempt"] = attempt
            span.attributes["panel.request"] = request.label
            span.attributes["panel.stream"] = request.stream
            if let tokens = request.maxOutputTokens { span.attributes["gen_ai.request.max_tokens"] = tokens }
            if let temperature = request.temperature { span.attributes["gen_ai.request.temperature"] = temperature }
            do {
                let response = try await call()
                if let model = response.model { span.attributes["gen_ai.response.model"] = model }
                if let input = response.usage.inputTokens { span.attributes["gen_ai.usage.input_tokens"] = input }
                if let output = response.usage.outputTokens { span.attributes["gen_ai.usage.output_tokens"] = output }
                if let reason = response.finishReason { span.attributes["gen_ai.response.finish_reasons"] = [reason] }
                if let cost = response.costUSD { span.attributes["panel.cost_usd"] = cost }
                if response.cached { span.attributes["panel.cached"] = true }
                return response
            } catch let error as BackendError {
                span.attributes["error.type"] = error.kind.rawValue
                if let status = error.status { span.attributes["http.response.status_code"] = status }
                span.setStatus(SpanStatus(code: .error, message: error.description))
                throw error
            }
        }
    }

    /// A routed call's decision on the span that asked for it: the pick and its rule as attributes, each
    /// backend attempt (failovers, hedges) as an event.
    public static func record(_ routing: RoutingTrace, on span: any Span) {
        guard span.isRecording else { return }
        if let pick = routing.pick { span.attributes["panel.router.pick"] = pick }
        span.attributes["panel.router.rule"] = routing.rule
        for attempt in routing.attempts {
            var attributes: SpanAttributes = [:]
            attributes["panel.backend"] = attempt.backend
            attributes["panel.outcome"] = attempt.outcome
            attributes["panel.hedge"] = attempt.hedge
            if let errorClass = attempt.errorClass { attributes["error.type"] = errorClass }
            span.addEvent(SpanEvent(name: attempt.hedge ? "router.hedge" : "router.attempt", attributes: attributes))
        }
    }
}
