import Foundation
import MockProvider
import Synchronization
import Testing

@testable import ModelBackends

/// Fails with the given errors in turn, then answers.
final class FlakyBackend: ModelBackend {
    let name = "flaky"
    private let failures: Mutex<[BackendError]>
    private let count = Mutex(0)

    init(_ failures: [BackendError]) { self.failures = Mutex(failures) }
    var calls: Int { count.withLock { $0 } }

    func complete(_ request: ChatRequest) async throws -> ChatResponse {
        count.withLock { $0 += 1 }
        if let failure = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw failure }
        return ChatResponse(text: "ok", model: "m", backend: name)
    }
}

@Suite(.timeLimit(.minutes(5)))
struct RetryingBackendTests {
    /// One policy type for every retry: backend calls, store steps, a store's outage, a queued item's claims.
    @Test func oneBackoffRuleDoublesUpToItsCeiling() {
        let outage = RetryPolicy.storeOutage
        #expect((1...8).map { outage.backoff(after: $0) } == [100, 200, 400, 800, 1600, 3200, 5000, 5000].map { .milliseconds($0) })
        #expect(RetryPolicy.storeStep.maxAttempts == 4 && RetryPolicy.storeStep.backoff(after: 3) == .seconds(1))
        #expect(RetryPolicy().backoff(after: 1, random: 0) == .milliseconds(250))
        #expect(RetryPolicy.queueItem.maxAttempts == 3)
    }

    static let request = ChatRequest(messages: [.user("hi")])

    func error(_ kind: BackendError.Kind, status: Int? = nil, retryAfter: Duration? = nil) -> BackendError {
        BackendError(kind: kind, backend: "flaky", status: status, detail: "x", retryAfter: retryAfter)
    }

    @Test func transientFailuresAreRetriedAndCounted() async throws {
        let flaky = FlakyBackend([error(.rateLimited, status: 429), error(.server, status: 500), error(.connection)])
        let clock = TestClock()
        let response = try await RetryingBackend(flaky, clock: clock, random: { 0.5 }).complete(Self.request)
        #expect(response.text == "ok")
        #expect(response.attempts == 4)
        #expect(clock.sleeps.count == 3)
    }

    @Test func clientErrorsAreNeverRetried() async throws {
        for kind in [BackendError.Kind.authentication, .permission, .badRequest, .contentFiltered, .notRecorded, .cancelled] {
            let flaky = FlakyBackend([error(kind, status: 400)])
            let clock = TestClock()
            let thrown = try await #require(throws: BackendError.self) {
                try await RetryingBackend(flaky, clock: clock).complete(Self.request)
            }
            #expect(thrown.kind == kind)
            #expect(flaky.calls == 1)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test func retryAfterIsTheMinimumWait() async throws {
        let flaky = FlakyBackend([error(.rateLimited, status: 429, retryAfter: .seconds(7))])
        let clock = TestClock()
        _ = try await RetryingBackend(flaky, clock: clock, random: { 0 }).complete(Self.request)
        #expect(clock.sleeps == [.seconds(7)])
    }

    @Test func backoffGrowsExponentiallyWithJitterAndACap() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        let failure = error(.server)
        #expect(policy.delay(after: 1, error: failure, random: 0) == .milliseconds(50))
        #expect(policy.delay(after: 1, error: failure, random: 0.999_999) <= .milliseconds(100))
        #expect(policy.delay(after: 3, error: failure, random: 0) == .milliseconds(200))
        #expect(policy.delay(after: 9, error: failure, random: 0.999_999) <= .seconds(1))
    }

    @Test func givesUpAfterMaxAttemptsWithTheLastError() async throws {
        let flaky = FlakyBackend(Array(repeating: error(.overloaded, status: 529), count: 5))
        let thrown = try await #require(throws: BackendError.self) {
            try await RetryingBackend(flaky, policy: RetryPolicy(maxAttempts: 3), clock: TestClock()).complete(Self.request)
        }
        #expect(thrown.kind == .overloaded)
        #expect(flaky.calls == 3)
    }

    @Test func excessiveRetryAfterFailsInsteadOfHanging() async throws {
        let flaky = FlakyBackend([error(.rateLimited, status: 429, retryAfter: .seconds(3600))])
        let clock = TestClock()
        await #expect(throws: BackendError.self) { try await RetryingBackend(flaky, clock: clock).complete(Self.request) }
        #expect(clock.sleeps.isEmpty)
    }

    /// Against the mock provider with faults on every first and second call (429 with Retry-After,
    /// 500, 503, resets, malformed bodies): every call ends answered, and no retry came sooner than
    /// the Retry-After the server sent.
    @Test func survivesInjectedFaultsOverHTTP() async throws {
        var configuration = MockProviderConfiguration()
        configuration.faults = .mixed(1.0)
        configuration.retryAfterSeconds = 2
        try await MockProvider.withServer(configuration) { handle in
            let clock = TestClock()
            let waits = Mutex<[(BackendError.Kind, Duration)]>([])
            let backend = RetryingBackend(
                OpenAICompatibleBackend(.init(name: "mock", baseURL: handle.baseURL, model: "m")), clock: clock, random: { 0.3 },
                onRetry: { _, error, wait in waits.withLock { $0.append((error.kind, wait)) } })
            for index in 0..<12 {
                var request = Self.request
                request.stream = index % 2 == 0
                request.messages.append(.user("call \(index)"))
                let response = try await backend.respond(to: request)
                #expect(response.text.contains("score"))
                #expect(response.attempts == 3)  // the mock faults each body twice, then answers
            }
            let recorded = waits.withLock { $0 }
            #expect(recorded.count == 24)
            for (kind, wait) in recorded where kind == .rateLimited { #expect(wait >= .seconds(2)) }
            #expect(handle.stats.snapshot.faults == 24)
        }
    }
}
