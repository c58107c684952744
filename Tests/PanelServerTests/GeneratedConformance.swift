import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Yams

@testable import PanelServer

/// openapi.yaml's operations as the tests need them — path, method, the role `x-panel-role` names and the
/// statuses declared — and a response's check against them: a status the operation declares, and a JSON
/// body the generated types (swift-openapi-generator, from the same file) decode. The schema itself is
/// the generator's to apply; schemathesis checks every route against it in CI.
struct OpenAPIOperations {
    struct Operation {
        let path: String
        let method: String
        let id: String
        let role: String?
        let statuses: Set<String>
    }

    let all: [Operation]

    static let repository: OpenAPIOperations = {
        let text = (try? String(contentsOf: repositoryRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)) ?? ""
        let root = (try? Yams.load(yaml: text)) as? [String: Any] ?? [:]
        var all: [Operation] = []
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for method in ["get", "post", "patch", "put", "delete"] {
                guard let operation = (item as? [String: Any])?[method] as? [String: Any] else { continue }
                all.append(
                    Operation(
                        path: path, method: method, id: operation["operationId"] as? String ?? "",
                        role: operation["x-panel-role"] as? String,
                        statuses: Set((operation["responses"] as? [String: Any] ?? [:]).keys)))
            }
        }
        return OpenAPIOperations(all: all.sorted { ($0.path, $0.method) < ($1.path, $1.method) })
    }()

    func operation(_ path: String, _ method: String) -> Operation? { all.first { $0.path == path && $0.method == method } }

    /// The generated type of each JSON success body (the routes kept by hand answer in the same types).
    static let successBodies: [String: any (Decodable & Sendable).Type] = [
        "health": Operations.Health.Output.Ok.Body.JsonPayload.self,
        "listReviews": Operations.ListReviews.Output.Ok.Body.JsonPayload.self,
        "getReview": Components.Schemas.Review.self, "editReview": Components.Schemas.Review.self,
        "publishReview": Components.Schemas.Publication.self, "setVoting": Components.Schemas.Publication.self,
        "purgeVotes": Operations.PurgeVotes.Output.Ok.Body.JsonPayload.self,
        "getBatch": Components.Schemas.Batch.self, "createBatch": Components.Schemas.Batch.self,
        "listTokens": Operations.ListTokens.Output.Ok.Body.JsonPayload.self,
        "createToken": Operations.CreateToken.Output.Created.Body.JsonPayload.self,
    ]

    /// What is wrong with a response to `method path` (empty: it conforms).
    func problems(_ response: TestResponse, path: String, method: String) -> [String] {
        guard let operation = operation(path, method) else { return ["\(method) \(path) is not in openapi.yaml"] }
        let status = response.status.code
        guard operation.statuses.contains(String(status)) else { return ["\(method) \(path): status \(status) is not declared"] }
        guard response.headers[.contentType]?.hasPrefix("application/json") == true else { return [] }
        let type: (any (Decodable & Sendable).Type)? = status >= 400 ? Components.Schemas._Error.self : Self.successBodies[operation.id]
        guard let type else { return [] }
        do {
            _ = try JSONDecoder().decode(type, from: Data(String(buffer: response.body).utf8))
            return []
        } catch {
            return ["\(method) \(path) \(status): the body is not a \(type): \(error)"]
        }
    }
}
