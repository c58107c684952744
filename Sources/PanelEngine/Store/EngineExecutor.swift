/// The task executor a command's work prefers, for the unstructured tasks the engine starts on its behalf
/// (a listing's work, which its lost lease cancels alone; a store step under its deadline). Structured
/// child tasks inherit a task executor preference; `Task {}` does not, so those read it from here. Set by
/// `ExecutorPlan` (PanelRuntime) for `batch` and `worker`: nil elsewhere, and a task then starts as any does.
public enum EngineExecutor {
    @TaskLocal public static var preferred: (any TaskExecutor)?

    /// The clock the engine's waits and deadlines run on unless a caller gives one (a test's
    /// ``ManualClock``): the continuous clock, or the event loop's for `batch` and `worker`.
    @TaskLocal public static var clock: any EngineClock = ContinuousClock()
}
