import PanelEngine
import PostgresNIO

extension PostgresStore {
    /// A listing finished under its lease: the last result saved as ``SaveStatement`` saves one (the
    /// item's row locked, the reservation settled), then — when the listing's name is `base`: its name
    /// already (reserved at enqueue), else `base` reserved now if no other listing has it — its outcome
    /// written, its lease cleared, its documents kept (replacing an earlier run's). Returns the held rows
    /// (1 while the lease holds) and the listing's name (`nil` when `base` went to another listing; the
    /// listing is then not finished). Prepared once per connection, as every per-listing statement is.
    struct FinishStatement: PostgresPreparedStatement {
        static let name = "panel_finish_item_v2"
        static let sql = """
            WITH \(SaveStatement.saving(reservation: ("$13", "$14"), item: ("$1", "$2", "$15"), result: ("$16", "$17", "$18"), saves: "$19")),
            existing AS (
              SELECT name FROM batch_name WHERE job = $1 AND key = $2
            ), named AS (
              INSERT INTO batch_name (job, name, key) SELECT job, $20, key FROM held WHERE NOT EXISTS (SELECT 1 FROM existing)
              ON CONFLICT DO NOTHING RETURNING name
            ), reserved AS (
              SELECT name FROM existing UNION ALL SELECT name FROM named
            ), finishing AS (
              SELECT job, key FROM held WHERE EXISTS (SELECT 1 FROM reserved WHERE name = $20)
            ), item AS (
              UPDATE batch_item i SET name = $3, status = $4, error = NULL,
                documents = $5, verdict = $6, ship_share = $7, score_median = $8, cost_usd = $9, answered = $10,
                updated_at = clock_timestamp(), lease_owner = NULL, lease_token = NULL, lease_expires = NULL
              FROM finishing f WHERE i.job = f.job AND i.key = f.key
            ), gone AS (
              DELETE FROM batch_document d USING finishing f
              WHERE d.job = f.job AND d.key = f.key AND NOT (d.extension = ANY($11::text[]))
            ), kept AS (
              INSERT INTO batch_document (job, key, extension, text)
              SELECT f.job, f.key, e, t FROM finishing f, unnest($11::text[], $12::text[]) AS d(e, t)
              ON CONFLICT (job, key, extension) DO UPDATE SET text = excluded.text
            )
            SELECT (SELECT COUNT(*) FROM held), (SELECT name FROM reserved LIMIT 1)
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .text, .text, .text, .text, .text, .text, .float8, .float8, .float8, .int8, .textArray, .textArray,
            .text, .text, .text, .text, .text, .float8, .bool, .text,
        ]
        typealias Row = (Int, String?)

        let claim: ItemClaim
        let lastResult: SavedResult?
        let reservation: BudgetReservation?
        let base: String
        let name: String
        let status: String
        let documents: String
        let outcome: BatchItem.Outcome
        let extensions: [String]
        let bodies: [String]

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 20)
            binds.append(claim.job)
            binds.append(claim.key)
            binds.append(name)
            binds.append(status)
            binds.append(documents)
            binds.append(outcome.verdict)
            binds.append(outcome.shipShare)
            binds.append(outcome.scoreMedian)
            binds.append(outcome.costUSD)
            binds.append(outcome.answered)
            binds.append(extensions)
            binds.append(bodies)
            binds.append(reservation?.job ?? "")
            binds.append(reservation?.id ?? "")
            binds.append(claim.token)
            binds.append(lastResult?.persona ?? "")
            binds.append(lastResult?.review ?? "")
            binds.append(lastResult?.costUSD)
            binds.append(lastResult != nil)
            binds.append(base)
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }
}

extension PostgresStore {
    /// A listing's document name from an earlier run (or its reservation at enqueue), else `base` when
    /// free — the usual case of naming, once per finished listing, prepared once per connection.
    struct NameStatement: PostgresPreparedStatement {
        static let name = "panel_reserve_name_v1"
        static let sql = """
            WITH existing AS (
              SELECT name FROM batch_name WHERE job = $1 AND key = $2
            ), inserted AS (
              INSERT INTO batch_name (job, name, key) SELECT $1, $3, $2 WHERE NOT EXISTS (SELECT 1 FROM existing)
              ON CONFLICT DO NOTHING RETURNING name
            )
            SELECT name FROM existing UNION ALL SELECT name FROM inserted
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .text, .text]
        typealias Row = String

        let job: String
        let key: String
        let base: String

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 3)
            binds.append(job)
            binds.append(key)
            binds.append(base)
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
    }
}
