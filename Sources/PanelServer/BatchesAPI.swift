import Foundation
import HTTPTypes
import Hummingbird
import ModelBackends
import PanelEngine
import PanelKit

/// `POST /v1/batches`: a job on the same queue as `panel batch` (its id is the job's name, as `panel jobs`
/// shows it), drained by this server and any `panel worker` sharing the store. By hand: the body is JSON
/// or JSON Lines, recognised by its content, and a row that is not a listing is recorded failed rather
/// than refusing the batch — not what the generated decoder does. (`GET /v1/batches/{id}` is generated.)
struct BatchesAPI {
    let server: TeamServer

    func register(_ router: Router<ServerContext>) {
        router.post("/v1/batches") { request, context in try await create(request, context) }
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
        // The generated Batch, with what this request did beside it (the 202's allOf in openapi.yaml).
        guard case .object(var body) = try JSONValueEncoder.encode(try await status(name)) else {
            throw APIError.notFound("batch '\(name)'")
        }
        body["queued"] = .int(result.added)
        body["requeued"] = .int(result.requeued)
        body["rejected"] = .array(failed)
        return JSONResponse.make(.object(body), status: .accepted, headers: [.location: "/v1/batches/\(name)"])
    }

    /// A batch job's progress, as `GET /v1/batches/{id}` and the 202 of a new batch give it.
    func status(_ name: String) async throws -> Components.Schemas.Batch {
        let record = try await server.store.job(name)
        let counts = try await server.store.itemCounts(job: name)
        let spent = try await server.store.spent(job: name)
        let open = counts[.pending] ?? 0
        let state: Components.Schemas.Batch.StatusPayload = record?.cancelled == true ? .cancelled : open > 0 ? .running : .done
        return .init(
            id: name, status: state,
            counts: .init(
                pending: counts[.pending] ?? 0, complete: counts[.complete] ?? 0, partial: counts[.partial] ?? 0,
                failed: counts[.failed] ?? 0),
            spentUsd: spent, budgetUsd: .init(record?.budgetUSD))
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
