import Foundation
public import HTTPTypes
public import Hummingbird
import ModelBackends
import NIOCore

/// An error the API answers with: a status and a JSON body `{"error": {"code", "message"}}` saying
/// what was wrong and what to do — never a stack trace or an internal detail.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"panel\"" }
        let body = JSONValue.object(["error": .object(["code": .string(code), "message": .string(message)])]).canonicalText() + "\n"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message) }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, code: "not_found", "\(what) does not exist") }

    /// 401: no token or session (every route that needs one says the same).
    static let signIn = APIError(
        .unauthorized, code: "unauthorized",
        "sign in: send Authorization: Bearer <token> (panel tokens create makes one), or sign in on the web page")

    /// 413: a body past the server's limit (`--max-body-bytes`).
    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "too_large", "the body is larger than \(limit / 1024) KiB; send fewer listings at once")
    }
}

extension HTTPResponse.Status {
    /// 402: a token's budget does not cover what was asked.
    static let paymentRequired = Self(code: 402, reasonPhrase: "Payment Required")
}
