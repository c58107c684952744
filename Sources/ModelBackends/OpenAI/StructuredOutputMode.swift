import Synchronization

/// How a backend is asked to keep its answer to a JSON schema.
public enum StructuredOutputMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Start with the best mode the backend kind supports; step down when the server rejects it.
    case auto
    /// `response_format: {type: json_schema}` (OpenAI, vLLM, recent llama.cpp, Mistral).
    case jsonSchema = "json_schema"
    /// `response_format: {type: json_object}`, with the schema attached for servers that use it.
    case jsonObject = "json_object"
    /// No constraint; the prompt asks for JSON and the parser copes with prose.
    case none

    /// The next mode to try when a server rejects this one.
    var downgrade: StructuredOutputMode? {
        switch self {
        case .auto, .jsonSchema: return .jsonObject
        case .jsonObject: return StructuredOutputMode.none
        case .none: return nil
        }
    }
}

/// The structured-output mode a backend is using now. Starts from the configured mode; an `auto`
/// backend steps down when a server rejects a mode and keeps the downgrade for the rest of the run.
final class StructuredOutputNegotiation: Sendable {
    let configured: StructuredOutputMode
    private let current: Mutex<StructuredOutputMode>

    init(_ configured: StructuredOutputMode) {
        self.configured = configured
        self.current = Mutex(configured == .auto ? .jsonSchema : configured)
    }

    var mode: StructuredOutputMode { current.withLock { $0 } }

    /// Records that `rejected` was refused; returns the mode to retry with, if negotiation allows.
    func reject(_ rejected: StructuredOutputMode) -> StructuredOutputMode? {
        guard configured == .auto, let next = rejected.downgrade else { return nil }
        return current.withLock { mode in
            if mode == rejected { mode = next }
            return mode
        }
    }
}
