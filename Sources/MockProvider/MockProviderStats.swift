import Synchronization

/// What the mock provider has served, for tests that count calls.
public final class MockProviderStats: Sendable {
    public struct Snapshot: Sendable, Hashable {
        /// Chat requests received, faults included.
        public var chatRequests = 0
        /// Chat requests answered with a fault.
        public var faults = 0
        /// Requests that carried an Authorization header.
        public var authorized = 0
        /// Every Authorization value seen (for tests proving keys reach the server, and nowhere else).
        public var authorizationValues: [String] = []
        /// The largest number of chat requests in flight at once.
        public var peakInFlight = 0
        public var inFlight = 0
    }

    private let state = Mutex(Snapshot())
    private let stopping = Mutex(false)

    /// The server is about to stop: waiting handlers answer at once so no connection is torn down
    /// mid-response.
    public func beginShutdown() { stopping.withLock { $0 = true } }
    var isShuttingDown: Bool { stopping.withLock { $0 } }
    private let attempts = Mutex([String: Int]())
    private let arrivals = Mutex(0)

    /// A number for each request as it arrives (0, 1, 2 …).
    func nextArrival() -> Int {
        arrivals.withLock { count in
            defer { count += 1 }
            return count
        }
    }

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func begin(authorization: String?) {
        state.withLock {
            $0.chatRequests += 1
            $0.inFlight += 1
            $0.peakInFlight = max($0.peakInFlight, $0.inFlight)
            if let authorization {
                $0.authorized += 1
                $0.authorizationValues.append(authorization)
            }
        }
    }

    func end() { state.withLock { $0.inFlight -= 1 } }
    func fault() { state.withLock { $0.faults += 1 } }

    /// Returns how many times this body was seen before, and counts this one.
    func attempt(_ key: String) -> Int {
        attempts.withLock { seen in
            let count = seen[key, default: 0]
            seen[key] = count + 1
            return count
        }
    }
}
