import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

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

    /// Starts a server on an ephemeral port and runs `body` with it.
    ///
    /// When `body` returns, handlers still waiting out their latency answer at once, but the server
    /// itself keeps listening until the process ends: SwiftNIO's debug builds trap when a connection
    /// is accepted while a server's async channel shuts down, a race no client can rule out. Test
    /// processes are short-lived; each server costs one idle socket.
    public static func withServer<T: Sendable>(
        _ configuration: MockProviderConfiguration = MockProviderConfiguration(),
        _ body: @escaping @Sendable (Handle) async throws -> T
    ) async throws -> T {
        let stats = MockProviderStats()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        Task.detached {
            do {
                try await serve(configuration, port: 0, stats: stats) { portContinuation.yield($0) }
            } catch {
                portContinuation.finish()
            }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw MockProviderError.couldNotStart }
        let handle = Handle(port: port, stats: stats)
        do {
            let result = try await body(handle)
            await drain(stats)
            return result
        } catch {
            await drain(stats)
            throw error
        }
    }

    /// Lets handlers still waiting on their latency answer and finish.
    static func drain(_ stats: MockProviderStats) async {
        stats.beginShutdown()
        for _ in 0..<200 where stats.snapshot.inFlight > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
        try? await Task.sleep(for: .milliseconds(20))  // the last response bytes reach the socket
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
        // Gemini, under both API versions (google-genai and panel default to v1; v1beta is an option).
        for version in ["v1", "v1beta"] {
            router.post("/\(version)/models/:action") { request, context in
                let action = context.parameters.get("action") ?? ""
                let model = String(action.prefix { $0 != ":" })
                return try await chat.respond(request, format: .gemini(stream: action.hasSuffix(":streamGenerateContent"), model: model))
            }
        }
        router.get("/v1/models") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string:
                            "{\"object\":\"list\",\"data\":[{\"id\":\"\(configuration.model)\",\"object\":\"model\",\"owned_by\":\"panel-mock-provider\"}]}"
                    )))
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

/// The mock server could not start (no free port, or the event loop refused).
public enum MockProviderError: Error {
    case couldNotStart
}

extension MockProvider {
    /// A loopback port nothing listens on, for "the provider is down" tests: a socket is bound to it
    /// and never listens, so connecting is refused at once — and the socket stays open for the life
    /// of the process, so no other server can be handed the same port meanwhile.
    public static func unusedPort() -> Int {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return 9 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : 9
    }
}
