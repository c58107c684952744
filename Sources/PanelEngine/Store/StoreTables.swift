/// The tables both stores keep, column for column, so a team's history can move from one store to the
/// other (`panel store copy`). Leases and budget reservations are not history: a copy leaves them out.
public struct StoreTable: Sendable, Hashable {
    public var name: String
    public var columns: [String]
    /// Columns holding a time (UTC): SQLite writes them as text, PostgreSQL as `timestamptz`.
    public var timestamps: Set<String>
    /// Columns holding true or false: SQLite writes them as 0 and 1, PostgreSQL as `boolean`.
    public var booleans: Set<String> = []
    /// The primary key, in order: copies are read in this order, and a row whose key is there already
    /// is left as it is.
    public var key: [String]

    /// In dependency order (a job before its items).
    public static let all: [StoreTable] = [
        StoreTable(
            name: "response_cache",
            columns: [
                "key", "backend", "model", "text", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "ttft_ms", "finish_reason",
                "created_at",
            ], timestamps: ["created_at"], key: ["key"]),
        StoreTable(
            name: "batch_job", columns: ["name", "created_at", "spent_usd", "settings", "budget_usd", "cancelled"],
            timestamps: ["created_at"],
            booleans: ["cancelled"], key: ["name"]),
        StoreTable(
            name: "batch_item",
            columns: [
                "job", "key", "name", "status", "error", "documents", "verdict", "ship_share", "score_median", "cost_usd", "answered",
                "position", "updated_at", "listing", "attempts",
            ], timestamps: ["updated_at"], key: ["job", "key"]),
        StoreTable(
            name: "batch_result", columns: ["job", "key", "persona", "review", "cost_usd", "created_at"], timestamps: ["created_at"],
            key: ["job", "key", "persona"]),
        StoreTable(name: "batch_name", columns: ["job", "name", "key"], timestamps: [], key: ["job", "name"]),
        StoreTable(
            name: "batch_document", columns: ["job", "key", "extension", "text"], timestamps: [], key: ["job", "key", "extension"]),
        // The team server's tokens (hashed) and reviews; sessions are not copied (signing in again makes one).
        StoreTable(
            name: "team_token", columns: ["id", "name", "role", "secret_hash", "budget_usd", "spent_usd", "created_at", "revoked"],
            timestamps: [], booleans: ["revoked"], key: ["id"]),
        StoreTable(
            name: "team_review",
            columns: [
                "id", "created_at", "token_id", "created_by", "status", "title", "title_lower", "listings", "document", "verdicts",
                "cost_usd",
                "error",
            ], timestamps: [], key: ["id"]),
        StoreTable(name: "team_review_action", columns: ["review_id", "seq", "action"], timestamps: [], key: ["review_id", "seq"]),
    ]
}

/// One value of a copied row, whatever the store.
public enum StoreValue: Sendable, Hashable {
    case null
    case text(String)
    case integer(Int)
    case real(Double)
}
