/// Bills every answer a provider adapter gives, by one rule: the usage the provider reported, kept
/// within what the request makes possible, else estimated; the cost from the backend's price. Sits
/// directly on the adapter, so the cache, recordings, budgets and documents all see billed answers.
///
/// - Missing counts are estimated (4 characters a token: the request's messages in, the answer's text
///   out) and the answer is flagged `usage_estimated`: a provider that omits `usage` is not free.
/// - Counts beyond the possible — more completion tokens than the request's `max_tokens`, more prompt
///   tokens than four times the request's estimated size — are capped at that bound and flagged
///   `usage_suspect`: one absurd figure cannot spend a budget many times over.
public struct BillingBackend: ModelBackend {
    public static let estimatedFlag = "usage_estimated"
    public static let suspectFlag = "usage_suspect"

    let base: any ModelBackend
    let price: Price?

    public var name: String { base.name }

    public init(_ base: any ModelBackend, price: Price?) {
        self.base = base
        self.price = price
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        var response = try await base.complete(request)
        Self.bill(&response, for: request, price: price)
        return response
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let (base, price) = (base, price)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in base.stream(request) {
                        if case .completed(var response) = event {
                            Self.bill(&response, for: request, price: price)
                            continuation.yield(.completed(response))
                        } else {
                            continuation.yield(event)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The usage an answer is billed at and its cost (see the type's rule).
    public static func bill(_ response: inout ChatResponse, for request: ChatRequest, price: Price?) {
        let requestTokens = request.estimatedInputTokens
        var input = response.usage.inputTokens
        var output = response.usage.outputTokens
        var estimated = false
        var suspect = false
        if input == nil {
            input = requestTokens
            estimated = true
        }
        if output == nil {
            output = (response.text.utf8.count + 3) / 4
            estimated = true
        }
        if let maxOutput = request.maxOutputTokens, let reported = output, reported > maxOutput {
            output = maxOutput
            suspect = true
        }
        let inputBound = 4 * max(1, requestTokens)
        if let reported = input, reported > inputBound {
            input = inputBound
            suspect = true
        }
        response.usage = TokenUsage(inputTokens: input, outputTokens: output)
        response.costUSD = price?.cost(of: response.usage)
        if estimated && !response.adjustments.contains(estimatedFlag) { response.adjustments.append(estimatedFlag) }
        if suspect && !response.adjustments.contains(suspectFlag) { response.adjustments.append(suspectFlag) }
    }
}

extension ChatRequest {
    /// The request's size in tokens as estimated everywhere a size is needed before an answer (routing,
    /// budgets, billing without reported usage): 4 bytes of its messages a token.
    public var estimatedInputTokens: Int {
        (messages.reduce(0) { $0 + $1.content.utf8.count } + 3) / 4
    }

    /// The most one call of this request can be billed at `price`: four times its estimated size in
    /// (``BillingBackend``'s bound on reported prompt tokens) and its `max_tokens` out. Nil without a
    /// price or without a `max_tokens` (no bound holds then).
    public func billedCeiling(price: Price?) -> Double? {
        guard let price, let maxOutputTokens else { return nil }
        return price.cost(of: TokenUsage(inputTokens: 4 * max(1, estimatedInputTokens), outputTokens: maxOutputTokens))
    }
}
