public import Hummingbird
public import NIOCore
public import PanelEngine

/// The request context of the team server: Hummingbird's core storage, who is asking (resolved once
/// per request by ``AuthMiddleware``) and the body limit.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The token behind the request, from `Authorization: Bearer` or a session cookie.
    public var identity: Identity?
    public var maxUploadSize: Int
    /// The connection's peer address.
    public let peer: String
    /// The client's address: the peer, or behind a trusted proxy the address it forwarded (set by
    /// ``ClientAddressMiddleware``).
    public var client: String
    /// Completes when the connection closes (an event stream ends when its client leaves).
    public let closed: EventLoopFuture<Void>

    public init(source: Source) {
        coreContext = .init(source: source)
        maxUploadSize = ServerOptions.defaultMaxBodyBytes
        peer = source.channel.remoteAddress?.ipAddress ?? "unknown"
        client = peer
        closed = source.channel.closeFuture
    }
}

/// Who is asking and how they proved it.
public struct Identity: Sendable {
    public enum Proof: Sendable {
        /// `Authorization: Bearer …`: a script; no CSRF check applies.
        case bearer
        /// The browser's session cookie: state-changing requests must carry the session's CSRF value.
        case session(csrf: String, secretHash: String)
    }

    public var token: TeamToken
    public var proof: Proof

    /// Fails with 403 unless the token's role is at least `role`.
    func require(_ role: TeamRole) throws(APIError) {
        guard token.role >= role else {
            throw APIError(
                .forbidden, code: "forbidden", "this needs the \(role.rawValue) role; the token '\(token.name)' is \(token.role.rawValue)")
        }
    }
}

extension ServerContext {
    /// The identity, or 401 when the request carried no valid token or session.
    func identity(atLeast role: TeamRole) throws(APIError) -> Identity {
        guard let identity else { throw .signIn }
        try identity.require(role)
        return identity
    }
}
