import Foundation
import NIOCore
import NIOPosix
import PanelKit

/// Where a command's async work runs — chosen once, in `main`.
///
/// `panel batch` and `panel worker` spend nearly all their time waiting on sockets: the model calls and,
/// for a worker (or a batch on PostgreSQL), the store's statements. They run on one NIO event loop, the one
/// serving those sockets: the command's task prefers the loop as its task executor (SE-0417), so a
/// response resumes its task on the thread that read it, with no hand-over to Swift's cooperative pool
/// and no second loop to wake, and the task's nonisolated async calls run on in place. Measured on the
/// reference machine (docs/benchmarks.md): the same batch of 2,000 calls used about a fifth less CPU and
/// a worker a fifth to a third less, at the same wall time; with the mock answering at once a batch was
/// no slower. The price: one thread does a process's calls and store steps, so a batch uses one core
/// for them (a call costs well under a millisecond of it); more workers use more cores. A batch's
/// finished listing has its documents made and written on Swift's pool beside it (`BatchDriver.finish`),
/// so the loop stays free for the answers.
///
/// Every other command keeps Swift's own executor and a loop per core — `serve` answers many clients
/// at once. `NIO_SINGLETON_GROUP_LOOP_COUNT` in the environment still sets the number of loops.
public enum ExecutorPlan: Sendable, Equatable {
    /// The command's task on one of NIO's singleton event loops (one loop unless the environment says).
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

    /// What must be set before NIO's loops start: call once, from `main`, before any task exists (NIO
    /// refuses a loop count set after its loops started). For ``eventLoop`` it then starts the loop, and
    /// reads the built-in prompts and templates every engine starts from, on a thread of their own: the
    /// loop's start (a thread, its poller, the first look-ups of NIO's types) and the parsing take ~3 ms
    /// that the command line's parsing, on the main task meanwhile, no longer waits for.
    public func prepare() {
        guard self == .eventLoop else { return }
        // `getenv`, not ProcessInfo's dictionary of the whole environment (~0.5 ms at a process's start).
        if getenv("NIO_SINGLETON_GROUP_LOOP_COUNT") == nil {
            NIOSingletons.groupLoopCountSuggestion = 1
        }
        Thread.detachNewThread {
            _ = MultiThreadedEventLoopGroup.singleton.next()
            _ = PromptSet.builtIn()
            _ = DocumentTemplates.builtIn()
        }
    }

    /// Runs `body` where the plan says: for ``eventLoop`` with the loop as its task executor (the tasks it
    /// starts in groups and `async let` inherit it; the engine's unstructured ones take it from
    /// ``EngineExecutor``) and the loop's clock as the engine's (``EventLoopClock``), otherwise as it is.
    public func run<T: Sendable>(_ body: () async -> T) async -> T {
        guard self == .eventLoop else { return await body() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let executor = EventLoopTaskExecutor(loop)
        return await EngineExecutor.$preferred.withValue(executor) {
            await EngineExecutor.$clock.withValue(EventLoopClock(loop: loop)) {
                await withTaskExecutorPreference(executor) { await body() }
            }
        }
    }
}

/// An event loop as a task executor: a job runs as a task on the loop, after what the loop already has
/// to do.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
