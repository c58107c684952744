import Synchronization
import Testing

@testable import PanelEngine

/// The worker's local view of its leases, on a clock the test moves.
@Suite(.timeLimit(.minutes(5)))
struct LeaseBookTests {
    @Test func aLeaseIsLiveUntilItsLocalExpiryAndRenewalsExtendIt() {
        let clock = ManualClock()
        let book = LeaseBook(now: { clock.now })
        let claim = ItemClaim(job: "j", key: "k", token: "t")
        #expect(!book.isLive(claim))  // never held
        book.hold(claim, since: clock.now, lease: .seconds(3))
        #expect(book.isLive(claim))
        clock.advance(by: .seconds(2))
        book.renewed([claim], since: clock.now, lease: .seconds(3))
        clock.advance(by: .seconds(2))
        #expect(book.isLive(claim))  // renewed at 2 s: good until 5 s
        clock.advance(by: .seconds(2))
        #expect(!book.isLive(claim))  // paused past it: no call starts
    }

    @Test func aLeaseMissingFromARenewalIsLostAndItsCallsCancelled() {
        let clock = ManualClock()
        let book = LeaseBook(now: { clock.now })
        let (kept, taken) = (ItemClaim(job: "j", key: "a", token: "1"), ItemClaim(job: "j", key: "b", token: "2"))
        book.hold(kept, since: clock.now, lease: .seconds(30))
        book.hold(taken, since: clock.now, lease: .seconds(30))
        let cancelled = Mutex([String]())
        book.onLost(kept) { cancelled.withLock { $0.append("a") } }
        book.onLost(taken) { cancelled.withLock { $0.append("b") } }
        book.renewed([kept], since: clock.now, lease: .seconds(30))
        #expect(cancelled.withLock { $0 } == ["b"])
        #expect(book.isLive(kept) && !book.isLive(taken))
        // Unrenewed past its local expiry (the store away): lost too, once.
        clock.advance(by: .seconds(31))
        book.expire()
        book.expire()
        #expect(cancelled.withLock { $0 } == ["b", "a"])
        // A handler added after the loss runs at once.
        book.onLost(kept) { cancelled.withLock { $0.append("late") } }
        #expect(cancelled.withLock { $0 }.last == "late")
        book.release(kept)
        book.release(taken)
        #expect(book.liveCount == 0)
    }
}
