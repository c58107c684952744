import Foundation
import Synchronization
import Testing

@testable import ModelBackends

/// Requests and tokens per minute, counted in fixed one-minute windows on an injected clock.
struct RateLimitTests {
    final class FakeTime: Sendable {
        let seconds = Mutex(120.0)
        func advance(_ duration: Duration) {
            seconds.withLock { $0 += Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
        }
        var now: Double { seconds.withLock { $0 } }
    }

    struct Echo: ModelBackend {
        var name = "limited"
        func complete(_ request: ChatRequest) async throws -> ChatResponse { ChatResponse(text: "ok", model: nil, backend: name) }
    }

    @Test func windowsCountRequestsAndTokens() {
        let time = FakeTime()
        let windows = LocalRateWindows(now: { time.now })
        let rpm = RateLimit(requestsPerMinute: 2)
        #expect(windows.take(backend: "a", tokens: 10, limit: rpm) == nil)
        #expect(windows.take(backend: "a", tokens: 10, limit: rpm) == nil)
        #expect(windows.take(backend: "a", tokens: 10, limit: rpm) == .seconds(60))  // the window began at 120 s
        #expect(windows.take(backend: "b", tokens: 10, limit: rpm) == nil)  // each backend has its own
        time.advance(.seconds(45))
        #expect(windows.take(backend: "a", tokens: 10, limit: rpm) == .seconds(15))
        time.advance(.seconds(15))
        #expect(windows.take(backend: "a", tokens: 10, limit: rpm) == nil)
        // Tokens: the first call of a window always fits, however large; the next must fit what is left.
        let tpm = RateLimit(tokensPerMinute: 100)
        #expect(windows.take(backend: "t", tokens: 150, limit: tpm) == nil)
        #expect(windows.take(backend: "t", tokens: 1, limit: tpm) != nil)
        time.advance(.seconds(60))
        #expect(windows.take(backend: "t", tokens: 60, limit: tpm) == nil)
        #expect(windows.take(backend: "t", tokens: 40, limit: tpm) == nil)
        #expect(windows.take(backend: "t", tokens: 1, limit: tpm) != nil)
    }

    /// A call over the limit waits for the next window (the wait is the injected sleep, which moves the
    /// clock), then goes through.
    @Test func aFullWindowMakesTheNextCallWait() async throws {
        let time = FakeTime()
        let waits = Mutex<[Duration]>([])
        let backend = RateLimitedBackend(
            Echo(), limit: RateLimit(requestsPerMinute: 2), windows: LocalRateWindows(now: { time.now }),
            sleep: { wait in
                waits.withLock { $0.append(wait) }
                time.advance(wait)
            })
        let request = ChatRequest(messages: [.user(String(repeating: "x", count: 400))], maxOutputTokens: 100)
        #expect(RateLimitedBackend.tokens(request) == 200)
        for _ in 0..<3 { _ = try await backend.complete(request) }
        #expect(waits.withLock { $0 } == [.seconds(60)])
    }
}
