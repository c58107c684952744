import Foundation
import ModelBackends
public import PanelEngine
import PostgresNIO

/// The batch half of the store protocol on PostgreSQL: one transaction per method, rows locked where two
/// processes could race.
extension PostgresStore {
    static let itemColumns = "key, name, status, error, documents, verdict, ship_share, score_median, cost_usd, answered"
    typealias ItemRow = (String, String?, String, String?, String, String?, Double?, Double?, Double?, Int?)

    static func item(_ row: ItemRow) -> BatchItem {
        let documents = JSONValue.parse(row.4)?.arrayValue?.compactMap(\.stringValue) ?? []
        return BatchItem(
            key: row.0, name: row.1, status: BatchItem.Status(rawValue: row.2) ?? .pending, error: row.3, documents: documents,
            outcome: BatchItem.Outcome(verdict: row.5, shipShare: row.6, scoreMedian: row.7, costUSD: row.8, answered: row.9))
    }

    static func encode(_ documents: [String]) -> String {
        JSONValue.array(documents.map(JSONValue.string)).canonicalText()
    }

    func writeItem(
        _ connection: PostgresConnection, job: String, key: String, name: String?, status: BatchItem.Status, error: String?,
        documents: [String], outcome: BatchItem.Outcome, position: Int?
    ) async throws {
        _ = try await connection.query(
            """
            INSERT INTO batch_item (job, key, name, status, error, documents, verdict, ship_share, score_median, cost_usd, answered,
              position, updated_at, lease_owner, lease_token, lease_expires)
            VALUES (\(job), \(key), \(name), \(status.rawValue), \(error), \(Self.encode(documents)), \(outcome.verdict),
              \(outcome.shipShare), \(outcome.scoreMedian), \(outcome.costUSD), \(outcome.answered), \(position), clock_timestamp(),
              NULL, NULL, NULL)
            ON CONFLICT (job, key) DO UPDATE SET name = excluded.name, status = excluded.status, error = excluded.error,
              documents = excluded.documents, verdict = excluded.verdict, ship_share = excluded.ship_share,
              score_median = excluded.score_median, cost_usd = excluded.cost_usd, answered = excluded.answered,
              position = COALESCE(excluded.position, batch_item.position), updated_at = excluded.updated_at,
              lease_owner = NULL, lease_token = NULL, lease_expires = NULL
            """, logger: logger)
    }

    func reserveName(
        _ connection: PostgresConnection, job: String, key: String, base: String, isTaken: (String) -> Bool
    ) async throws -> String {
        // The usual case in one statement: the listing's name from an earlier run, else `base` when free.
        if !isTaken(base) {
            for try await name in try await connection.execute(NameStatement(job: job, key: key, base: base), logger: logger) {
                return name
            }
        }
        for try await name in try await connection.query(
            "SELECT name FROM batch_name WHERE job = \(job) AND key = \(key)", logger: logger
        ).decode(String.self) {
            return name
        }
        var candidate = base
        var counter = 2
        while true {
            var used = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM batch_name WHERE job = \(job) AND name = \(candidate)", logger: logger)
            {
                used = true
            }
            if !used && !isTaken(candidate) { break }
            candidate = "\(base)-\(counter)"
            counter += 1
        }
        _ = try await connection.query("INSERT INTO batch_name (job, name, key) VALUES (\(job), \(candidate), \(key))", logger: logger)
        return candidate
    }

    /// How long a reservation lives without its owner's heartbeat: longer than any one call may take.
    static let reservationLease: Duration = .seconds(900)
}

