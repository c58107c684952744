public import Foundation
import Synchronization

/// A backend's rate limits (`rate_limit: {rpm: N, tpm: N}`): requests and tokens per minute.
public struct RateLimit: Sendable, Hashable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }

    /// Whether a call of `tokens` fits in a window that has counted `requests` calls and `used` tokens.
    /// The first call of a window always fits (a call larger than the token limit would otherwise
    /// never be made).
    public func admits(requests: Int, used: Int, tokens: Int) -> Bool {
        if let rpm = requestsPerMinute, requests + 1 > rpm { return false }
        if let tpm = tokensPerMinute, requests > 0, used + tokens > tpm { return false }
        return true
    }

    /// The window (whole minutes since 1970) a time falls in, and the seconds left in it.
    public static func window(at epochSeconds: Double) -> (minute: Int64, remaining: Double) {
        let minute = Int64((epochSeconds / 60).rounded(.down))
        return (minute, Double(minute + 1) * 60 - epochSeconds)
    }
}

/// Where rate windows are counted: in this process, or in a store every process shares.
public protocol RateWindows: Sendable {
    /// Counts a call of `tokens` against the backend's window of the current minute when it fits
    /// `limit`: nil then; otherwise how long until the next window, counting nothing.
    func take(backend: String, tokens: Int, limit: RateLimit) async throws -> Duration?
}

/// Rate windows of one process, on an injected clock (seconds since 1970).
public final class LocalRateWindows: RateWindows {
    let now: @Sendable () -> Double
    let windows = Mutex<[String: (minute: Int64, requests: Int, tokens: Int)]>([:])

    public init(now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.now = now
    }

    public func take(backend: String, tokens: Int, limit: RateLimit) -> Duration? {
        let (minute, remaining) = RateLimit.window(at: now())
        return windows.withLock { windows in
            var window = windows[backend] ?? (minute, 0, 0)
            if window.minute != minute { window = (minute, 0, 0) }
            guard limit.admits(requests: window.requests, used: window.tokens, tokens: tokens) else {
                return .milliseconds(Int64((remaining * 1000).rounded(.up)))
            }
            window.requests += 1
            window.tokens += tokens
            windows[backend] = window
            return nil
        }
    }
}

/// Keeps a backend within its requests and tokens per minute: a call waits for the next window when
/// this one is full. The windows are the store's when one is shared, so the limit holds across every
/// process; tokens are counted up front (the prompt at four characters a token, plus the answer cap).
/// A store that cannot be reached does not stop calls: the limit is then not enforced.
public struct RateLimitedBackend: ModelBackend {
    let base: any ModelBackend
    let limit: RateLimit
    let windows: any RateWindows
    let sleep: @Sendable (Duration) async throws -> Void

    public var name: String { base.name }

    public init(
        _ base: any ModelBackend, limit: RateLimit, windows: any RateWindows,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.base = base
        self.limit = limit
        self.windows = windows
        self.sleep = sleep
    }

    /// The tokens a request is counted for.
    public static func tokens(_ request: ChatRequest) -> Int {
        request.messages.reduce(0) { $0 + $1.content.utf8.count } / 4 + (request.maxOutputTokens ?? 500)
    }

    func admit(_ request: ChatRequest) async throws {
        let tokens = Self.tokens(request)
        while let wait = (try? await windows.take(backend: base.name, tokens: tokens, limit: limit)) ?? nil {
            try await sleep(wait)
        }
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try await admit(request)
        return try await base.complete(request)
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let limited = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await limited.admit(request)
                    for try await event in limited.base.stream(request) { continuation.yield(event) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
