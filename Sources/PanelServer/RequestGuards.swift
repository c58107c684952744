import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Refuses a request whose path is not spelled the one way the server's routes are: `//v1/reviews`,
/// `/./v1/reviews`, `/v1//reviews`, `/v1/reviews/`, `/v1/%2Freviews`, a backslash or a target that is not
/// a path. The router would match several of these to a route while a check on the path's text would
/// not, so the two could disagree; with one spelling they cannot.
struct CanonicalPathMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws
        -> Response
    {
        let target = request.head.path ?? ""
        let path = target.prefix { $0 != "?" && $0 != "#" }
        guard Self.isCanonical(path), request.uri.path == path else {
            throw APIError(
                .badRequest, code: "non_canonical_path",
                "the path '\(String(path.prefix(120)).unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.map(String.init).joined())' is not canonical: one slash between segments, no '.' or '..' segments, no encoded slashes or dots, no trailing slash"
            )
        }
        return try await next(request, context)
    }

    /// One leading slash, non-empty segments of their own, nothing that decodes to a separator or a dot.
    static func isCanonical(_ path: Substring) -> Bool {
        guard path.first == "/" else { return false }
        if path == "/" { return true }
        if path.contains("\\") { return false }
        let lowered = path.lowercased()
        if lowered.contains("%2f") || lowered.contains("%2e") || lowered.contains("%5c") || lowered.contains("%00") { return false }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }
}

/// The origins a browser's state-changing request may come from: the server's public URL
/// (`panel serve --public-url`), else the address it listens on (for a loopback address, under each
/// of its loopback names; for an unspecified one such as 0.0.0.0, the origin the request's `Host`
/// names, since a page elsewhere cannot make a browser send another host's name).
public final class TrustedOrigins: Sendable {
    let publicOrigin: String?
    let listenHost: String
    let port = Mutex(0)

    /// `publicURL` is checked by ``origin(of:)`` first; nil keeps the listen address.
    public init(publicURL: String?, listenHost: String, port: Int) {
        publicOrigin = publicURL.flatMap(Self.origin(of:))
        self.listenHost = listenHost
        self.port.withLock { $0 = port }
    }

    /// The port actually bound (with `--listen HOST:0`).
    func bound(port: Int) { self.port.withLock { $0 = port } }

    /// `scheme://host[:port]`, lower-cased, the scheme's default port left out; nil unless http(s) with a host.
    public static func origin(of text: String) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["http", "https"].contains(scheme),
            var host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        let port = components.port.flatMap { (scheme == "http" && $0 == 80) || (scheme == "https" && $0 == 443) ? nil : $0 }
        return "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }

    /// The origins accepted now; empty when the request's own host decides.
    var allowed: [String] {
        if let publicOrigin { return [publicOrigin] }
        let port = port.withLock { $0 }
        let host = listenHost.lowercased()
        if ["0.0.0.0", "::", "[::]", ""].contains(host) { return [] }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"]
        let names = loopback.contains(host) ? ["127.0.0.1", "localhost", "[::1]"] : [host.contains(":") ? "[\(host)]" : host]
        return names.compactMap { Self.origin(of: "http://\($0):\(port)") }
    }

    /// Fails with 403 when the browser says the request came from another site or origin. A browser's
    /// `Sec-Fetch-Site` decides when it is sent (no page can set it; and the page's `no-referrer` policy
    /// makes Chromium send `Origin: null` with the server's own forms); else `Origin` is compared with
    /// the trusted origins. Requests with neither (scripts, old clients) pass: the CSRF value still applies.
    func check(_ request: Request) throws(APIError) {
        if let site = request.headers[.secFetchSite]?.lowercased() {
            guard site == "same-origin" || site == "none" else { throw Self.refusal("Sec-Fetch-Site: \(site.prefix(20))") }
            return
        }
        guard let sent = request.headers[.origin] else { return }
        guard let origin = Self.origin(of: sent) else { throw Self.refusal("Origin: \(sent.prefix(80))") }
        let allowed = allowed
        if allowed.isEmpty {
            guard let authority = request.head.authority, Self.origin(of: "http://\(authority)").map({ host($0) }) == host(origin) else {
                throw Self.refusal("Origin: \(origin)")
            }
        } else if !allowed.contains(origin) {
            throw Self.refusal("Origin: \(origin)")
        }
    }

    private func host(_ origin: String) -> Substring { origin.drop { $0 != ":" }.dropFirst(3) }

    static func refusal(_ what: String) -> APIError {
        APIError(
            .forbidden, code: "cross_origin",
            "a state-changing request from another site or origin is refused (\(what)); open the page at this server's own address, or start it with --public-url set to the address people use"
        )
    }
}

extension HTTPField.Name {
    static let secFetchSite = Self("Sec-Fetch-Site")!
}

/// Resolves the client's address (``ClientAddresses``) and, for requests that came through a trusted
/// proxy — whose connections are not capped per address — caps each client's requests in flight, so
/// one client behind the proxy cannot take every connection the server has.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    let clients: ClientAddresses
    let inFlight: ClientRequests

    func handle(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        guard clients.isTrusted(context.peer) else { return try await next(request, context) }
        context.client = clients.client(peer: context.peer, forwardedFor: request.headers[.xForwardedFor])
        guard inFlight.enter(context.client) else {
            throw APIError(
                .serviceUnavailable, code: "overloaded", "this address has \(inFlight.limit) requests in flight; retry shortly",
                headers: [.retryAfter: "5"])
        }
        defer { inFlight.leave(context.client) }
        return try await next(request, context)
    }
}

/// Requests in flight per client address (for clients behind a trusted proxy).
final class ClientRequests: Sendable {
    let limit: Int
    let counts = Mutex([String: Int]())

    init(limit: Int) { self.limit = limit }

    func enter(_ client: String) -> Bool {
        counts.withLock { counts in
            guard counts[client, default: 0] < limit else { return false }
            counts[client, default: 0] += 1
            return true
        }
    }

    func leave(_ client: String) {
        counts.withLock { counts in
            let left = counts[client, default: 1] - 1
            counts[client] = left > 0 ? left : nil
        }
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
