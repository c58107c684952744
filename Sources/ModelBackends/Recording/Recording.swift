public import Foundation

/// One recorded request/response pair, stored as a JSON file named by the request's hash.
///
/// The answer text is kept raw, exactly as the model wrote it, so parser changes can be re-tested
/// against old recordings. No header is stored and every field passes through the redactor.
public struct Recording: Sendable, Hashable, Codable {
    public static let schemaVersion = "panel.recording/v1"

    public struct Answer: Sendable, Hashable, Codable {
        public var text: String
        public var model: String?
        public var backend: String
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var costUSD: Double?
        public var latencyMS: Int
        public var ttftMS: Int?
        public var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case text, model, backend
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case costUSD = "cost_usd"
            case latencyMS = "latency_ms"
            case ttftMS = "ttft_ms"
            case finishReason = "finish_reason"
        }
    }

    public var schema: String
    /// SHA-256 of the request's canonical body (with the sample index, past the first sample).
    public var key: String
    /// Who asked (persona and listing), for people reading the file.
    public var label: String
    public var request: JSONValue
    public var response: Answer
    public var recordedAt: String
    /// Free text for people; e.g. "sample written by hand, not captured traffic".
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case schema, key, label, request, response, note
        case recordedAt = "recorded_at"
    }

    public init(request: ChatRequest, response: ChatResponse, recordedAt: Date = Date(), note: String? = nil) {
        self.schema = Self.schemaVersion
        self.key = request.recordingKey
        self.label = request.label
        self.request = request.canonicalBody
        self.response = Answer(
            text: response.text, model: response.model, backend: response.backend,
            inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens,
            costUSD: response.costUSD, latencyMS: response.latency.milliseconds,
            ttftMS: response.timeToFirstToken?.milliseconds, finishReason: response.finishReason)
        self.recordedAt = recordedAt.formatted(Date.ISO8601FormatStyle())
        self.note = note
    }

    /// The recorded answer as a response.
    public var chatResponse: ChatResponse {
        ChatResponse(
            text: response.text, model: response.model, backend: response.backend,
            usage: TokenUsage(inputTokens: response.inputTokens, outputTokens: response.outputTokens),
            costUSD: response.costUSD, latency: .milliseconds(response.latencyMS),
            timeToFirstToken: response.ttftMS.map { .milliseconds($0) },
            attempts: 1, finishReason: response.finishReason, replayed: true)
    }
}

/// A directory of recordings: `<sha256>.json`, one per request.
public struct RecordingStore: Sendable {
    public let directory: URL
    let redactor: Redactor

    public init(directory: URL, redactor: Redactor = Redactor()) {
        self.directory = directory
        self.redactor = redactor
    }

    /// Writes a recording atomically, with every secret the redactor knows removed.
    /// Creates the directory if needed and proves a file can be written in it, so a directory that
    /// cannot hold recordings is refused before any call is paid for.
    public func checkWritable() throws(RecordingError) {
        let probe = directory.appendingPathComponent(".panel-write-check-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data().write(to: probe, options: .withoutOverwriting)
            try FileManager.default.removeItem(at: probe)
        } catch {
            throw RecordingError(path: directory.path, detail: "cannot write recordings here (\(error.localizedDescription))")
        }
    }

    public func save(_ recording: Recording) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // JSON: Foundation both ways — a recording is a Codable file people diff; written and read only here.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = redactor.redact(String(decoding: try encoder.encode(recording), as: UTF8.self)) + "\n"
        // Through the one writer of every file panel writes: whole or nothing, never through a planted link.
        try AtomicFile.write(text, to: directory.appendingPathComponent("\(recording.key).json").path)
    }

    /// Loads every recording in the directory, by key. Files that are not recordings are errors
    /// naming the file, so a damaged fixture is found rather than silently skipped.
    public func loadAll() throws -> [String: Recording] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecordingError(path: directory.path, detail: "no such directory of recordings")
        }
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
        var recordings: [String: Recording] = [:]
        let decoder = JSONDecoder()
        for file in files {
            do {
                let recording = try decoder.decode(Recording.self, from: Data(contentsOf: file))
                guard recording.schema == Recording.schemaVersion else {
                    throw RecordingError(path: file.path, detail: "schema \(recording.schema) is not \(Recording.schemaVersion)")
                }
                recordings[recording.key] = recording
            } catch let error as RecordingError {
                throw error
            } catch {
                throw RecordingError(path: file.path, detail: "not a readable recording (\(error))")
            }
        }
        return recordings
    }
}

/// A recording file or directory that cannot be used.
public struct RecordingError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var detail: String

    public var description: String { "\(path): \(detail)" }
}
