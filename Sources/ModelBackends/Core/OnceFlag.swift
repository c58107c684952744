import Synchronization

/// A flag raised once, from any task or thread, and read anywhere: a deadline's timer that fired, a save
/// that found its lease lost, a signal that came.
public final class OnceFlag: Sendable {
    private let value = Mutex(false)

    public init() {}

    public func set() { value.withLock { $0 = true } }
    public var isSet: Bool { value.withLock { $0 } }
}
