/// How long a store holds the first persona result saved in a quiet moment for the others of the moment,
/// to commit them together: a listing's personas answer within a few milliseconds of each other and their
/// saves go out side by side (`BatchDriver`), and each save alone was a transaction, a commit and the pages
/// it touched written again. One rule for both stores — PostgreSQL's grouped statement (`GroupedSaves`),
/// SQLite's grouped transaction (`GroupedWrites`); only saves wait, a listing's end and every other write
/// go at once. The listing's end waits for its saves, so its documents come up to this much later.
///
/// Measured (docs/benchmarks.md): on SQLite (`bench/batch-vs-peers.sh`'s batch) CPU a call −22%, wall the
/// same; on PostgreSQL with 3 workers × 32 calls in flight a statement held 1.15 saves without a wait, 2.1
/// with 5 ms and 3.1 with 10 ms while a listing's saves still went one after another.
public enum SaveGrouping {
    public static let window: Duration = .milliseconds(10)
}
