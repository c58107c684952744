import Testing

@testable import ModelBackends

/// The plain client's pool as a state machine: no sockets, hand-set times.
struct ConnectionPoolStateTests {
    final class Connection: CustomStringConvertible {
        let id: Int
        init(_ id: Int) { self.id = id }
        var description: String { "c\(id)" }
    }

    typealias Pool = ConnectionPoolState<Connection>
    let second: UInt64 = 1_000_000_000

    /// The pool under test, in a box so `#expect` can call the helper below.
    final class Box {
        var pool: Pool
        init(_ pool: Pool) { self.pool = pool }
    }

    func lease(_ box: Box, _ key: String = "h:1", waiter: UInt64 = 0, now: UInt64 = 0, fresh: Bool = false) -> (String, [Int]) {
        let (lease, close) = box.pool.checkOut(key, waiter: waiter, now: now, fresh: fresh)
        let name: String
        switch lease {
        case .reuse(let connection): name = "reuse c\(connection.id)"
        case .connect: name = "connect"
        case .wait: name = "wait"
        }
        return (name, close.map(\.id))
    }

    @Test func reusesTheMostRecentlyParkedConnection() {
        let box = Box(Pool(maxPerServer: 8, maxIdlePerServer: 8, idleTimeout: 10 * second))
        #expect(lease(box).0 == "connect")
        #expect(lease(box).0 == "connect")
        let (a, b) = (Connection(1), Connection(2))
        _ = box.pool.checkIn("h:1", a, reusable: true, now: 1)
        _ = box.pool.checkIn("h:1", b, reusable: true, now: 2)
        #expect(lease(box, now: 3).0 == "reuse c2")
        #expect(lease(box, now: 3).0 == "reuse c1")
        #expect(lease(box, now: 3).0 == "connect")
        #expect(box.pool.leased["h:1"] == 3)
        // Servers are apart.
        #expect(lease(box, "other:2").0 == "connect")
    }

    @Test func aConnectionThatCannotBeReusedIsClosedNotParked() {
        let box = Box(Pool(maxPerServer: 8, maxIdlePerServer: 8, idleTimeout: 10 * second))
        _ = lease(box)
        let (wake, close) = box.pool.checkIn("h:1", Connection(1), reusable: false, now: 0)
        #expect(wake == nil && close.map(\.id) == [1])
        #expect(box.pool.idle.isEmpty && box.pool.leased.isEmpty)
    }

    @Test func idleConnectionsPastTheTimeoutAreClosedNotReused() {
        let box = Box(Pool(maxPerServer: 8, maxIdlePerServer: 8, idleTimeout: 4 * second))
        _ = lease(box)
        _ = lease(box)
        _ = box.pool.checkIn("h:1", Connection(1), reusable: true, now: 0)
        _ = box.pool.checkIn("h:1", Connection(2), reusable: true, now: 3 * second)
        // At 5 s the first has been idle 5 s (closed), the second 2 s (reused).
        #expect(lease(box, now: 5 * second) == ("reuse c2", [1]))
        _ = box.pool.checkIn("h:1", Connection(3), reusable: true, now: 5 * second)
        let early = box.pool.sweep(now: 9 * second).map(\.id)
        let late = box.pool.sweep(now: 9 * second + 1).map(\.id)
        #expect(early == [] && late == [3])
        #expect(!box.pool.hasIdle)
    }

    @Test func surplusIdleConnectionsAreClosedOldestFirst() {
        let box = Box(Pool(maxPerServer: 8, maxIdlePerServer: 2, idleTimeout: 10 * second))
        for _ in 0..<3 { _ = lease(box) }
        let closed = (1...3).map { box.pool.checkIn("h:1", Connection($0), reusable: true, now: UInt64($0)).close.map(\.id) }
        #expect(closed == [[], [], [1]])
    }

    @Test func callsBeyondTheCapWaitAndAreHandedConnectionsInOrder() {
        let box = Box(Pool(maxPerServer: 2, maxIdlePerServer: 8, idleTimeout: 10 * second))
        #expect(lease(box, waiter: 1).0 == "connect")
        #expect(lease(box, waiter: 2).0 == "connect")
        #expect(lease(box, waiter: 3).0 == "wait")
        #expect(lease(box, waiter: 4).0 == "wait")
        // A finished call's connection goes straight to the first waiter; its slot moves with it.
        let (wake, _) = box.pool.checkIn("h:1", Connection(1), reusable: true, now: 1)
        guard case (3, .reuse(let handed))? = wake else {
            Issue.record("waiter 3 was not handed the connection: \(String(describing: wake))")
            return
        }
        #expect(handed.id == 1 && box.pool.leased["h:1"] == 2)
        // A failed call hands its slot on: the next waiter opens a connection of its own.
        let (next, close) = box.pool.checkIn("h:1", Connection(2), reusable: false, now: 1)
        guard case (4, .connect)? = next else {
            Issue.record("waiter 4 was not handed a slot: \(String(describing: next))")
            return
        }
        #expect(close.map(\.id) == [2] && box.pool.leased["h:1"] == 2 && box.pool.waiting.isEmpty)
        // A new call does not jump the queue while others wait.
        #expect(lease(box, waiter: 5).0 == "wait")
    }

    @Test func aWaiterThatGivesUpLeavesTheQueue() {
        let box = Box(Pool(maxPerServer: 1, maxIdlePerServer: 8, idleTimeout: 10 * second))
        _ = lease(box, waiter: 1)
        #expect(lease(box, waiter: 2).0 == "wait")
        let first = box.pool.cancelWait("h:1", waiter: 2)
        let again = box.pool.cancelWait("h:1", waiter: 2)
        #expect(first && !again)
        // With nobody waiting, the connection is parked and the slot freed.
        let (wake, _) = box.pool.checkIn("h:1", Connection(1), reusable: true, now: 1)
        #expect(wake == nil && box.pool.leased.isEmpty && box.pool.idle["h:1"]?.count == 1)
    }

    @Test func aFreshCheckOutSkipsParkedConnections() {
        let box = Box(Pool(maxPerServer: 8, maxIdlePerServer: 8, idleTimeout: 10 * second))
        _ = lease(box)
        _ = box.pool.checkIn("h:1", Connection(1), reusable: true, now: 1)
        #expect(lease(box, now: 2, fresh: true).0 == "connect")
        #expect(box.pool.idle["h:1"]?.count == 1)
    }
}
