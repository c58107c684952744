import Testing

@testable import PanelEngine

/// A review's readers wake for their review's events only (a server following 20 reviews read all 20
/// logs on every append), and everyone wakes when a listener cannot tell what it missed.
struct ChangeSignalTests {
    @Test(.timeLimit(.minutes(2))) func aKeyedWaiterSeesItsKeyAndEverythingNothingElse() async {
        let signal = ChangeSignal()
        let a = signal.mark("a")
        let any = signal.mark(nil)
        signal.bump("b")
        #expect(signal.mark("a") == a)
        #expect(signal.mark(nil) != any)
        signal.bump("a")
        #expect(signal.mark("a") != a)
        let again = signal.mark("a")
        signal.bumpAll()
        #expect(signal.mark("a") != again)
        // A bump after the wait began ends it before its timeout (far beyond the test's time limit).
        let waiting = Task { await signal.wait(for: "c", timeout: .seconds(600)) }
        let bumping = Task {
            while !Task.isCancelled {
                signal.bump("c")
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        await waiting.value
        bumping.cancel()
    }
}
