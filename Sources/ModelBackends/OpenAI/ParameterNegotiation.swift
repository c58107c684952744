import Synchronization

/// The name under which an OpenAI-compatible server takes the answer-length cap.
public enum TokenLimitField: String, Sendable, Hashable, CaseIterable, Codable {
    /// Every OpenAI-compatible server but OpenAI's own API (llama.cpp ignores the newer name, so the
    /// cap would silently vanish).
    case maxTokens = "max_tokens"
    /// OpenAI's own API and Azure: `max_tokens` is deprecated there, and refused by reasoning models.
    case maxCompletionTokens = "max_completion_tokens"
}

/// A request parameter a backend can be told never to send (`drop_params`), or that is dropped when a
/// model refuses it.
public enum DroppableParameter: String, Sendable, Hashable, CaseIterable, Codable {
    case temperature
}

/// Which token-limit name a backend takes and which sampling parameters it refuses, learned from its
/// 400 answers and remembered for the run — like the structured-output mode.
final class ParameterNegotiation: Sendable {
    struct State: Sendable, Hashable {
        var tokenField: TokenLimitField
        var dropped: Set<DroppableParameter>
    }

    /// A configured `token_limit_field` is kept whatever the server says.
    let tokenFieldIsConfigured: Bool
    private let state: Mutex<State>

    init(tokenField: TokenLimitField, configured: Bool, dropped: Set<DroppableParameter>) {
        self.tokenFieldIsConfigured = configured
        self.state = Mutex(State(tokenField: tokenField, dropped: dropped))
    }

    var current: State { state.withLock { $0 } }

    /// The state to retry with after `error` answered a call sent with `sent`, when the error is a
    /// 400 naming a parameter this negotiation can change; nil otherwise.
    func adjust(after error: BackendError, sent: State, request: ChatRequest) -> State? {
        guard let status = error.status, status == 400 || status == 422 else { return nil }
        let text = (error.detail + " " + (error.bodyExcerpt ?? "")).lowercased()
        let refused = ["unsupported", "not supported", "does not support", "unrecognized", "unknown", "not permitted", "not allowed"]
            .contains { text.contains($0) }
        guard refused else { return nil }
        var next = sent
        if request.maxOutputTokens != nil, !tokenFieldIsConfigured {
            switch sent.tokenField {
            case .maxTokens where text.contains("'max_tokens'") || text.contains("\"max_tokens\"") || text.contains("max_tokens is"):
                next.tokenField = .maxCompletionTokens
            case .maxCompletionTokens where text.contains("max_completion_tokens"):
                next.tokenField = .maxTokens
            default: break
            }
        }
        if next == sent, request.temperature != nil, !sent.dropped.contains(.temperature), text.contains("temperature") {
            next.dropped.insert(.temperature)
        }
        guard next != sent else { return nil }
        state.withLock { current in
            if current.tokenField == sent.tokenField { current.tokenField = next.tokenField }
            current.dropped.formUnion(next.dropped)
        }
        return next
    }
}

extension ChatResponse {
    /// The flag a review carries when its answer was obtained without a parameter it asked for.
    public static func droppedFlag(_ parameter: DroppableParameter) -> String { "\(parameter.rawValue)_dropped" }
}
