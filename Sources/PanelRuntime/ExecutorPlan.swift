import Foundation
import NIOCore
import NIOPosix

/// Where a command's async work runs — chosen once, in `main`, before any task exists.
///
/// `panel batch` and `panel worker` spend nearly all their time waiting on sockets: the model calls and,
/// for a worker (or a batch on PostgreSQL), the store's statements. They run Swift concurrency's jobs on
/// one NIO event loop, the one serving those sockets (NIO's take-over of the global executor): a
/// response resumes its task on the thread that read it, with no hand-over to the cooperative pool and no
/// second loop to wake. Measured on the reference machine (docs/benchmarks.md): the same batch of 2,000
/// calls used about a tenth less CPU and a worker about a sixth less, at the same wall time; with the mock
/// answering at once a batch was no slower. The price: one thread does a process's work, so a batch
/// uses one core at most (a call costs well under a millisecond of it); more workers use more cores.
///
/// Every other command keeps Swift's own executor and a loop per core — `serve` answers many clients
/// at once. `NIO_SINGLETON_GROUP_LOOP_COUNT` in the environment still sets the number of loops.
public enum ExecutorPlan: Sendable, Equatable {
    /// Swift concurrency's jobs on NIO's singleton event loops, one loop unless the environment says.
    case eventLoop
    /// Swift's cooperative pool, NIO's loops one per core.
    case standard

    /// The plan for a command line (`arguments` as the process got them, the program's path first).
    public init(arguments: [String]) {
        switch arguments.dropFirst().first {
        case "batch", "worker": self = .eventLoop
        default: self = .standard
        }
    }

    /// Puts the plan in place. Call once, from the main thread, before any task or NIO singleton is
    /// used (NIO refuses a loop count set after its loops started). Returns whether the jobs now run on
    /// the event loop; `false` for ``standard`` and where NIO cannot take the executor over.
    @discardableResult
    public func install() -> Bool {
        guard self == .eventLoop else { return false }
        if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil { NIOSingletons.groupLoopCountSuggestion = 1 }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
