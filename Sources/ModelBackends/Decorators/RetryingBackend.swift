/// How a backend retries transient failures.
public struct RetryPolicy: Sendable, Hashable {
    /// Calls in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// A server asking for a longer wait than this is not waited for: the call fails with its error.
    public var maxRetryAfter: Duration

    public init(
        maxAttempts: Int = 4,
        baseDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(20),
        maxRetryAfter: Duration = .seconds(60)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// True for failures worth another try: rate limits, overload, 5xx, timeouts, dropped
    /// connections and garbled 200 bodies — never authentication, permission, bad requests, content
    /// filters, missing recordings or cancellation.
    public static func isRetryable(_ error: BackendError) -> Bool {
        if error.permanent { return false }
        switch error.kind {
        case .rateLimited, .overloaded, .server, .timeout, .connection: return true
        case .invalidResponse: return error.status == 200 || error.status == nil
        default: return false
        }
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): exponential backoff with full
    /// jitter (`random` in 0..<1), never shorter than what the server asked for.
    public func delay(after attempt: Int, error: BackendError, random: Double) -> Duration {
        let backoff = backoff(after: attempt, random: random)
        if let retryAfter = error.retryAfter, retryAfter > backoff { return retryAfter }
        return backoff
    }

    /// The wait before attempt `attempt + 1` of anything retried (attempt counts from 1): `baseDelay`
    /// doubling up to `maxDelay`, scaled by 0.5 + 0.5 × `random` (1: no jitter).
    public func backoff(after attempt: Int, random: Double = 1) -> Duration {
        let exponent = min(max(attempt, 1) - 1, 20)
        let ceiling = min(maxDelay, baseDelay * (1 << exponent))
        return ceiling * (0.5 + 0.5 * min(max(random, 0), 1))
    }

    /// A store step tried again over a short outage (a restarted server, a dropped connection): four
    /// attempts, 0.25 s doubling.
    public static let storeStep = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(250), maxDelay: .seconds(2))
    /// A queued item (a batch's listing, a team server's review): claimed at most three times without
    /// finishing before it is failed with the last reason.
    public static let queueItem = RetryPolicy(maxAttempts: 3)
    /// A worker or listener waiting for its store to answer again: 0.1 s doubling to 5 s, for as long as it takes.
    public static let storeOutage = RetryPolicy(maxAttempts: .max, baseDelay: .milliseconds(100), maxDelay: .seconds(5))
    /// A worker whose backend cannot be reached from its host (it gave a listing back): it waits 1 s
    /// doubling to 30 s before claiming again, leaving the queue to workers that can reach it.
    public static let backendOutage = RetryPolicy(maxAttempts: .max, baseDelay: .seconds(1), maxDelay: .seconds(30))
}

/// Retries the wrapped backend's transient failures with exponential backoff and jitter, honouring
/// the server's Retry-After as the minimum wait. Time and randomness are injected so tests never
/// sleep. The response reports how many calls it took.
public struct RetryingBackend: ModelBackend {
    let base: any ModelBackend
    public let policy: RetryPolicy
    let clock: any Clock<Duration>
    let random: @Sendable () -> Double
    /// Called before each wait, for logs and traces.
    let onRetry: @Sendable (_ attempt: Int, _ error: BackendError, _ wait: Duration) -> Void
    /// The model asked for, named on each attempt's span.
    let model: String?

    public var name: String { base.name }

    public init(
        _ base: any ModelBackend,
        policy: RetryPolicy = RetryPolicy(),
        clock: any Clock<Duration> = ContinuousClock(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        onRetry: @escaping @Sendable (Int, BackendError, Duration) -> Void = { _, _, _ in }, model: String? = nil
    ) {
        self.model = model
        self.base = base
        self.policy = policy
        self.clock = clock
        self.random = random
        self.onRetry = onRetry
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await withRetries(request) { try await base.complete(request) }
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let base = self.base
        return .answeringEvents { yield in
            // A retry after text was streamed says so first: its text replaces the failed attempt's.
            var streamed = false
            return try await withRetries(request) {
                if streamed {
                    yield(.restarted)
                    streamed = false
                }
                for try await event in base.stream(request) {
                    switch event {
                    case .delta:
                        streamed = true
                        yield(event)
                    case .restarted:
                        yield(event)
                    case .completed(let response): return response
                    }
                }
                throw BackendError.invalidResponse(backend: base.name, status: nil, detail: "the stream ended without an answer")
            }
        }
    }

    func withRetries(_ request: ChatRequest, _ call: () async throws -> ChatResponse) async throws -> ChatResponse {
        var attempt = 1
        var calls = 0
        while true {
            do {
                var response = try await Traces.attempt(backend: name, model: model, attempt: attempt, request: request, call)
                response.attempts += calls
                return response
            } catch var error as BackendError {
                calls += 1
                error.attempts = calls
                guard attempt < policy.maxAttempts, RetryPolicy.isRetryable(error) else { throw error }
                // A router has other candidates: an unreachable backend is its to fail over, not ours to retry.
                if error.unreachable && request.context.failFastWhenUnreachable { throw error }
                if let retryAfter = error.retryAfter, retryAfter > policy.maxRetryAfter { throw error }
                let wait = policy.delay(after: attempt, error: error, random: random())
                onRetry(attempt, error, wait)
                do {
                    try await clock.sleep(for: wait)
                } catch {
                    throw BackendError.cancelled(backend: name)
                }
                attempt += 1
            }
        }
    }
}
