public import Foundation
public import PanelEngine

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

    /// The address people open the page at (`--public-url`): a state-changing browser request must come
    /// from its origin. Nil: the listen address.
    public var publicURL: String?
    /// New votes a reader's network (IPv4 /24, IPv6 /64) may cast in an hour (`--votes-per-network-hour`).
    public var votesPerNetworkHour = 20
    /// Peers whose `X-Forwarded-For` names the client (`--trusted-proxy CIDR`); any other peer is the client.
    public var trustedProxies: [NetworkPrefix]
    /// How long a connection may take to send a request's headers (from when it opens, or from its first
    /// byte after the previous response).
    public var headerTimeout: Duration
    /// How long a kept-alive connection may sit idle between requests (and a request body between pieces).
    public var idleTimeout: Duration
    /// Connections open at once, in all (at most the process's file limit less a reserve) and per client
    /// address; beyond them a connection is answered 503 and closed.
    public var maxConnections: Int
    public var maxConnectionsPerClient: Int
    /// Reviews one token may have queued or running at once (429 beyond).
    public var maxQueuedReviewsPerToken: Int
    /// On SIGTERM: how long running reviews have to finish before they are put back in the queue.
    public var grace: Duration
    /// How often an idle event stream is sent a comment, so a client that left is noticed.
    public var streamHeartbeat: Duration
    /// How long a claim of a review or batch listing holds without a heartbeat (renewed every third of
    /// it): another server or worker takes a review over this long after its server died.
    public var lease: Duration
    /// How often a stream looks for events of a review another process works, without being woken
    /// (PostgreSQL wakes it; on SQLite this process's appends do).
    public var eventPollInterval: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 8787, maxBodyBytes: Int = defaultMaxBodyBytes, requestsPerMinute: Int = 600,
        maxConcurrentReviews: Int = 16, sessionLifetime: TimeInterval = 12 * 3600, secureCookies: Bool = false, runWorker: Bool = true,
        workerConcurrency: Int = 8, maxListingsPerReview: Int = 6, workerPollInterval: Duration = .seconds(2), publicURL: String? = nil,
        trustedProxies: [NetworkPrefix] = [], headerTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 4096, maxConnectionsPerClient: Int = 256, maxQueuedReviewsPerToken: Int = 50, grace: Duration = .seconds(30),
        streamHeartbeat: Duration = .seconds(15), lease: Duration = QueueDefaults.lease, eventPollInterval: Duration = .milliseconds(250)
    ) {
        self.lease = lease
        self.eventPollInterval = eventPollInterval
        self.publicURL = publicURL
        self.trustedProxies = trustedProxies
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.maxQueuedReviewsPerToken = maxQueuedReviewsPerToken
        self.grace = grace
        self.streamHeartbeat = streamHeartbeat
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
