import PanelEngine
import PostgresNIO
import Synchronization

/// Saves of one job asked for within ``window`` of each other, or while another of its statements is on
/// its way to the server, sent together as one statement (``PostgresStore/SaveManyStatement``): one
/// transaction, one commit — one flush of the server's write-ahead log — and one round trip for all of
/// them. A worker saves every persona's result the moment it arrives; a listing's personas answer at
/// about the same moment, and alone each save was a statement and a commit of its own, the larger part
/// of the database server's CPU per listing.
///
/// The first save to find none of its job's saves under way starts a sender (a task of its own) and waits
/// like the others; the sender waits the ``window`` (while it is open) for the saves of the moment to join,
/// sends everything queued, resumes each caller with its own outcome — whether its item's lease held —
/// then sends what queued meanwhile, until nothing is left. A save is as durable as before: its caller
/// returns only after the statement holding it committed. When a statement of several fails and asking
/// again may not cure it (the server refused it, not a lost connection), its saves are sent one by one so
/// only the save at fault fails; a failure that may pass (a lost connection, the server restarting) fails
/// them all at once — each caller retries its own step. Saves of different jobs are never grouped: a
/// statement locks one job's row at most, so two statements never wait for each other's job rows.
final class GroupedSaves: Sendable {
    struct Save: Sendable {
        var result: SavedResult?
        var claim: ItemClaim
        var reservation: BudgetReservation?
    }

    private struct Waiting {
        let save: Save
        let continuation: CheckedContinuation<Bool, any Error>
    }

    private struct State {
        var queued: [String: [Waiting]] = [:]
        /// Jobs with a sender running.
        var sending: Set<String> = []
        /// Statements sent and the saves they held, for tests and figures.
        var statements = 0
        var saves = 0
    }

    /// The most saves one statement holds (a bound on its size and on how long its locks are held).
    static let largest = 64
    /// How long a save waits for company when none of its job's is under way (``SaveGrouping``).
    static let window = SaveGrouping.window

    private let state = Mutex(State())
    /// Sends saves of one job as one statement; each save's lease held or not, in order.
    private let send: @Sendable ([Save]) async throws -> [Bool]
    /// Whether a statement that failed with `error` may succeed when sent again as it was.
    private let mayPass: @Sendable (any Error) -> Bool
    private let deadline: Duration?
    /// How long the first save of a quiet moment waits for others before it is sent, and whether it waits now.
    let window: SaveWindow

    init(
        window: Duration = GroupedSaves.window, clock: any EngineClock = EngineExecutor.clock, deadline: Duration? = StoreDeadline.step,
        mayPass: @escaping @Sendable (any Error) -> Bool, send: @escaping @Sendable ([Save]) async throws -> [Bool]
    ) {
        self.window = SaveWindow(length: window, clock: clock)
        self.deadline = deadline
        self.mayPass = mayPass
        self.send = send
    }

    /// The statements sent so far and the saves they held.
    var counts: (statements: Int, saves: Int) { state.withLock { ($0.statements, $0.saves) } }

    /// Saves waiting for a statement (not counting those on their way).
    var queuedCount: Int { state.withLock { $0.queued.values.reduce(0) { $0 + $1.count } } }

    /// Saves `save` with whatever other saves of its job come meanwhile; whether its lease held.
    func save(_ save: Save) async throws -> Bool {
        let job = save.claim.job
        return try await withCheckedThrowingContinuation { continuation in
            let starts = state.withLock { state in
                state.queued[job, default: []].append(Waiting(save: save, continuation: continuation))
                return state.sending.insert(job).inserted
            }
            if starts { Task(executorPreference: EngineExecutor.preferred) { await self.drain(job) } }
        }
    }