extension PostgresStore {
    static func binds(_ values: String...) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }

    /// The owner's items are locked in the order of their keys, as ``SaveManyStatement`` locks them: a
    /// renewal and a worker's grouped saves never wait for each other.
    @discardableResult
    public func renewLeases(owner: String, lease: Duration) async throws -> Set<ItemClaim> {
        let seconds = lease.seconds
        let reservation = max(seconds, Self.reservationLease.seconds)
        return try await transaction { connection in
            var held = Set<ItemClaim>()
            for try await (job, key, token) in try await connection.query(
                """
                WITH owned AS (
                  SELECT job, key FROM batch_item WHERE lease_owner = \(owner) AND lease_token IS NOT NULL ORDER BY job, key FOR UPDATE
                )
                UPDATE batch_item i SET lease_expires = extract(epoch from clock_timestamp())::double precision + \(seconds)
                FROM owned o WHERE i.job = o.job AND i.key = o.key AND i.lease_owner = \(owner) AND i.lease_token IS NOT NULL
                RETURNING i.job, i.key, i.lease_token
                """, logger: logger
            ).decode((String, String, String).self) {
                held.insert(ItemClaim(job: job, key: key, token: token))
            }
            _ = try await connection.query(
                "UPDATE budget_reservation SET expires = extract(epoch from clock_timestamp())::double precision + \(reservation) WHERE owner = \(owner)",
                logger: logger)
            return held
        }
    }

    public func release(_ claim: ItemClaim, name: String?, attempted: Bool) async throws {
        _ = try await client.query(
            """
            WITH released AS (
              UPDATE batch_item SET name = COALESCE(\(name), name), lease_owner = NULL, lease_token = NULL, lease_expires = NULL,
                attempts = GREATEST(attempts - \(attempted ? 0 : 1), 0), updated_at = clock_timestamp()
              WHERE job = \(claim.job) AND key = \(claim.key) AND lease_token = \(claim.token) RETURNING job
            )
            SELECT pg_notify(\(Self.queueChannel), job) FROM released
            """, logger: logger)
    }

    public func results(job: String, key: String) async throws -> [String: String] {
        var results: [String: String] = [:]
        for try await (persona, review) in try await client.query(
            "SELECT persona, review FROM batch_result WHERE job = \(job) AND key = \(key)", logger: logger
        ).decode((String, String).self) {
            results[persona] = results[persona] ?? review
        }
        return results
    }

    /// The step a batch takes most, once per persona call: the reservation settled, the item's row locked
    /// and its lease checked, the result kept and its cost added to the job's spend — all or nothing, in
    /// one statement with the saves of its job made within a few milliseconds (``GroupedSaves``).
    /// Data-modifying CTEs all run, and the insert reads only from `held`, so a lost lease inserts nothing.
    public func saveResult(_ result: SavedResult, claim: ItemClaim, settling reservation: BudgetReservation?) async throws -> Bool {
        try await groupedSaves.save(GroupedSaves.Save(result: result, claim: claim, reservation: reservation))
    }

    public func savesMayWait(_ mayWait: Bool) { groupedSaves.window.setOpen(mayWait) }

    /// Sends saves of one job as one statement: ``SaveStatement`` for one (its plan is the simpler), else
    /// ``SaveManyStatement``. Whether each save's lease held, in order.
    static func send(_ saves: [GroupedSaves.Save], on lanes: StatementLanes) async throws -> [Bool] {
        if saves.count == 1, let save = saves.first {
            return [
                try await lanes.rows(SaveStatement(save.result, claim: save.claim, settling: save.reservation)).first.map { $0 > 0 }
                    ?? false
            ]
        }
        var held = [Bool](repeating: false, count: saves.count)
        for (position, isHeld) in try await lanes.rows(SaveManyStatement(saves)) where position >= 1 && position <= saves.count {
            held[position - 1] = isHeld
        }
        return held
    }

    /// The reservation settled, the item's row locked and its lease checked, the result (if any)
    /// inserted once and its cost added to the job's spend — one statement, all or nothing, as a
    /// statement is. Data-modifying CTEs all run, and the insert reads only from `held`, so a lost lease
    /// inserts nothing. Returns the count of held rows (1 while the lease holds).
    ///
    /// Prepared once per connection (named, reused by every save on it): a save per persona call was
    /// parsed and planned on every call, the largest share of the database server's CPU per listing.
    struct SaveStatement: PostgresPreparedStatement {
        static let name = "panel_save_result_v1"
        static let sql = """
            WITH \(saving(reservation: ("$1", "$2"), item: ("$3", "$4", "$5"), result: ("$6", "$7", "$8"), saves: "$9"))
            SELECT COUNT(*) FROM held
            """

        /// The save's common table expressions, shared with ``FinishStatement``'s last save (the parameters
        /// named by their placeholders): `released` (the reservation settled), `held` (the item's row locked
        /// while its lease holds), `inserted` (the result when `saves`: new, or replacing a different one —
        /// a persona asked again after it abstained; the same result saved again, a step repeated after
        /// its connection was lost, changes nothing), `spent` (the job's spend, by what `inserted` wrote).
        /// The rule of every store for a result saved where one is kept: a different one replaces it (its
        /// cost then counts), the same one changes nothing. Shared with ``SaveManyStatement``.
        static let keepingResult = """
            ON CONFLICT (job, key, persona) DO UPDATE SET review = excluded.review, cost_usd = excluded.cost_usd,
                created_at = excluded.created_at
              WHERE batch_result.review IS DISTINCT FROM excluded.review RETURNING cost_usd
            """

        static func saving(
            reservation: (job: String, id: String), item: (job: String, key: String, token: String),
            result: (persona: String, review: String, cost: String), saves: String
        ) -> String {
            """
            released AS (
              DELETE FROM budget_reservation WHERE job = \(reservation.job) AND id = \(reservation.id)
            ), held AS (
              SELECT job, key FROM batch_item WHERE job = \(item.job) AND key = \(item.key) AND lease_token = \(item.token) FOR UPDATE
            ), inserted AS (
              INSERT INTO batch_result (job, key, persona, review, cost_usd, created_at)
              SELECT job, key, \(result.persona), \(result.review), \(result.cost), clock_timestamp() FROM held
              WHERE \(saves)
              \(keepingResult)
            ), spent AS (
              UPDATE batch_job SET spent_usd = spent_usd + (SELECT COALESCE(SUM(cost_usd), 0) FROM inserted)
              WHERE name = \(item.job) AND EXISTS (SELECT 1 FROM inserted WHERE COALESCE(cost_usd, 0) <> 0)
            )
            """
        }
        static let bindingDataTypes: [PostgresDataType] = [.text, .text, .text, .text, .text, .text, .text, .float8, .bool]
        typealias Row = Int

        let result: SavedResult?
        let claim: ItemClaim
        let reservation: BudgetReservation?

        init(_ result: SavedResult?, claim: ItemClaim, settling reservation: BudgetReservation?) {
            self.result = result
            self.claim = claim
            self.reservation = reservation
        }

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 9)
            bindings.append(reservation?.job ?? "")
            bindings.append(reservation?.id ?? "")
            bindings.append(claim.job)
            bindings.append(claim.key)
            bindings.append(claim.token)
            bindings.append(result?.persona ?? "")
            bindings.append(result?.review ?? "")
            bindings.append(result?.costUSD)
            bindings.append(result != nil)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int { try row.decode(Int.self) }
    }

    public func reserveNames(job: String, _ names: [(key: String, base: String)], isTaken: @Sendable (String) -> Bool) async throws {
        guard !names.isEmpty else { return }
        try await transaction { connection in
            for (key, base) in names { _ = try await reserveName(connection, job: job, key: key, base: base, isTaken: isTaken) }
        }
    }

    public func finishItem(
        _ claim: ItemClaim, name: String, status: BatchItem.Status, outcome: BatchItem.Outcome, base: String,
        lastResult: SavedResult?, settling reservation: BudgetReservation?, isTaken: @escaping @Sendable (String) -> Bool,
        texts: [String: String], documents: @escaping @Sendable (String) -> [String]
    ) async throws -> String? {
        let extensions = texts.keys.sorted()
        let bodies = extensions.map { texts[$0] ?? "" }
        // The usual case in one statement, one round trip and no transaction around it: the listing named
        // `base` (at enqueue, or now when free), the last result saved under the lease and the listing
        // finished. Any other name (a listing named like an earlier one, a name taken on disk) goes the
        // long way below; the save done here is then done again as nothing (it inserts once).
        if !isTaken(base) {
            let quick = FinishStatement(
                claim: claim, lastResult: lastResult, reservation: reservation, base: base, name: name, status: status.rawValue,
                documents: Self.encode(documents(base)), outcome: outcome, extensions: extensions, bodies: bodies)
            for (held, reserved) in try await lanes.rows(quick) {
                guard held > 0 else { return nil }
                if reserved == base { return base }
            }
        }
        // Three statements in one transaction: the result saved under the lease (its row locked), the name
        // reserved, the item finished with its documents.
        return try await transaction { connection in
            var held = false
            for try await count in try await connection.execute(
                SaveStatement(lastResult, claim: claim, settling: reservation), logger: logger)
            {
                held = count > 0
            }
            guard held else { return nil }
            let reserved = try await reserveName(connection, job: claim.job, key: claim.key, base: base, isTaken: isTaken)
            let finish = FinishStatement(
                claim: claim, lastResult: nil, reservation: nil, base: reserved, name: name, status: status.rawValue,
                documents: Self.encode(documents(reserved)), outcome: outcome, extensions: extensions, bodies: bodies)
            for try await _ in try await connection.execute(finish, logger: logger) {}
            return reserved
        }
    }

    public func forEachDocument(
        job: String, wanted: (_ name: String, _ fileExtension: String) -> Bool, _ body: (StoredDocument) throws -> Void
    ) async throws {
        let rows = try await client.query(
            """
            SELECT d.key, n.name, d.extension, d.text FROM batch_document d
            JOIN batch_name n ON n.job = d.job AND n.key = d.key JOIN batch_item i ON i.job = d.job AND i.key = d.key
            WHERE d.job = \(job) ORDER BY i.position, i.key, d.extension
            """, logger: logger)
        for try await (key, name, fileExtension, text) in rows.decode((String, String, String, String).self) {
            guard wanted(name, fileExtension) else { continue }
            try body(StoredDocument(key: key, name: name, fileExtension: fileExtension, text: text))
        }
    }

    public func reserveBudget(job: String, owner: String, amountUSD: Double, limitUSD: Double) async throws -> BudgetReservation? {
        let lease = Self.reservationLease.seconds
        return try await transaction { connection in
            // The job's row is the lock every reservation of the job takes: the sum below cannot change under it.
            var spent = 0.0
            for try await value in try await connection.query(
                "SELECT spent_usd FROM batch_job WHERE name = \(job) FOR UPDATE", logger: logger
            ).decode(Double.self) {
                spent = value
            }
            var reserved = 0.0
            for try await value in try await connection.query(
                """
                SELECT COALESCE(SUM(amount_usd), 0)::double precision FROM budget_reservation
                WHERE job = \(job) AND expires > extract(epoch from clock_timestamp())::double precision
                """, logger: logger
            ).decode(Double.self) {
                reserved = value
            }
            guard spent + reserved + amountUSD <= limitUSD else { return nil }
            let reservation = BudgetReservation(job: job, id: UUID().uuidString, amountUSD: amountUSD)
            _ = try await connection.query(
                """
                INSERT INTO budget_reservation (job, id, owner, amount_usd, expires)
                VALUES (\(job), \(reservation.id), \(owner), \(amountUSD), extract(epoch from clock_timestamp())::double precision + \(lease))
                """, logger: logger)
            return reservation
        }
    }

    public func releaseBudget(_ reservation: BudgetReservation) async throws {
        _ = try await client.query(
            "DELETE FROM budget_reservation WHERE job = \(reservation.job) AND id = \(reservation.id)", logger: logger)
    }

    public func spent(job: String) async throws -> Double {
        for try await value in try await client.query("SELECT spent_usd FROM batch_job WHERE name = \(job)", logger: logger).decode(
            Double.self)
        {
            return value
        }
        return 0
    }

    public func itemCounts(job: String) async throws -> [BatchItem.Status: Int] {
        var counts: [BatchItem.Status: Int] = [:]
        for try await (status, count) in try await client.query(
            "SELECT status, COUNT(*) FROM batch_item WHERE job = \(job) GROUP BY status", logger: logger
        ).decode((String, Int).self) {
            counts[BatchItem.Status(rawValue: status) ?? .pending, default: 0] += count
        }
        return counts
    }

    public func jobs() async throws -> [JobSummary] {
        var jobs: [JobSummary] = []
        for try await (name, created, spent, budget, cancelled) in try await client.query(
            """
            SELECT name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), spent_usd, budget_usd, cancelled FROM batch_job
            WHERE left(name, \(unescaped: String(TeamReview.jobPrefix.count))) <> \(TeamReview.jobPrefix)
            ORDER BY created_at DESC, name
            """, logger: logger
        ).decode((String, String, Double, Double?, Bool).self) {
            jobs.append(JobSummary(name: name, createdAt: created, spentUSD: spent, budgetUSD: budget, cancelled: cancelled))
        }
        return jobs
    }

    public func forEachItem(job: String, _ body: (BatchItem) throws -> Void) async throws {
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: "SELECT \(Self.itemColumns) FROM batch_item WHERE job = $1 ORDER BY position, key", binds: Self.binds(job)),
            logger: logger)
        for try await row in rows.decode(ItemRow.self) { try body(Self.item(row)) }
    }
}
