import Foundation
import Testing

@testable import ModelBackends

/// Answers with the usage it is given, whole or streamed.
struct ReportingBackend: ModelBackend {
    let name = "reporting"
    let usage: TokenUsage
    let text: String

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        ChatResponse(text: text, model: "m", backend: name, usage: usage)
    }

    func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let response = ChatResponse(text: text, model: "m", backend: name, usage: usage)
        return AsyncThrowingStream { continuation in
            continuation.yield(.delta(text))
            continuation.yield(.completed(response))
            continuation.finish()
        }
    }
}

/// A provider that omits usage, or reports more than the request makes possible, cannot spend a
/// budget as if calls were free, or many times over.
struct BillingBackendTests {
    static let price = Price(inputPerMTok: 1_000_000, outputPerMTok: 1_000_000)  // $1 a token: figures read easily
    static let request = ChatRequest(messages: [.user(String(repeating: "a", count: 400))], maxOutputTokens: 50)
    static let answer = String(repeating: "b", count: 80)

    func billed(_ usage: TokenUsage, stream: Bool = false) async throws -> ChatResponse {
        let backend = BillingBackend(ReportingBackend(usage: usage, text: Self.answer), price: Self.price)
        var request = Self.request
        request.stream = stream
        return try await backend.respond(to: request)
    }

    @Test(arguments: [false, true]) func reportedUsageWithinBoundsIsBilledAsReported(stream: Bool) async throws {
        let response = try await billed(TokenUsage(inputTokens: 120, outputTokens: 30), stream: stream)
        #expect(response.usage == TokenUsage(inputTokens: 120, outputTokens: 30))
        #expect(response.costUSD == 150)
        #expect(response.adjustments.isEmpty)
    }

    @Test(arguments: [false, true]) func missingUsageIsEstimatedAndSaysSo(stream: Bool) async throws {
        let response = try await billed(TokenUsage(), stream: stream)
        // 400 characters in: 100 tokens; 80 characters out: 20 tokens.
        #expect(response.usage == TokenUsage(inputTokens: 100, outputTokens: 20))
        #expect(response.costUSD == 120)
        #expect(response.adjustments == [BillingBackend.estimatedFlag])
    }

    @Test(arguments: [false, true]) func impossibleUsageIsCappedAtItsBoundAndMarkedSuspect(stream: Bool) async throws {
        let response = try await billed(TokenUsage(inputTokens: 10_000, outputTokens: 1_000_000), stream: stream)
        // At most max_tokens (50) out, and four times the request's estimated 100 tokens in.
        #expect(response.usage == TokenUsage(inputTokens: 400, outputTokens: 50))
        #expect(response.costUSD == 450)
        #expect(response.adjustments == [BillingBackend.suspectFlag])
        #expect(Self.request.billedCeiling(price: Self.price) == 450)
    }

    @Test func withoutAPriceNothingIsBilledButTheUsageIsStillChecked() async throws {
        let backend = BillingBackend(ReportingBackend(usage: TokenUsage(outputTokens: 999), text: "x"), price: nil)
        let response = try await backend.complete(Self.request)
        #expect(response.costUSD == nil)
        #expect(response.usage.outputTokens == 50)
        #expect(Set(response.adjustments) == [BillingBackend.estimatedFlag, BillingBackend.suspectFlag])
    }
}