    /// Sends `job`'s queued saves, a statement at a time, until none is left.
    private func drain(_ job: String) async {
        // The saves of a moment come over a few milliseconds (the answers of a wave of calls are read one
        // after another): the first waits for the window so they go as one.
        await window.wait()
        while let batch = next(job) {
            let saves = batch.map(\.save)
            do {
                let held = try await StoreDeadline.run(limit: deadline) { try await self.send(saves) }
                // One answer a save (the statement answers for each); one missing reads as not held.
                for (index, waiting) in batch.enumerated() { waiting.continuation.resume(returning: index < held.count && held[index]) }
            } catch  where batch.count > 1 && !mayPass(error) {
                state.withLock { $0.statements += batch.count }
                for waiting in batch {
                    do {
                        let held = try await StoreDeadline.run(limit: deadline) { try await self.send([waiting.save]) }
                        waiting.continuation.resume(returning: held.first ?? false)
                    } catch {
                        waiting.continuation.resume(throwing: error)
                    }
                }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    /// The next statement's saves (at most ``largest``), or nil — the sender then stops — when none is queued.
    private func next(_ job: String) -> [Waiting]? {
        state.withLock { state in
            guard let queued = state.queued[job], !queued.isEmpty else {
                state.queued[job] = nil
                state.sending.remove(job)
                return nil
            }
            let batch = Array(queued.prefix(Self.largest))
            if batch.count == queued.count {
                state.queued[job] = nil
            } else {
                state.queued[job] = Array(queued.dropFirst(batch.count))
            }
            state.statements += 1
            state.saves += batch.count
            return batch
        }
    }
}

extension PostgresStore {
    /// Saves of one job (`$1`) as one statement, each as ``SaveStatement`` saves one: its reservation
    /// settled, its item's row locked while its lease holds, its result kept (``SaveStatement/keepingResult``), the costs of the
    /// results written added to the job's spend — all or nothing, as a statement is. Each item is found by
    /// its key (a lookup in the primary key a save, not a scan of the job's items: a join let the planner
    /// read every item of the job) and locked in the order of the keys, the order
    /// ``renewLeases(owner:lease:)`` locks a worker's items in, so the two never wait for each other; the
    /// job's row is locked after them, as every save locks it. Returns
    /// each save's position (from 1) and whether its lease held. Prepared once per connection.
    struct SaveManyStatement: PostgresPreparedStatement {
        static let name = "panel_save_results_v1"
        static let sql = """
            WITH input AS (
              SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::bool[], $10::bool[])
                WITH ORDINALITY AS t(reservation_job, reservation_id, key, token, persona, review, cost, has_cost, saves, n)
            ), released AS (
              DELETE FROM budget_reservation r USING input i WHERE r.job = i.reservation_job AND r.id = i.reservation_id
            ), held AS (
              SELECT i.n, b.job, b.key FROM (SELECT n, key, token FROM input ORDER BY key) i
              CROSS JOIN LATERAL (SELECT job, key FROM batch_item WHERE job = $1 AND key = i.key AND lease_token = i.token FOR UPDATE) b
            ), inserted AS (
              INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at)
              SELECT h.job, h.key, i.persona, i.review, CASE WHEN i.has_cost THEN i.cost END, clock_timestamp()
              FROM held h JOIN input i ON i.n = h.n WHERE i.saves
              \(SaveStatement.keepingResult)
            ), spent AS (
              UPDATE batch_job SET spent_usd = spent_usd + (SELECT COALESCE(SUM(cost_usd), 0) FROM inserted)
              WHERE name = $1 AND EXISTS (SELECT 1 FROM inserted WHERE COALESCE(cost_usd, 0) <> 0)
            )
            SELECT i.n::bigint, EXISTS (SELECT 1 FROM held h WHERE h.n = i.n) FROM input i
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .text, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .float8Array, .boolArray, .boolArray,
        ]
        typealias Row = (Int, Bool)

        let saves: [GroupedSaves.Save]

        init(_ saves: [GroupedSaves.Save]) { self.saves = saves }

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 10)
            binds.append(saves.first?.claim.job ?? "")
            binds.append(saves.map { $0.reservation?.job ?? "" })
            binds.append(saves.map { $0.reservation?.id ?? "" })
            binds.append(saves.map(\.claim.key))
            binds.append(saves.map(\.claim.token))
            binds.append(saves.map { $0.result?.persona ?? "" })
            binds.append(saves.map { $0.result?.review ?? "" })
            binds.append(saves.map { $0.result?.costUSD ?? 0 })
            binds.append(saves.map { $0.result?.costUSD != nil })
            binds.append(saves.map { $0.result != nil })
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }
}
