import ModelBackends
import Testing

@testable import PanelEngine

/// A store step that never answers is given up on, even when it ignores cancellation.
struct StoreDeadlineTests {
    @Test func aStepThatNeverAnswersIsGivenUpOn() async throws {
        let gate = AsyncSemaphore(limit: 0)
        await #expect(throws: StoreDeadline.Exceeded.self) {
            try await StoreDeadline.run(limit: .milliseconds(50)) {
                // Ignores cancellation: only the gate below lets it end.
                while (try? await gate.acquire()) == nil {}
                return 1
            }
        }
        gate.release()
        #expect(try await StoreDeadline.run { 7 } == 7)
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await StoreDeadline.run { () async throws -> Int in throw Refused() } }
    }
}
