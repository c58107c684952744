import Synchronization
import Testing

@testable import PanelEngine

/// A store step that never answers is given up on, even when it ignores cancellation.
struct StoreDeadlineTests {
    /// A step that never answers and ignores cancellation: it waits, without holding a thread, until
    /// ``release()``.
    final class Unanswered: Sendable {
        private let held = Mutex<(CheckedContinuation<Void, Never>?, released: Bool)>((nil, false))

        func step() async -> Int {
            await withCheckedContinuation { continuation in
                let go = held.withLock { state -> Bool in
                    if state.released { return true }
                    state.0 = continuation
                    return false
                }
                if go { continuation.resume() }
            }
            return 1
        }

        func release() {
            held.withLock { state -> CheckedContinuation<Void, Never>? in
                state.released = true
                defer { state.0 = nil }
                return state.0
            }?.resume()
        }
    }

    @Test func aStepThatNeverAnswersIsGivenUpOn() async throws {
        let unanswered = Unanswered()
        await #expect(throws: StoreDeadline.Exceeded.self) {
            try await StoreDeadline.run(limit: .milliseconds(50)) { await unanswered.step() }
        }
        unanswered.release()
        #expect(try await StoreDeadline.run { 7 } == 7)
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await StoreDeadline.run { () async throws -> Int in throw Refused() } }
    }

    /// The deadline runs on the clock it is given (a worker's: its event loop's), and an answered step
    /// leaves no timer behind.
    @Test func theDeadlineIsTheClocksAndAnAnsweredStepLeavesNoTimer() async throws {
        let clock = ManualClock()
        let unanswered = Unanswered()
        let step = Task { try await StoreDeadline.run(limit: .seconds(10), clock: clock) { await unanswered.step() } }
        await clock.until { $0.deadlines == [.seconds(10)] }
        clock.advance(by: .seconds(9))
        #expect(clock.deadlines == [.seconds(1)])
        clock.advance(by: .seconds(1))
        await #expect(throws: StoreDeadline.Exceeded.self) { try await step.value }
        unanswered.release()
        #expect(try await StoreDeadline.run(limit: .seconds(10), clock: clock) { 7 } == 7)
        await clock.until { $0.deadlines.isEmpty }
    }
}
