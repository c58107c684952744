import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore

/// A local server speaking OpenAI-compatible chat completions (plain and SSE) on 127.0.0.1, with
/// knobs for latency, jitter and faults, and canned or generated answers. Tests use it for the real
/// HTTP path; benchmarks use it as a provider with known latency.
public enum MockProvider {
    /// A running mock server.
    public struct Handle: Sendable {
        public let port: Int
        public let stats: MockProviderStats
        /// `http://127.0.0.1:PORT/v1`, the base URL an OpenAI-compatible client wants.
        public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    }

    /// Starts a server on an ephemeral port, runs `body` with it, and stops it.
    public static func withServer<T: Sendable>(
        _ configuration: MockProviderConfiguration = MockProviderConfiguration(),
        _ body: @escaping @Sendable (Handle) async throws -> T
    ) async throws -> T {
        let stats = MockProviderStats()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await serve(configuration, port: 0, stats: stats) { portContinuation.yield($0) }
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let handle = Handle(port: port, stats: stats)
            group.addTask { try await body(handle) }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    /// Serves until cancelled. `onReady` receives the bound port.
    public static func serve(
        _ configuration: MockProviderConfiguration,
        host: String = "127.0.0.1",
        port: Int,
        stats: MockProviderStats = MockProviderStats(),
        onReady: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let router = Router()
        let chat = ChatCompletions(configuration: configuration, stats: stats)
        router.post("/v1/chat/completions") { request, _ in try await chat.respond(request) }
        router.post("/chat/completions") { request, _ in try await chat.respond(request) }
        // Azure: deployment URLs and the /openai/v1 form.
        router.post("/openai/deployments/:deployment/chat/completions") { request, _ in try await chat.respond(request) }
        router.post("/openai/v1/chat/completions") { request, _ in try await chat.respond(request) }
        router.post("/v1/messages") { request, _ in try await chat.respond(request, format: .anthropic) }
        router.post("/api/chat") { request, _ in try await chat.respond(request, format: .ollama) }
        router.post("/v1beta/models/:action") { request, context in
            let action = context.parameters.get("action") ?? ""
            let model = String(action.prefix { $0 != ":" })
            return try await chat.respond(request, format: .gemini(stream: action.hasSuffix(":streamGenerateContent"), model: model))
        }
        router.get("/v1/models") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: "{\"object\":\"list\",\"data\":[{\"id\":\"\(configuration.model)\",\"object\":\"model\"}]}")))
        }
        router.get("/_mock/stats") { _, _ in
            let snapshot = stats.snapshot
            let body =
                "{\"chat_requests\":\(snapshot.chatRequests),\"faults\":\(snapshot.faults),\"peak_in_flight\":\(snapshot.peakInFlight)}"
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var logger = Logger(label: "panel-mock-provider")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in onReady(channel.localAddress?.port ?? port) },
            logger: logger)
        try await app.run()
    }
}
