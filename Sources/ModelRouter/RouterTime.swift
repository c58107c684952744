/// Time as the router sees it: a monotonic "now" and a way to wait. Injected so cooldown, latency
/// window and hedging tests run without sleeping.
public struct RouterTime: Sendable {
    public var now: @Sendable () -> Duration
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(now: @escaping @Sendable () -> Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// The real clock.
    public static func continuous() -> RouterTime {
        let clock = ContinuousClock()
        let start = clock.now
        return RouterTime(now: { clock.now - start }, sleep: { try await clock.sleep(for: $0) })
    }
}

/// A small seeded generator: same seed, same decisions.
public struct SeededRandom: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A number in 0..<1.
    public mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}
