public import Foundation

/// How `panel serve` listens and what it allows.
public struct ServerOptions: Sendable {
    public static let defaultMaxBodyBytes = 1 << 20

    public var host: String
    public var port: Int
    /// Largest request body (a listing is at most 256 KiB; a batch of them more).
    public var maxBodyBytes: Int
    /// Requests a token may make per minute (429 with Retry-After beyond).
    public var requestsPerMinute: Int
    /// Reviews run at once; more wait in order.
    public var maxConcurrentReviews: Int
    /// How long a browser stays signed in.
    public var sessionLifetime: TimeInterval
    /// Mark the session cookie Secure even without `X-Forwarded-Proto: https` (a TLS proxy in front).
    public var secureCookies: Bool
    /// Drain the batch queue in this process (always on SQLite; on PostgreSQL `panel worker`s may help).
    public var runWorker: Bool
    /// Persona calls in flight for batches drained here.
    public var workerConcurrency: Int
    /// Listings a review or comparison may have.
    public var maxListingsPerReview: Int
    /// How often the queue worker looks for batch work without being woken (PostgreSQL wakes it).
    public var workerPollInterval: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 8787, maxBodyBytes: Int = defaultMaxBodyBytes, requestsPerMinute: Int = 600,
        maxConcurrentReviews: Int = 16, sessionLifetime: TimeInterval = 12 * 3600, secureCookies: Bool = false, runWorker: Bool = true,
        workerConcurrency: Int = 8, maxListingsPerReview: Int = 6, workerPollInterval: Duration = .seconds(2)
    ) {
        self.workerPollInterval = workerPollInterval
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.requestsPerMinute = requestsPerMinute
        self.maxConcurrentReviews = maxConcurrentReviews
        self.sessionLifetime = sessionLifetime
        self.secureCookies = secureCookies
        self.runWorker = runWorker
        self.workerConcurrency = workerConcurrency
        self.maxListingsPerReview = maxListingsPerReview
    }
}
