import Foundation
import HTTPTypes
import Hummingbird
import ModelBackends
import PanelEngine
import PanelKit

/// `/v1/batches`: a job on the same queue as `panel batch` (its id is the job's name, as `panel jobs`
/// shows it), drained by this server and any `panel worker` sharing the store.
struct BatchesAPI {
    let server: TeamServer

    func register(_ router: Router<ServerContext>) {
        let group = router.group("v1/batches")
        group.post { request, context in try await create(request, context) }
        group.get(":id") { _, context in try await show(context) }
    }

    func create(_ request: Request, _ context: ServerContext) async throws -> Response {
        let identity = try context.identity(atLeast: .admin)
        let text = try await RequestBodies.text(request, context: context)
        let (rows, requested, budget) = try RequestBodies.batch(text)
        if let requested, !Self.isValidName(requested) {
            throw APIError.badRequest("name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        let name = requested ?? "api-\(Self.stamp(server.now()))-\(TeamTokens.randomText(6).lowercased())"
        // A budgeted token pays for its batches too: the batch must carry a budget (the most its job may
        // spend), reserved against the token's when the batch is accepted and settled once it is done.
        let token = identity.token
        if token.budgetUSD != nil {
            guard let budget else {
                throw APIError(
                    .paymentRequired, code: "budget_required",
                    "the token '\(token.name)' has a budget: give the batch a budget_usd no larger than what it has left")
            }
            try await server.store.settleBatchCharges(tokenID: token.id)
            guard try await !server.store.jobExists(name) else {
                throw APIError(.conflict, code: "exists", "a batch named '\(name)' exists; a token with a budget starts new batches only")
            }
            guard try await server.store.chargeBatch(job: name, tokenID: token.id, reserveUSD: budget) else {
                let left = try await server.store.tokens().first { $0.id == token.id }.map { ($0.budgetUSD ?? 0) - $0.spentUSD } ?? 0
                throw APIError(
                    .paymentRequired, code: "budget_spent",
                    "the token '\(token.name)' has $\(String(format: "%.4f", max(0, left))) of its budget left; the batch asks for $\(String(format: "%.4f", budget))"
                )
            }
        }
        let driver = BatchDriver(
            engine: server.engine, store: server.store, sink: nil,
            options: .init(job: name, formats: [.markdown, .html], concurrency: server.options.workerConcurrency, budgetUSD: budget))
        let result = try await driver.enqueue(rows: rows)
        let failed = rows.compactMap { row -> JSONValue? in
            guard case .failure(let error) = row.listing else { return nil }
            return .object(["key": .string(row.key), "error": .string(error.description)])
        }
        var body = try await status(name)
        if case .object(var object) = body {
            object["queued"] = .int(result.added)
            object["requeued"] = .int(result.requeued)
            object["rejected"] = .array(failed)
            body = .object(object)
        }
        return JSONResponse.make(body, status: .accepted, headers: [.location: "/v1/batches/\(name)"])
    }

    func show(_ context: ServerContext) async throws -> Response {
        _ = try context.identity(atLeast: .viewer)
        let id = try context.parameters.require("id")
        guard Self.isValidName(id), try await server.store.jobExists(id) else { throw APIError.notFound("batch '\(id.prefix(64))'") }
        try await server.store.settleBatchCharges(tokenID: nil)
        return JSONResponse.make(try await status(id))
    }

    func status(_ name: String) async throws -> JSONValue {
        let record = try await server.store.job(name)
        let counts = try await server.store.itemCounts(job: name)
        let spent = try await server.store.spent(job: name)
        let open = counts[.pending] ?? 0
        let state: String = record?.cancelled == true ? "cancelled" : open > 0 ? "running" : "done"
        return .object([
            "id": .string(name), "status": .string(state),
            "counts": .object(
                Dictionary(uniqueKeysWithValues: BatchItem.Status.allCases.map { ($0.rawValue, JSONValue.int(counts[$0] ?? 0)) })),
            "spent_usd": .double(spent), "budget_usd": record?.budgetUSD.map(JSONValue.double) ?? .null,
        ])
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 64, CharacterSet.alphanumerics.contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ($0.isASCII && CharacterSet.alphanumerics.contains($0)) || "._-".unicodeScalars.contains($0)
        }
    }

    static func stamp(_ date: Date) -> String {
        String(CFormat.iso8601(date).prefix(19)).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
            .replacingOccurrences(of: "T", with: "-")
    }
}

/// `/v1/tokens`: an admin lists, makes and revokes tokens (as `panel tokens` does on the store).
struct TokensAPI {
    let server: TeamServer

    func register(_ router: Router<ServerContext>) {
        let group = router.group("v1/tokens")
        group.get { _, context in
            _ = try context.identity(atLeast: .admin)
            return JSONResponse.make(.object(["tokens": .array(try await server.store.tokens().map(Self.json))]))
        }
        group.post { request, context in
            _ = try context.identity(atLeast: .admin)
            let object = try RequestBodies.object(
                try await RequestBodies.text(request, context: context), allowed: ["name", "role", "budget_usd", "display_name"])
            guard let name = object["name"]?.stringValue, TeamTokens.isValidName(name) else {
                throw APIError.badRequest("name: 1-64 letters, digits, '.', '_', '-', '@' or spaces")
            }
            guard let role = object["role"]?.stringValue.flatMap(TeamRole.init(rawValue:)) else {
                throw APIError.badRequest("role: viewer, editor or admin")
            }
            var budget: Double?
            if let value = object["budget_usd"], value != .null {
                guard let number = value.numberValue, number.isFinite, number >= 0 else {
                    throw APIError.badRequest("budget_usd: a number, 0 or more")
                }
                budget = number
            }
            var displayName: String?
            if let value = object["display_name"], value != .null {
                guard let text = value.stringValue, TeamTokens.isValidDisplayName(text) else {
                    throw APIError.badRequest("display_name: 1-100 characters, no control characters")
                }
                displayName = text
            }
            let made: (token: TeamToken, secret: String)
            do {
                made = try await TeamTokens.create(
                    in: server.store, name: name, role: role, budgetUSD: budget, displayName: displayName, now: server.now())
            } catch {
                throw APIError(.conflict, code: "exists", "a token named '\(name)' exists; revoke it first or choose another name")
            }
            guard case .object(var body) = Self.json(made.token) else { return Response(status: .internalServerError) }
            body["secret"] = .string(made.secret)
            return JSONResponse.make(.object(body), status: .created)
        }
        group.delete(":id") { _, context in
            _ = try context.identity(atLeast: .admin)
            let id = try context.parameters.require("id")
            guard id.count <= 64, try await server.store.revokeToken(id) else { throw APIError.notFound("live token '\(id.prefix(64))'") }
            return Response(status: .noContent)
        }
    }

    static func json(_ token: TeamToken) -> JSONValue {
        .object([
            "id": .string(token.id), "name": .string(token.name), "role": .string(token.role.rawValue),
            "budget_usd": token.budgetUSD.map(JSONValue.double) ?? .null, "spent_usd": .double(token.spentUSD),
            "created_at": .string(CFormat.iso8601(token.createdAt)), "revoked": .bool(token.revoked),
            "display_name": token.displayName.map(JSONValue.string) ?? .null,
        ])
    }
}
