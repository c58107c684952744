/// The plain HTTP/1.1 client's connection pool as a state machine, without sockets or clocks: which
/// connection a call gets, when a call must wait, what to close. The client (the shell) does what the
/// returned actions say; tests drive this type directly with plain objects and hand-set times.
///
/// Rules:
/// - per server (`host:port`) at most `maxPerServer` connections are in use or being opened; a call
///   beyond that waits, first come first served, and is handed a connection (or the right to open
///   one) as soon as another call is done with its own;
/// - a finished call's connection is parked idle if it can carry another request, most recently used
///   first out; at most `maxIdlePerServer` are kept (the oldest surplus is closed);
/// - a connection idle for longer than `idleTimeout` is closed rather than reused (servers close idle
///   keep-alive connections on their own timeouts — a connection they closed is a failed request).
struct ConnectionPoolState<Connection: AnyObject> {
    struct Parked {
        var connection: Connection
        /// When it was parked (nanoseconds on the caller's monotonic clock).
        var since: UInt64
    }

    /// What a call does next.
    enum Lease {
        /// Use this idle connection.
        case reuse(Connection)
        /// Open a new connection (a slot is held for it).
        case connect
        /// Wait: the server is at its connection limit.
        case wait
    }

    let maxPerServer: Int
    let maxIdlePerServer: Int
    let idleTimeout: UInt64
    private(set) var idle: [String: [Parked]] = [:]
    /// Connections in use or being opened, per server.
    private(set) var leased: [String: Int] = [:]
    /// Waiting calls, per server, first come first served.
    private(set) var waiting: [String: [UInt64]] = [:]

    init(maxPerServer: Int, maxIdlePerServer: Int, idleTimeout: UInt64) {
        self.maxPerServer = max(1, maxPerServer)
        self.maxIdlePerServer = max(0, maxIdlePerServer)
        self.idleTimeout = idleTimeout
    }

    /// A call to `key` wants a connection. `fresh` skips idle connections (a retry after a parked
    /// connection turned out closed). Also returns connections to close (idle too long).
    mutating func checkOut(_ key: String, waiter: UInt64, now: UInt64, fresh: Bool = false) -> (Lease, close: [Connection]) {
        let close = expire(key, now: now)
        guard leased[key, default: 0] < maxPerServer, waiting[key]?.isEmpty ?? true else {
            waiting[key, default: []].append(waiter)
            return (.wait, close)
        }
        leased[key, default: 0] += 1
        if !fresh, let parked = idle[key]?.popLast() { return (.reuse(parked.connection), close) }
        return (.connect, close)
    }

    /// A call is done with its connection (`connection` nil when it has none: the connect failed or it
    /// was closed). A reusable connection goes to the first waiter, or is parked. Returns the waiter to
    /// wake with what it gets, and connections to close.
    mutating func checkIn(
        _ key: String, _ connection: Connection?, reusable: Bool, now: UInt64
    )
        -> (wake: (waiter: UInt64, lease: Lease)?, close: [Connection])
    {
        var close = expire(key, now: now)
        if var queue = waiting[key], !queue.isEmpty {
            let waiter = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            // The slot passes to the waiter: `leased` is unchanged.
            if let connection, reusable { return ((waiter, .reuse(connection)), close) }
            if let connection { close.append(connection) }
            return ((waiter, .connect), close)
        }
        leased[key, default: 0] -= 1
        if leased[key] == 0 { leased[key] = nil }
        guard let connection else { return (nil, close) }
        guard reusable, maxIdlePerServer > 0 else { return (nil, close + [connection]) }
        var list = idle[key, default: []]
        list.append(Parked(connection: connection, since: now))
        if list.count > maxIdlePerServer { close.append(list.removeFirst().connection) }
        idle[key] = list
        return (nil, close)
    }

    /// A waiting call gave up (cancelled, or its deadline passed). False when it was already woken: then
    /// it owns what it was handed and must check it in.
    mutating func cancelWait(_ key: String, waiter: UInt64) -> Bool {
        guard var queue = waiting[key], let index = queue.firstIndex(of: waiter) else { return false }
        queue.remove(at: index)
        waiting[key] = queue.isEmpty ? nil : queue
        return true
    }

    /// Idle connections of every server parked for longer than the idle timeout, removed.
    mutating func sweep(now: UInt64) -> [Connection] {
        idle.keys.flatMap { expire($0, now: now) }
    }

    /// True when some connection is parked (a sweep is worth scheduling).
    var hasIdle: Bool { idle.values.contains { !$0.isEmpty } }

    private mutating func expire(_ key: String, now: UInt64) -> [Connection] {
        guard let list = idle[key], let first = list.first, now &- first.since > idleTimeout else { return [] }
        let keep = list.filter { now &- $0.since <= idleTimeout }
        idle[key] = keep.isEmpty ? nil : keep
        return list.filter { now &- $0.since > idleTimeout }.map(\.connection)
    }
}
