import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MockProvider
import ModelBackends
import NIOCore
import PanelEngine
import PanelKit
import PanelServer
import PanelStore
import Testing

/// A team server on a fresh SQLite store and the mock provider, live on an ephemeral port, with one
/// token per role.
struct ServerHarness: Sendable {
    let client: any TestClientProtocol
    let store: MemoryStore
    let server: TeamServer
    let admin: String
    let editor: String
    let viewer: String
    let mock: MockProvider.Handle

    static func with(
        options: ServerOptions = ServerOptions(port: 0, workerPollInterval: .milliseconds(50)),
        mock configuration: MockProviderConfiguration = MockProviderConfiguration(),
        stream: Bool = true, routed: Bool = false, approveContradicted: PanelConfiguration.ContradictedApproval = .confirm,
        checkClaims: Bool = false,
        now: @escaping @Sendable () -> Date = { Date() }, rateWindows: (any RateWindows)? = nil,
        _ body: @escaping @Sendable (ServerHarness) async throws -> Void
    ) async throws {
        try await MockProvider.withServer(configuration) { mock in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-server-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = MemoryStore()
            // Routed: two backends on the mock, the router choosing per call.
            var configuration = PanelConfiguration(
                backends: (routed ? ["mock", "mock-b"] : ["mock"]).map {
                    BackendConfiguration(
                        name: $0, kind: .openai, baseURL: mock.baseURL, model: "m", price: Price(inputPerMTok: 1, outputPerMTok: 2))
                },
                defaultBackend: routed ? PanelConfiguration.routerName : "mock")
            configuration.approveContradicted = approveContradicted
            if checkClaims { configuration.claimCheckBackend = "mock" }
            let settings = BackendSettings(source: .configuration(configuration), cacheMode: .off, environment: [:])
            let backends = try EngineBackends(settings, cache: nil)
            let engine = ReviewEngine(
                settings: .resolved(ReviewOverrides(stream: stream), configuration: configuration), backends: backends)
            var logger = Logger(label: "panel-serve-test")
            logger.logLevel = .warning
            let server = TeamServer(
                store: store, engine: engine, backendSettings: settings, options: options, logger: logger, now: now,
                rateWindows: rateWindows)
            let admin = try await TeamTokens.create(in: store, name: "root", role: .admin, budgetUSD: nil).secret
            let editor = try await TeamTokens.create(in: store, name: "ann", role: .editor, budgetUSD: nil).secret
            let viewer = try await TeamTokens.create(in: store, name: "val", role: .viewer, budgetUSD: nil).secret
            try await server.makeApplication().test(.live) { client in
                try await body(
                    ServerHarness(
                        client: client, store: store, server: server, admin: admin, editor: editor, viewer: viewer, mock: mock))
            }
        }
    }

    /// A request, with `token` as its bearer.
    func request(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: String? = nil, contentType: String = "application/json",
        headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = contentType }
        return try await client.executeRequest(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// Asks for a review of these listings as the editor and waits for it to be done (its event stream
    /// ends after `done`); returns its id and the stream's text.
    func review(_ listings: [[String: String]], token: String? = nil) async throws -> (id: String, events: String) {
        let body = JSONValue.object(["listings": .array(listings.map { .object($0.mapValues(JSONValue.string)) })]).canonicalText()
        let created = try await request(.post, "/v1/reviews", token: token ?? editor, body: body)
        #expect(created.status == .accepted, "\(created.text)")
        let id = try #require(JSONValue.parse(created.text)?["id"]?.stringValue)
        let events = try await request(.get, "/v1/reviews/\(id)/events", token: token ?? editor)
        #expect(events.status == .ok)
        return (id, events.text)
    }

    static let ollama = [
        "name": "Ollama", "tagline": "Run models locally", "description": "One command turns a model name into a local server.",
    ]
    static let vllm = [
        "name": "vLLM", "tagline": "Serving at scale", "description": "A high-throughput inference engine for large models.",
    ]
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: JSONValue? { JSONValue.parse(text) }
}

/// Server-Sent Events text → (name, data) pairs.
func parseEvents(_ text: String) -> [(name: String, data: JSONValue)] {
    text.components(separatedBy: "\n\n").compactMap { block in
        var name: String?
        var data = ""
        for line in block.split(separator: "\n") {
            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data += line.dropFirst(6) }
        }
        guard let name, let value = JSONValue.parse(data) else { return nil }
        return (name, value)
    }
}

/// The repository's openapi.yaml, as the server serves it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
