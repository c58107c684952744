import Foundation

/// Records every successful answer of the backend it wraps, then passes it on unchanged.
public struct RecordingBackend: ModelBackend {
    let base: any ModelBackend
    let store: RecordingStore

    public var name: String { base.name }

    public init(_ base: any ModelBackend, store: RecordingStore) {
        self.base = base
        self.store = store
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let response = try await base.complete(request)
        try save(request, response)
        return response
    }

    public func stream(_ request: ChatRequest) -> AsyncThrowingStream<ChatStreamEvent, any Error> {
        let upstream = base.stream(request)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in upstream {
                        if case .completed(let response) = event { try save(request, response) }
                        continuation.yield(event)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// A recording that cannot be written is an error of our own, not the provider's: it is thrown as a
    /// ``RecordingError``, which no retry policy retries and no router fails over on, so the call that
    /// could not be saved is the only one paid for.
    private func save(_ request: ChatRequest, _ response: ChatResponse) throws {
        do {
            try store.save(Recording(request: request, response: response))
        } catch {
            throw RecordingError(
                path: store.directory.path,
                detail: "cannot write the recording of \(request.label.isEmpty ? "a call" : request.label) (\(error))")
        }
    }
}

/// Answers only from recordings. Strict: a request without a recording fails with a message
/// naming who asked, never falling through to a live call.
public struct ReplayBackend: ModelBackend {
    public let name: String
    let recordings: [String: Recording]
    let source: String

    public init(store: RecordingStore, name: String = "replay") throws {
        self.name = name
        self.recordings = try store.loadAll()
        self.source = store.directory.path
    }

    public var count: Int { recordings.count }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        try Task.checkCancellation()
        guard let recording = recordings[request.recordingKey] else {
            let who = request.label.isEmpty ? "this request" : request.label
            throw BackendError(
                kind: .notRecorded, backend: name,
                detail:
                    "no recording for \(who) (request \(request.recordingKey.prefix(12))\(request.sample > 0 ? ", sample \(request.sample)" : "")) in \(source); "
                    + "the prompt, temperature or listing changed since it was recorded")
        }
        return recording.chatResponse
    }
}
