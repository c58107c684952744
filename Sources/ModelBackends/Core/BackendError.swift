import Foundation

/// A failure to get an answer from a backend, classified so callers can decide what to do
/// (retry, cool down, fall back, give up) and carrying what a user needs to fix it.
///
/// Messages never contain secrets: the body excerpt passes through the backend's redactor.
public struct BackendError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; decides retry, cooldown and fallback.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case rateLimited = "rate_limited"
        case overloaded
        case server = "server_error"
        case timeout
        case connection
        case authentication
        case permission
        case badRequest = "bad_request"
        case contentFiltered = "content_filtered"
        case unsupported = "unsupported_capability"
        case invalidResponse = "invalid_response"
        case notRecorded = "not_recorded"
        case cancelled
    }

    public var kind: Kind
    /// The configured backend's name.
    public var backend: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// What went wrong, in a sentence.
    public var detail: String
    /// A short, redacted excerpt of the server's body.
    public var bodyExcerpt: String?
    /// How long the server asked us to wait before trying again.
    public var retryAfter: Duration?
    /// The backend could not be reached at all: the connection was refused, or reset before a byte
    /// of answer arrived. A router fails over at once on this instead of waiting out retries.
    public var unreachable: Bool = false
    /// Asking again cannot help (an answer larger than panel reads will be as large next time), so the
    /// error is never retried whatever its kind.
    public var permanent: Bool = false
    /// Calls made before giving up (retries included); nil when not counted (one call).
    public var attempts: Int?

    public init(
        kind: Kind,
        backend: String,
        status: Int? = nil,
        detail: String,
        bodyExcerpt: String? = nil,
        retryAfter: Duration? = nil
    ) {
        self.kind = kind
        self.backend = backend
        self.status = status
        self.detail = detail
        self.bodyExcerpt = bodyExcerpt.map { BackendError.excerpt($0) }
        self.retryAfter = retryAfter
    }

    /// What the user can do about it.
    public var advice: String {
        switch kind {
        case .rateLimited: return "the provider is rate limiting; lower --concurrency or wait"
        case .overloaded: return "the provider is overloaded; try again later or use another backend"
        case .server: return "the provider failed; try again, or use another backend"
        case .timeout: return "raise the backend's timeout or check that the server is responsive"
        case .connection: return "check that the server is running and the base URL is right"
        case .authentication: return "check the API key in the environment variable the config names"
        case .permission: return "the key is valid but may not use this model or deployment"
        case .badRequest: return "the server rejected the request; check the model name and options"
        case .contentFiltered: return "the provider's content filter refused the answer"
        case .unsupported: return "the backend cannot do what was asked; choose another backend or mode"
        case .invalidResponse: return "the server's answer is not in the expected format; check the backend kind"
        case .notRecorded: return "record it first with --record, or run against a live backend"
        case .cancelled: return "the call was cancelled"
        }
    }

    public var description: String {
        var text = "backend '\(backend)': \(kind.rawValue.replacingOccurrences(of: "_", with: " "))"
        if let status { text += " (HTTP \(status))" }
        text += ": \(detail)"
        if let bodyExcerpt, !bodyExcerpt.isEmpty { text += " — server said: \(bodyExcerpt)" }
        if let retryAfter { text += " [retry after \(retryAfter.milliseconds) ms]" }
        text += " — \(advice)"
        return text
    }

    static func excerpt(_ body: String, limit: Int = 300) -> String {
        let flat = body.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
    }
}

extension BackendError {
    public static func invalidResponse(backend: String, status: Int?, detail: String, body: String? = nil) -> BackendError {
        BackendError(kind: .invalidResponse, backend: backend, status: status, detail: detail, bodyExcerpt: body)
    }

    public static func timeout(backend: String, after limit: Duration) -> BackendError {
        BackendError(kind: .timeout, backend: backend, detail: "no complete answer within \(limit.seconds.formatted2) s")
    }

    public static func connection(backend: String, detail: String) -> BackendError {
        BackendError(kind: .connection, backend: backend, detail: detail)
    }

    /// The backend cannot be reached: nothing was asked of it and nothing answered.
    public static func unreachable(backend: String, detail: String) -> BackendError {
        var error = BackendError(kind: .connection, backend: backend, detail: detail)
        error.unreachable = true
        return error
    }

    public static func cancelled(backend: String) -> BackendError {
        BackendError(kind: .cancelled, backend: backend, detail: "cancelled before an answer arrived")
    }

    /// Classifies an HTTP error status the way OpenAI-style servers use them; adapters refine it.
    public static func fromHTTP(
        backend: String,
        status: Int,
        body: String,
        retryAfter: Duration?,
        message: String?
    ) -> BackendError {
        if (300..<400).contains(status) {
            // Not a server failure: retrying cannot help, and panel follows no redirects.
            return BackendError(
                kind: .badRequest, backend: backend, status: status,
                detail: "the server answered with a redirect; panel follows none — set base_url to the address it redirects to")
        }
        let kind: Kind
        switch status {
        case 401: kind = .authentication
        case 403: kind = .permission
        case 408: kind = .timeout
        case 429: kind = .rateLimited
        case 503, 529: kind = .overloaded
        case 400..<500: kind = .badRequest
        default: kind = .server
        }
        let detail = message.map { BackendError.excerpt($0, limit: 200) } ?? "the server answered HTTP \(status)"
        return BackendError(
            kind: kind, backend: backend, status: status, detail: detail, bodyExcerpt: message == nil ? body : nil, retryAfter: retryAfter)
    }
}

extension Double {
    var formatted2: String {
        let rounded = (self * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
