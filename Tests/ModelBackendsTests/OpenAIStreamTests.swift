import Foundation
import Testing

@testable import ModelBackends

struct OpenAIStreamTests {
    func run(_ body: String) throws -> (ChatResponse, String) {
        var parser = SSEParser()
        var accumulator = OpenAIStreamAccumulator(backend: "b", redactor: Redactor(secrets: ["sk-test-0123456789"]))
        var text = ""
        for event in parser.feed(Array(body.utf8)) + parser.finish() {
            if let delta = try accumulator.consume(event) { text += delta }
            if accumulator.isDone { break }
        }
        return (try accumulator.finish(), text)
    }

    @Test func foldsDeltasModelAndUsage() throws {
        let body = """
            data: {"id":"x","model":"gpt-4o-mini-2024","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}],"extra":"ignored"}

            data: {"id":"x","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}

            data: {"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

            data: {"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}

            data: [DONE]

            """
        let (response, streamed) = try run(body)
        #expect(response.text == "Hello")
        #expect(streamed == "Hello")
        #expect(response.model == "gpt-4o-mini-2024")
        #expect(response.usage == TokenUsage(inputTokens: 12, outputTokens: 3))
        #expect(response.finishReason == "stop")
    }

    @Test func errorObjectMidStreamIsAnErrorNotText() throws {
        let body = """
            data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}

            data: {"error":{"message":"Rate limit exceeded for sk-test-0123456789","type":"rate_limit_error"}}

            """
        let error = try #require(throws: BackendError.self) { try run(body) }
        #expect(error.kind == .rateLimited)
        #expect(!error.description.contains("sk-test-0123456789"))
    }

    @Test func streamThatStopsEarlyIsTruncated() throws {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial\"}}]}\n\n"
        let error = try #require(throws: BackendError.self) { try run(body) }
        #expect(error.kind == .connection)
        #expect(error.detail.contains("truncated"))
    }

    @Test func contentFilterFinishIsDistinct() throws {
        let body = "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"content_filter\"}]}\n\ndata: [DONE]\n\n"
        let error = try #require(throws: BackendError.self) { try run(body) }
        #expect(error.kind == .contentFiltered)
    }

    @Test func garbageEventIsInvalidResponse() throws {
        let error = try #require(throws: BackendError.self) { try run("data: {not json\n\n") }
        #expect(error.kind == .invalidResponse)
    }
}

struct RetryAfterTests {
    @Test func millisecondsWin() {
        #expect(RetryAfter.parse(headers: [("Retry-After", "5"), ("retry-after-ms", "1500")]) == .milliseconds(1500))
    }

    @Test func seconds() {
        #expect(RetryAfter.parse(headers: [("retry-after", "2")]) == .seconds(2))
        #expect(RetryAfter.parse(headers: [("retry-after", "0.5")]) == .milliseconds(500))
    }

    @Test func httpDate() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryAfter.parse(headers: [("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT")], now: now) == .seconds(30))
    }

    @Test func garbageIsIgnored() {
        #expect(RetryAfter.parse(headers: [("retry-after", "soon")]) == nil)
        #expect(RetryAfter.parse(headers: [("retry-after", "-3")]) == nil)
    }
}

struct ChatRequestTests {
    @Test func hashIgnoresLabelAndStreamingButNotContent() {
        let base = ChatRequest(messages: [.system("s"), .user("u")], temperature: 0.2, maxOutputTokens: 10, label: "a")
        var other = base
        other.label = "b"
        other.stream = true
        #expect(base.canonicalHash == other.canonicalHash)
        other.temperature = 0.3
        #expect(base.canonicalHash != other.canonicalHash)
        #expect(base.canonicalHash.count == 64)
    }

    @Test func redactorMasksSecretsAndIgnoresShortOnes() {
        let redactor = Redactor(secrets: ["sk-abcdefghijklmnop", "abc"])
        #expect(redactor.redact("key sk-abcdefghijklmnop and abc") == "key [redacted] and abc")
    }
}
