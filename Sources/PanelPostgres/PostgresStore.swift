public import Foundation
import Logging
public import ModelBackends
import NIOSSL
public import PanelEngine
import PostgresNIO

/// panel's PostgreSQL store: the same ``ReviewStore`` protocol as the SQLite one, for a team whose
/// processes — on one machine or several — share a job, its budget and the response cache.
///
/// Every method is one transaction. Claims lock the item's row (`FOR UPDATE`), so two processes racing
/// for a listing serialise on it and exactly one wins; every result and finish is fenced on the claim's
/// lease token; budget reservations lock the job's row, so the budget holds across processes. Times
/// come from the server's clock, one clock for every process. Schema versions are applied at start under
/// an advisory lock, so several processes may start at once.
public final class PostgresStore: ReviewStore, Sendable {
    let client: PostgresClient
    let runner: Task<Void, Never>
    let logger: Logger
    let address: PostgresLocation
    public let location: String
    let listener: QueueListener
    /// Wakes readers of reviews' events (appended by any process).
    let reviewListener: QueueListener
    /// The per-listing statements' own connections, beside the pool.
    let lanes: StatementLanes
    /// Saves of a job asked for together, sent as one statement on a lane.
    let groupedSaves: GroupedSaves
    /// A connection cut mid-transaction can leave a query unanswered: workers stop waiting after this.
    public var stepDeadline: Duration? { StoreDeadline.step }

    /// Opens (and migrates) the store at `url`: the password from the URL, `PGPASSWORD` or `~/.pgpass`.
    public static func open(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws
        -> PostgresStore
    {
        let location = try PostgresLocation(url: url, environment: environment)
        let store = PostgresStore(location)
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw PostgresStoreError(
                location: location.redacted, problem: Self.describe(error, location), transient: Self.isTransient(error))
        }
        return store
    }

