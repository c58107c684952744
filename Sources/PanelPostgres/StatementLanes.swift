import Logging
import PostgresNIO
import Synchronization

/// Connections of the store's own, outside the pool, for the statements every listing runs — a result
/// saved per persona call, the listing finished. Through the pool each statement leased a connection
/// (the pool's state machine, a continuation, a hop between tasks); on a lane, statements wait behind
/// each other on its connection (each is one round trip). A statement takes the first connected lane
/// with nothing in flight, else the connected lane with the least in flight — unless every connected lane
/// has ``crowded`` statements or more, when it takes a lane not connected yet, which connects then (the
/// statement waits for it): a lane signs in (SCRAM's 4,096 rounds of PBKDF2, ~18 million instructions,
/// 5 ms of CPU) only once statements queue deep enough to need it. With a statement merely overlapping
/// another, a worker of `bench/workers.sh` signed in on all four lanes; one of its round trips is well
/// under a millisecond, so waiting behind one or two costs a listing less than a sign-in costs the
/// worker (about the CPU of three listings). Only statements that may run
/// twice belong here (a save inserts once; a finish writes the same row again): one cut off with its
/// connection, or a lane that cannot connect, sends its statement through the pool, and the lane
/// connects again when next chosen.
final class StatementLanes: Sendable {
    enum State {
        case idle
        case connecting(Task<PostgresConnection, any Error>)
        case ready(PostgresConnection)
        case closed
    }

    /// A lane: its connection's state (a `Mutex` is not copyable: one class a lane holds it).
    final class Lane: Sendable {
        let state = Mutex(State.idle)
        /// Statements on this lane now (waiting for its connection or their answer).
        let inFlight = Atomic<Int>(0)

        /// Connected or connecting (a connection that closed meanwhile counts until a statement finds it).
        var isOpen: Bool {
            state.withLock { state in
                switch state {
                case .ready, .connecting: return true
                case .idle, .closed: return false
                }
            }
        }
    }

    let lanes: [Lane]
    let connect: @Sendable () async throws -> PostgresConnection
    let pool: PostgresClient
    let logger: Logger

    init(count: Int, pool: PostgresClient, logger: Logger, connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.lanes = (0..<max(count, 1)).map { _ in Lane() }
        self.pool = pool
        self.logger = logger
        self.connect = connect
    }

    /// Runs `statement` on a lane (``choose()``), or through the pool, and returns its rows.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row] {
        let lane = choose()
        lane.inFlight.add(1, ordering: .relaxed)
        defer { lane.inFlight.subtract(1, ordering: .relaxed) }
        if let connection = await connection(of: lane) {
            do {
                var rows: [Statement.Row] = []
                for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
                return rows
            } catch let error as PSQLError where Self.connectionLost(error) {
                drop(lane, connection)
            }
        }
        var rows: [Statement.Row] = []
        for try await row in try await pool.execute(statement, logger: logger) { rows.append(row) }
        return rows
    }

    /// Statements in flight on every open lane before another lane connects: a worker's calls come back
    /// in waves (those started together end together), and a wave finishes several listings at once —
    /// with 3, each worker of `bench/workers.sh` still signed in on a second and a third lane; with 8,
    /// on one. A lane whose statements keep coming faster than its round trips queues past 8 and the
    /// next lane connects.
    static let crowded = 8

    /// The lane for the next statement: the first open lane with nothing in flight; else the open lane
    /// with the least in flight, unless it has ``crowded`` or more and a lane is not connected (and the
    /// lanes are not closed): that one.
    func choose() -> Lane {
        var unopened: Lane?
        var least: (lane: Lane, load: Int)?
        for lane in lanes {
            let load = lane.inFlight.load(ordering: .relaxed)
            if lane.isOpen {
                if load == 0 { return lane }
                if least == nil || load < least!.load { least = (lane, load) }
            } else if unopened == nil, lane.state.withLock({ if case .idle = $0 { true } else { false } }) {
                unopened = lane
            }
        }
        if let least, least.load < Self.crowded || unopened == nil { return least.lane }
        return unopened ?? lanes[0]
    }

    /// `lane`'s live connection (connected now if it has none); `nil` when it cannot connect or the lanes
    /// are closed.
    func connection(of lane: Lane) async -> PostgresConnection? {
        let connect = self.connect
        let found = lane.state.withLock { state -> (PostgresConnection?, Task<PostgresConnection, any Error>?) in
            switch state {
            case .ready(let connection) where !connection.isClosed: return (connection, nil)
            case .ready, .idle:
                let task = Task { try await connect() }
                state = .connecting(task)
                return (nil, task)
            case .connecting(let task): return (nil, task)
            case .closed: return (nil, nil)
            }
        }
        if let connection = found.0 { return connection }
        guard let task = found.1 else { return nil }
        do {
            let connection = try await task.value
            let kept = lane.state.withLock { state in
                switch state {
                case .connecting(let current) where current == task:
                    state = .ready(connection)
                    return true
                case .ready(let current): return current === connection
                default: return false
                }
            }
            if kept { return connection }
            try? await connection.close()
            return nil
        } catch {
            logger.debug("statement lane cannot connect: \(error)")
            lane.state.withLock { state in
                if case .connecting(let current) = state, current == task { state = .idle }
            }
            return nil
        }
    }

    /// Takes `connection` (one opened for something else and done with, e.g. the migration's) as an idle
    /// lane's, sparing that lane a sign-in of its own — SCRAM's 4,096 rounds of PBKDF2 cost a few
    /// milliseconds of CPU a connection. False when no lane is idle: the caller closes it.
    func adopt(_ connection: PostgresConnection) -> Bool {
        guard !connection.isClosed else { return false }
        for lane in lanes {
            let taken = lane.state.withLock { state in
                guard case .idle = state else { return false }
                state = .ready(connection)
                return true
            }
            if taken { return true }
        }
        return false
    }

    func drop(_ lane: Lane, _ connection: PostgresConnection) {
        lane.state.withLock { state in
            if case .ready(let current) = state, current === connection { state = .idle }
        }
        Task { try? await connection.close() }
    }

    /// Whether `error` ended the connection (the statement may not have run): sent again through the pool.
    static func connectionLost(_ error: PSQLError) -> Bool {
        [.connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection].contains(error.code)
    }

    /// Closes every lane's connection; a lane connecting now closes its connection when it arrives.
    func close() async {
        var open: [PostgresConnection] = []
        for lane in lanes {
            let connection = lane.state.withLock { state -> PostgresConnection? in
                defer { state = .closed }
                if case .ready(let connection) = state { return connection }
                return nil
            }
            if let connection { open.append(connection) }
        }
        for connection in open { try? await connection.close() }
    }
}
