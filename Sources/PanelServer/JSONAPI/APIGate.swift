import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAPIRuntime
import PanelEngine

/// What the generated handlers know of the request beyond its HTTP parts: who is asking, set by
/// ``APIScopeMiddleware`` for the task that runs the operation.
enum RequestScope {
    @TaskLocal static var identity: Identity?

    /// The identity, or 401 (``RoleGate`` has checked it before the body is read; this is for the
    /// operations' own use).
    static func caller() throws(APIError) -> Identity {
        guard let identity else { throw APIError.signIn }
        return identity
    }
}

/// The Hummingbird side of the generated operations: reads the body within the server's limit (413, as
/// every route does — the generated code would read any size), binds the caller for the operation's task,
/// marks answers `no-store`, and answers the errors the generated code wraps in `ServerError` as every
/// other route does: `{"error": {"code", "message"}}`, a message naming the field.
struct APIScopeMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws -> Response {
        var request = request
        if request.method != .get, request.method != .head, request.method != .delete {
            do {
                _ = try await request.collectBody(upTo: context.maxUploadSize)
            } catch {
                throw APIError.tooLarge(context.maxUploadSize)
            }
        }
        do {
            var response = try await RequestScope.$identity.withValue(context.identity) { try await next(request, context) }
            response.headers[.cacheControl] = "no-store"
            return response
        } catch let error as ServerError {
            throw Self.answer(error)
        }
    }

    /// The error a client gets for what went wrong in a generated operation.
    static func answer(_ error: ServerError) -> any Error {
        switch error.underlyingError {
        case let refusal as APIError: return refusal
        case let decoding as DecodingError:
            return APIError.badRequest(FieldRules.message(decoding, operation: error.operationID, request: error.request))
        case let underlying:
            // The generated code's own refusals (a Content-Type or Accept it does not serve, a query
            // parameter it cannot read) carry a 4xx status and say what they expected.
            guard (400..<500).contains(error.httpStatus.code) else { return underlying }
            let code =
                switch error.httpStatus {
                case .unsupportedMediaType: "unsupported_media_type"
                case .notAcceptable: "not_acceptable"
                default: "bad_request"
                }
            return APIError(error.httpStatus, code: code, error.causeDescription)
        }
    }
}

/// The least role each generated operation needs — `x-panel-role` in openapi.yaml (a test holds the two
/// equal) — checked before the body is read, so a caller without a token or the role learns nothing of
/// the body's rules.
struct RoleGate: ServerMiddleware {
    static let roles: [String: TeamRole] = [
        Operations.ListReviews.id: .viewer, Operations.GetReview.id: .viewer, Operations.EditReview.id: .editor,
        Operations.PublishReview.id: .editor, Operations.UnpublishReview.id: .editor, Operations.SetVoting.id: .editor,
        Operations.PurgeVotes.id: .admin, Operations.GetBatch.id: .viewer, Operations.ListTokens.id: .admin,
        Operations.CreateToken.id: .admin, Operations.RevokeToken.id: .admin,
    ]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if let role = Self.roles[operationID] {
            try RequestScope.caller().require(role)
        }
        return try await next(request, body, metadata)
    }
}