    /// A failure that asking again may cure: no connection, a connection the server closed, or the
    /// server starting up or shutting down (SQLSTATE class 08, 57P01–57P03).
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        }
        return [.connectionError, .serverClosedConnection, .uncleanShutdown].contains(error.code)
    }

    /// Whether a statement that failed with `error` may succeed sent again as it was: anything but the
    /// server refusing the statement itself (then only a failure of the connection or the server's state).
    static func mayPassAlone(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, error.serverInfo != nil else { return true }
        return isTransient(error)
    }

    init(_ location: PostgresLocation) {
        var tls: PostgresClient.Configuration.TLS
        switch location.sslMode {
        case .disable: tls = .disable
        case .allow, .prefer: tls = .prefer(Self.tlsConfiguration(verify: false))
        case .require: tls = .require(Self.tlsConfiguration(verify: false))
        case .verifyCA, .verifyFull: tls = .require(Self.tlsConfiguration(verify: true))
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password, database: location.database,
            tls: tls)
        configuration.options.maximumConnections = 16
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = Self.sessionParameters
        if location.sslMode == .verifyFull { configuration.options.tlsServerName = location.host }
        let client = PostgresClient(configuration: configuration)
        self.client = client
        // The pool's own work (handing out connections, its timers) runs where the command's does — a
        // worker's event loop — so a statement through the pool does not wake a thread of Swift's pool.
        self.runner = Task(executorPreference: EngineExecutor.preferred) { await client.run() }
        var logger = Logger(label: "panel-postgres")
        logger.logLevel = .critical
        self.logger = logger
        self.address = location
        self.location = location.redacted
        // Connections of their own, outside the pool: the two listeners' and the statement lanes'.
        let connect: @Sendable () async throws -> PostgresConnection = { [location, logger] in
            try await Self.directConnection(to: location, logger: logger)
        }
        self.listener = QueueListener(channel: Self.queueChannel, logger: logger, connect: connect)
        self.reviewListener = QueueListener(channel: Self.reviewEventsChannel, logger: logger, connect: connect)
        let lanes = StatementLanes(count: Self.laneCount, pool: client, logger: logger, connect: connect)
        self.lanes = lanes
        self.groupedSaves = GroupedSaves(mayPass: Self.mayPassAlone) { saves in try await Self.send(saves, on: lanes) }
    }

    /// Lanes for the per-listing statements: a worker's 32 calls in flight save about 300 results a
    /// second, each a round trip of well under a millisecond.
    static let laneCount = 4

    /// Set on every session: one left idle inside a transaction (its process paused — SIGSTOP, a VM
    /// frozen, a debugger — between a transaction's statements) is ended by the server after 15 s, so the
    /// rows it locked are not skipped by every other worker's claims (`SKIP LOCKED`) for as long as it
    /// stays paused. Store steps never wait on their client inside a transaction.
    static let sessionParameters = [("idle_in_transaction_session_timeout", "15s")]

    /// One connection of its own, outside the pool: opening a store connects directly, so a refused
    /// connection or a wrong password is reported at once with the server's reason (the pool would retry
    /// for a minute and then report only that it gave up).
    func directConnection() async throws -> PostgresConnection {
        try await Self.directConnection(to: address, logger: logger)
    }

    static func directConnection(to address: PostgresLocation, logger: Logger) async throws -> PostgresConnection {
        var tls = PostgresConnection.Configuration.TLS.disable
        switch address.sslMode {
        case .disable: break
        case .allow, .prefer: tls = .prefer(try NIOSSLContext(configuration: Self.tlsConfiguration(verify: false)))
        case .require: tls = .require(try NIOSSLContext(configuration: Self.tlsConfiguration(verify: false)))
        case .verifyCA, .verifyFull: tls = .require(try NIOSSLContext(configuration: Self.tlsConfiguration(verify: true)))
        }
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password, database: address.database,
            tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = Self.sessionParameters
        if address.sslMode == .verifyFull { configuration.options.tlsServerName = address.host }
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }

    static func tlsConfiguration(verify: Bool) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        // libpq's `require` encrypts without checking the certificate; `verify-*` checks it.
        if !verify { configuration.certificateVerification = .none }
        return configuration
    }

    /// Closes the connections. Calls after this fail.
    public func close() async {
        listener.stop()
        reviewListener.stop()
        await lanes.close()
        runner.cancel()
        _ = await runner.value
    }

    deinit {
        listener.stop()
        reviewListener.stop()
        let lanes = self.lanes
        Task { await lanes.close() }
        runner.cancel()
    }

    /// A connection or server failure in words a user acts on; never the password.
    static func describe(_ error: any Error, _ location: PostgresLocation) -> String {
        if let error = error as? PostgresStoreError { return error.problem }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let code = error.serverInfo?[.sqlState] ?? ""
                let hint =
                    code == "28P01"
                    ? " (check the password: the URL, PGPASSWORD or ~/.pgpass)" : code == "3D000" ? " (create it: createdb)" : ""
                return "the server said: \(message)\(hint)"
            }
            switch error.code {
            case .connectionError:
                return "cannot connect to \(location.host):\(location.port) — is PostgreSQL running there and listening on TCP?"
            case .sslUnsupported: return "the server does not offer TLS, and sslmode=\(location.sslMode.rawValue) requires it"
            default: return "\(error.code)"
            }
        }
        return "\(error)"
    }

    // MARK: schema

    /// The schema versions, applied in order; each is one transaction.
    static let migrations: [(version: Int, sql: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE response_cache (
                  key text PRIMARY KEY, backend text NOT NULL, model text, text text NOT NULL, input_tokens bigint,
                  output_tokens bigint, cost_usd double precision, latency_ms bigint NOT NULL, ttft_ms bigint, finish_reason text,
                  created_at timestamptz NOT NULL DEFAULT clock_timestamp())
                """,
                """
                CREATE TABLE batch_job (
                  name text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                  spent_usd double precision NOT NULL DEFAULT 0)
                """,
                """
                CREATE TABLE batch_item (
                  job text NOT NULL REFERENCES batch_job(name) ON DELETE CASCADE, key text NOT NULL, name text, status text NOT NULL,
                  error text, documents text NOT NULL DEFAULT '[]', verdict text, ship_share double precision,
                  score_median double precision, cost_usd double precision, answered bigint, position bigint,
                  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), lease_owner text, lease_token text,
                  lease_expires double precision, PRIMARY KEY (job, key))
                """,
                "CREATE INDEX batch_item_by_owner ON batch_item (lease_owner) WHERE lease_token IS NOT NULL",
                """
                CREATE TABLE batch_result (
                  job text NOT NULL, key text NOT NULL, persona text NOT NULL, review text NOT NULL, cost_usd double precision,
                  created_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (job, key, persona))
                """,
                "CREATE TABLE batch_name (job text NOT NULL, name text NOT NULL, key text NOT NULL, PRIMARY KEY (job, name), UNIQUE (job, key))",
                """
                CREATE TABLE budget_reservation (
                  job text NOT NULL, id text NOT NULL, owner text NOT NULL, amount_usd double precision NOT NULL,
                  expires double precision NOT NULL, PRIMARY KEY (job, id))
                """,
            ]
        ),
        (
            2,
            [
                "ALTER TABLE batch_job ADD COLUMN settings text, ADD COLUMN budget_usd double precision, ADD COLUMN cancelled boolean NOT NULL DEFAULT false",
                "ALTER TABLE batch_item ADD COLUMN listing text, ADD COLUMN attempts bigint NOT NULL DEFAULT 0",
                """
                CREATE TABLE batch_document (
                  job text NOT NULL, key text NOT NULL, extension text NOT NULL, text text NOT NULL, PRIMARY KEY (job, key, extension))
                """,
                "CREATE INDEX batch_item_queued ON batch_item (job, position) WHERE status = 'pending'",
                """
                CREATE TABLE rate_window (
                  backend text NOT NULL, minute bigint NOT NULL, requests bigint NOT NULL, tokens bigint NOT NULL,
                  PRIMARY KEY (backend, minute))
                """,
            ]
        ),
        (
            3,
            [
                """
                CREATE TABLE team_token (
                  id text PRIMARY KEY, name text NOT NULL, role text NOT NULL, secret_hash text NOT NULL UNIQUE, budget_usd double precision,
                  spent_usd double precision NOT NULL DEFAULT 0, created_at double precision NOT NULL, revoked boolean NOT NULL DEFAULT false)
                """,
                "CREATE UNIQUE INDEX team_token_live_name ON team_token (name) WHERE NOT revoked",
                "CREATE TABLE team_session (secret_hash text PRIMARY KEY, token_id text NOT NULL, csrf text NOT NULL, expires double precision NOT NULL)",
                """
                CREATE TABLE team_review (
                  id text PRIMARY KEY, created_at double precision NOT NULL, token_id text NOT NULL, created_by text NOT NULL, status text NOT NULL,
                  title text NOT NULL, title_lower text NOT NULL, listings text NOT NULL, document text, verdicts text NOT NULL DEFAULT '',
                  cost_usd double precision, error text)
                """,
                "CREATE INDEX team_review_newest ON team_review (created_at DESC, id DESC)",
                """
                CREATE TABLE team_review_action (
                  review_id text NOT NULL REFERENCES team_review(id) ON DELETE CASCADE, seq bigint NOT NULL, action text NOT NULL,
                  PRIMARY KEY (review_id, seq))
                """,
            ]
        ),
        (
            4,
            [
                """
                CREATE TABLE backend_quality (
                  backend text PRIMARY KEY, kappa double precision, agreement double precision, n bigint NOT NULL, updated_at double precision NOT NULL)
                """
            ]
        ),
        (
            5,
            [
                "ALTER TABLE team_review ADD COLUMN reserved_usd double precision NOT NULL DEFAULT 0",
                "CREATE INDEX team_review_unfinished ON team_review (token_id) WHERE status IN ('queued', 'running')",
                """
                CREATE TABLE team_batch_charge (
                  job text PRIMARY KEY, token_id text NOT NULL, reserved_usd double precision NOT NULL, settled boolean NOT NULL DEFAULT false)
                """,
            ]
        ),
        (
            6,
            [
                """
                CREATE TABLE team_review_event (
                  review_id text NOT NULL, seq bigint NOT NULL, name text NOT NULL, data text NOT NULL, PRIMARY KEY (review_id, seq))
                """,
                "CREATE TABLE team_review_event_expiry (review_id text PRIMARY KEY, expires double precision NOT NULL)",
                "CREATE INDEX team_review_event_expiry_by_time ON team_review_event_expiry (expires)",
            ]
        ),
        (
            7,
            [
                "ALTER TABLE team_token ADD COLUMN display_name text",
                """
                CREATE TABLE team_publication (
                  slug text PRIMARY KEY, review_id text NOT NULL UNIQUE REFERENCES team_review(id) ON DELETE CASCADE,
                  published_at double precision NOT NULL, updated_at double precision NOT NULL, voting_open boolean NOT NULL DEFAULT true)
                """,
                "CREATE INDEX team_publication_newest ON team_publication (published_at DESC, slug)",
                """
                CREATE TABLE team_vote (
                  review_id text NOT NULL, tool text NOT NULL, reader text NOT NULL, verdict text NOT NULL, network text NOT NULL,
                  voted_at double precision NOT NULL, PRIMARY KEY (review_id, tool, reader))
                """,
                "CREATE INDEX team_vote_network ON team_vote (network, voted_at)",
                "CREATE TABLE team_secret (name text PRIMARY KEY, value text NOT NULL)",
            ]
        ),
        // The trace a queued item was enqueued in (W3C traceparent), continued by whoever works it.
        (8, ["ALTER TABLE batch_item ADD COLUMN trace text"]),
        // The large texts — documents, persona answers, a review's document, cached answers — compressed with
        // lz4 when PostgreSQL stores them out of line, not pglz: pglz was the database server's largest cost
        // per listing. Only new values; a server built without lz4 keeps pglz.
        (
            9,
            [
                """
                DO $$
                BEGIN
                  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
                    EXECUTE 'ALTER TABLE batch_document ALTER COLUMN text SET COMPRESSION lz4';
                    EXECUTE 'ALTER TABLE batch_result ALTER COLUMN review SET COMPRESSION lz4';
                    EXECUTE 'ALTER TABLE batch_item ALTER COLUMN documents SET COMPRESSION lz4';
                    EXECUTE 'ALTER TABLE team_review ALTER COLUMN document SET COMPRESSION lz4';
                    EXECUTE 'ALTER TABLE response_cache ALTER COLUMN text SET COMPRESSION lz4';
                  END IF;
                END
                $$
                """
            ]
        ),
        // Queued listings indexed in the order a claim takes them (the key breaks ties in position), so a claim
        // for one job reads `limit` index entries instead of sorting every queued listing.
        (
            10,
            [
                "CREATE INDEX batch_item_queued_order ON batch_item (job, position, key) WHERE status = 'pending'",
                "DROP INDEX batch_item_queued",
            ]
        ),
    ]

    /// The advisory lock key migrations run under (any constant; "panel" in ASCII).
    static let migrationLock: Int64 = 0x7061_6E65_6C

    /// Migrates on a connection of its own, which then serves as a statement lane's.
    func migrate() async throws {
        let connection = try await directConnection()
        do {
            try await migrate(on: connection)
            if !lanes.adopt(connection) { try? await connection.close() }
        } catch {
            try? await connection.close()
            throw error
        }
    }

    func migrate(on connection: PostgresConnection) async throws {
        _ = try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
        do {
            _ = try await connection.query(
                "CREATE TABLE IF NOT EXISTS panel_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = 0
            for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM panel_schema", logger: logger)
                .decode(Int.self)
            {
                applied = version
            }
            let known = Self.migrations.last?.version ?? 0
            if applied > known {
                throw PostgresStoreError(
                    location: location, problem: "was written by a newer version of panel (schema \(applied)); use that version")
            }
            for migration in Self.migrations where migration.version > applied {
                try await connection.withTransaction(logger: logger) { transaction in
                    for statement in migration.sql { _ = try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    _ = try await transaction.query("INSERT INTO panel_schema (version) VALUES (\(migration.version))", logger: logger)
                }
            }
            _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
            throw error
        }
    }

    /// Seconds since 1970 by the server's clock: every process sharing the store reads one clock.
    static let epoch = "extract(epoch from clock_timestamp())::double precision"

    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { connection in try await body(connection) }
    }

    // MARK: test support

    /// A setting of the sessions this store opens (`SHOW name`), as the server reports it.
    public func sessionSetting(_ name: String) async throws -> String? {
        guard name.allSatisfy({ $0.isLetter || $0 == "_" }) else { return nil }
        for try await value in try await client.query(PostgresQuery(unsafeSQL: "SHOW \(name)"), logger: logger).decode(String.self) {
            return value
        }
        return nil
    }

    /// How a column's out-of-line values are compressed: `lz4`, `pglz`, or nil for the server's default.
    public func compression(table: String, column: String) async throws -> String? {
        let query: PostgresQuery = """
            SELECT CASE attcompression WHEN 'l' THEN 'lz4' WHEN 'p' THEN 'pglz' ELSE '' END
            FROM pg_attribute WHERE attrelid = \(table)::regclass AND attname = \(column)
            """
        for try await value in try await client.query(query, logger: logger).decode(String.self) { return value.isEmpty ? nil : value }
        return nil
    }

    /// Persona results saved for a job.
    public func savedResultCount(job: String) async throws -> Int {
        var count = 0
        for try await value in try await client.query("SELECT COUNT(*) FROM batch_result WHERE job = \(job)", logger: logger).decode(
            Int.self)
        {
            count = value
        }
        return count
    }
}

extension PostgresStore: ResponseCache {
    public func cachedResponse(for key: String, maxAge: Duration?) async throws -> ChatResponse? {
        let age = maxAge.map { max(0, $0.seconds) } ?? -1
        let rows = try await client.query(
            """
            SELECT backend, model, text, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, finish_reason FROM response_cache
            WHERE key = \(key) AND (\(age) < 0 OR created_at >= clock_timestamp() - make_interval(secs => \(age)))
            """, logger: logger)
        for try await (backend, model, text, input, output, cost, latency, ttft, finish) in rows.decode(
            (String, String?, String, Int?, Int?, Double?, Int, Int?, String?).self)
        {
            return ChatResponse(
                text: text, model: model, backend: backend, usage: TokenUsage(inputTokens: input, outputTokens: output), costUSD: cost,
                latency: .milliseconds(latency), timeToFirstToken: ttft.map { .milliseconds($0) }, attempts: 1, finishReason: finish)
        }
        return nil
    }

    public func store(_ response: ChatResponse, for key: String) async throws {
        _ = try await client.query(
            """
            INSERT INTO response_cache (key, backend, model, text, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, finish_reason,
              created_at)
            VALUES (\(key), \(response.backend), \(response.model), \(response.text), \(response.usage.inputTokens),
              \(response.usage.outputTokens), \(response.costUSD), \(response.latency.milliseconds), \(response.timeToFirstToken?.milliseconds),
              \(response.finishReason), clock_timestamp())
            ON CONFLICT (key) DO UPDATE SET backend = excluded.backend, model = excluded.model, text = excluded.text,
              input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd,
              latency_ms = excluded.latency_ms, ttft_ms = excluded.ttft_ms, finish_reason = excluded.finish_reason,
              created_at = excluded.created_at
            """, logger: logger)
    }
}

extension PostgresStore {
    /// Runs `statements` on the server at `url` outside any transaction (`CREATE DATABASE` needs that),
    /// on a direct connection of its own (so a failure is reported at once, as when opening): for setting a store's database up (and tests' scratch databases).
    public static func administer(url: String, _ statements: [String], environment: [String: String] = [:]) async throws {
        let location = try PostgresLocation(
            url: url, environment: environment.isEmpty ? ProcessInfo.processInfo.environment : environment)
        let store = PostgresStore(location)
        defer { store.runner.cancel() }
        do {
            let connection = try await store.directConnection()
            do {
                for statement in statements { _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: store.logger) }
                try? await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            throw PostgresStoreError(location: location.redacted, problem: describe(error, location))
        }
    }

    /// A database name or other identifier, quoted for SQL.
    public static func quoted(identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension PostgresStore {
    /// Adds rows to one of the tables both stores keep, in one transaction; a row whose key is there
    /// already is left as it is. Returns how many were added. Times are read as UTC text.
    public func insert(_ rows: [[StoreValue]], into table: StoreTable) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let placeholders = table.columns.enumerated().map { index, column in
            table.timestamps.contains(column) ? "($\(index + 1)::timestamp AT TIME ZONE 'UTC')" : "$\(index + 1)"
        }
        let sql = """
            INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", ")))
            ON CONFLICT (\(table.key.joined(separator: ", "))) DO NOTHING RETURNING 1
            """
        return try await transaction { connection in
            var added = 0
            for row in rows {
                var binds = PostgresBindings()
                for (column, value) in zip(table.columns, row) {
                    switch value {
                    case .null:
                        if table.timestamps.contains(column) { binds.append(String?.none) } else { binds.appendNull() }
                    case .text(let text): binds.append(text)
                    case .integer(let number):
                        if table.booleans.contains(column) { binds.append(number != 0) } else { binds.append(number) }
                    case .real(let number): binds.append(number)
                    }
                }
                for try await _ in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) { added += 1 }
            }
            return added
        }
    }
}
