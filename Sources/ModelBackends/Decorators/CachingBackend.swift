/// Where cached answers live. ``PanelStore`` keeps them in SQLite; tests may keep them in memory.
public protocol ResponseCache: Sendable {
    /// The answer stored under `key`, if there is one no older than `maxAge` (nil: any age).
    func cachedResponse(for key: String, maxAge: Duration?) async throws -> ChatResponse?
    func store(_ response: ChatResponse, for key: String) async throws
}

extension ResponseCache {
    /// The answer stored under `key`, whatever its age.
    public func cachedResponse(for key: String) async throws -> ChatResponse? {
        try await cachedResponse(for: key, maxAge: nil)
    }
}

/// Answers a request from the cache when the same backend and model answered the same request
/// before; otherwise asks the wrapped backend and caches the answer if `isCacheable` accepts it
/// (the panel caches only answers it could parse).
///
/// A cached answer reports `attempts` 0 and cost 0: a rerun costs no calls.
public struct CachingBackend: ModelBackend {
    public enum Mode: Sendable, Hashable {
        /// Read and write.
        case normal
        /// Ignore what is cached, but store fresh answers.
        case refresh
    }

    let base: any ModelBackend
    let cache: any ResponseCache
    let model: String
    let mode: Mode
    /// How long a cached answer is good for; older ones are asked again (nil: for ever).
    let ttl: Duration?
    let isCacheable: @Sendable (ChatResponse) -> Bool

    public var name: String { base.name }

    public init(
        _ base: any ModelBackend, cache: any ResponseCache, model: String, mode: Mode = .normal, ttl: Duration? = nil,
        isCacheable: @escaping @Sendable (ChatResponse) -> Bool = { _ in true }
    ) {
        self.base = base
        self.cache = cache
        self.model = model
        self.mode = mode
        self.ttl = ttl
        self.isCacheable = isCacheable
    }

    /// The cache key: backend, model, canonical request and sample index.
    public func key(for request: ChatRequest) -> String {
        key(for: request, sample: request.sample)
    }

    public func key(for request: ChatRequest, sample: Int) -> String {
        let identity: JSONValue = .object([
            "backend": .string(name), "model": .string(model), "request": request.canonicalBody, "sample": .int(sample),
        ])
        return ChatRequest(messages: [.user(identity.canonicalText())]).canonicalHash
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let key = key(for: request)
        if let hit = try await lookup(key) { return hit }
        let response = try await base.complete(request)
        await save(response, key)
        return response
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let key = key(for: request)
        let base = self.base
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    if let hit = try await lookup(key) {
                        continuation.yield(.delta(hit.text))
                        continuation.yield(.completed(hit))
                    } else {
                        for try await event in base.stream(request) {
                            if case .completed(let response) = event { await save(response, key) }
                            continuation.yield(event)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func lookup(_ key: String) async throws -> ChatResponse? {
        guard mode == .normal, var hit = try? await cache.cachedResponse(for: key, maxAge: ttl) else { return nil }
        hit.attempts = 0
        hit.costUSD = 0
        hit.cached = true
        return hit
    }

    /// A cache that cannot be written never fails the call; the answer is still good.
    func save(_ response: ChatResponse, _ key: String) async {
        guard isCacheable(response) else { return }
        try? await cache.store(response, for: key)
    }
}
