import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ModelBackends
import PanelEngine

/// Resolves who is asking, once per request: a bearer token, else the session cookie. An unknown,
/// revoked or malformed credential leaves the request anonymous (routes that need a token answer 401);
/// a session's state-changing request must carry the session's CSRF value (403 otherwise); each token
/// gets a request rate (429 with Retry-After beyond it), counted in the store's windows, so it holds
/// across every server sharing the store (a store that cannot answer does not stop requests: its
/// token lookup has answered already).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    let store: any ReviewStore
    let origins: TrustedOrigins
    let rates: any RateWindows
    let requestsPerMinute: Int
    let now: @Sendable () -> Date

    static let sessionCookie = "panel_session"
    /// Methods that change nothing (the server has no GET route that does).
    static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options]

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        // A browser attaches the cookies of this server to requests any page makes; a state-changing one that
        // a browser says came from another origin is refused whatever it carries (the sign-in form included,
        // so no page can sign an editor in as someone else).
        if !Self.safeMethods.contains(request.method),
            request.headers[.authorization] == nil || WebPages.formRoutes.contains(context.endpointPath ?? "")
        {
            try origins.check(request)
        }
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer", parts[1].count <= 200,
                let token = try await store.token(secretHash: TeamTokens.hash(String(parts[1]))), !token.revoked
            {
                context.identity = Identity(token: token, proof: .bearer)
            }
        } else if let cookie = request.cookies[Self.sessionCookie]?.value, cookie.count <= 200 {
            let hash = TeamTokens.hash(cookie)
            if let (session, token) = try await store.session(secretHash: hash, now: now()) {
                context.identity = Identity(token: token, proof: .session(csrf: session.csrf, secretHash: hash))
            }
        }
        if let identity = context.identity {
            if case .session(let csrf, _) = identity.proof, !Self.safeMethods.contains(request.method) {
                // Decided by the route matched (never by the path's spelling): every state-changing route
                // but the forms, which check their own field, needs the header a script in the page sends.
                if !WebPages.formRoutes.contains(context.endpointPath ?? "") {
                    guard let sent = request.headers[.csrfToken], Self.same(sent, csrf) else {
                        throw APIError(.forbidden, code: "csrf", "this request needs the page's X-CSRF-Token header; reload the page")
                    }
                }
            }
            if let wait = try? await rates.take(
                backend: "token:" + identity.token.id, tokens: 0, limit: RateLimit(requestsPerMinute: requestsPerMinute))
            {
                let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
                throw APIError(
                    .tooManyRequests, code: "rate_limited",
                    "the token '\(identity.token.name)' made more than \(requestsPerMinute) requests this minute; retry in \(seconds) s",
                    headers: [.retryAfter: String(seconds)])
            }
        }
        return try await next(request, context)
    }

    /// Compares secrets in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// One structured log line and the request metrics per request: method, route (the pattern, never a
/// query or a credential), status, duration and the token's id. Errors that are not ``APIError``s
/// become a 500 saying only that, with the detail in the log.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    let metrics: ServerMetrics
    let logger: Logger

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - start
            let route = context.endpointPath ?? "unmatched"
            metrics.request(method: request.method.rawValue, route: route, status: status, duration: elapsed)
            logger.info(
                "request",
                metadata: [
                    "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(status)",
                    "ms":
                        "\(String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000))",
                ])
        }
        do {
            let response = try await next(request, context)
            status = response.status.code
            return response
        } catch let error as any HTTPResponseError {
            status = error.status.code
            throw error
        } catch {
            logger.error("internal error", metadata: ["route": "\(context.endpointPath ?? "unmatched")", "error": "\(error)"])
            status = 500
            throw APIError(.internalServerError, code: "internal", "the server could not answer this request; it is logged")
        }
    }
}

/// Security headers on every response: a strict Content-Security-Policy (scripts and styles from this
/// server only, no inline script, no framing, no requests elsewhere), no sniffing, no referrer.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    static let policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    /// Downloaded HTML documents style themselves inline and run nothing.
    static let documentPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.policy }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.xFrameOptions] = "DENY"
        return response
    }
}

extension HTTPField.Name {
    static let csrfToken = Self("X-CSRF-Token")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
