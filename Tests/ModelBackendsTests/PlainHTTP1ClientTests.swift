import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ModelBackends

#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.1 server on 127.0.0.1 for transport tests: each complete request gets the next
/// scripted reply, written byte for byte, after which the connection stays open, is closed, or stalls.
final class ScriptedHTTPServer: Sendable {
    struct Reply: Sendable {
        enum After: Sendable { case keepOpen, close, stall }
        var bytes: String
        var after: After = .keepOpen
        /// Written this long after the request arrived.
        var delay: TimeAmount = .zero
    }

    let channel: any Channel
    let connections = Mutex(0)
    let requests = Mutex<[String]>([])
    let script: @Sendable (Int) -> Reply
    /// Written the moment a connection opens, before any request (a server that is not what the client expects).
    let greeting: String?

    var port: Int { channel.localAddress?.port ?? 0 }
    var url: String { "http://127.0.0.1:\(port)/v1/chat/completions" }

    init(greeting: String? = nil, script: @escaping @Sendable (Int) -> Reply) async throws {
        self.script = script
        self.greeting = greeting
        let box = Mutex<ScriptedHTTPServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { return }
                    server.connections.withLock { $0 += 1 }
                    try channel.pipeline.syncOperations.addHandler(Handler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.withLock { $0 = self }
    }

    func close() async {
        try? await channel.close()
    }

    /// Reads whole requests (head and Content-Length body) and answers each with the next reply.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let server: ScriptedHTTPServer
        var pending: [UInt8] = []
        var stalled = false

        init(server: ScriptedHTTPServer) { self.server = server }

        func channelActive(context: ChannelHandlerContext) {
            if let greeting = server.greeting {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: greeting)), promise: nil)
                context.close(promise: nil)
            }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += unwrapInboundIn(data).readableBytesView
            while !stalled, let request = takeRequest() {
                let index = server.requests.withLock { requests in
                    requests.append(request)
                    return requests.count - 1
                }
                let reply = server.script(index)
                guard reply.delay == .zero else {
                    let bytes = wrapOutboundOut(ByteBuffer(string: reply.bytes))
                    context.eventLoop.assumeIsolated().scheduleTask(in: reply.delay) { [context] in
                        context.writeAndFlush(bytes, promise: nil)
                        if reply.after == .close { context.close(promise: nil) }
                    }
                    continue
                }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply.bytes)), promise: nil)
                switch reply.after {
                case .keepOpen: break
                case .close: context.close(promise: nil)
                case .stall: stalled = true
                }
            }
        }

        typealias OutboundOut = ByteBuffer

        func takeRequest() -> String? {
            let text = String(decoding: pending, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { return nil }
            let head = text[..<end.lowerBound].lowercased()
            let length =
                head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let headBytes = text[..<end.upperBound].utf8.count
            guard pending.count >= headBytes + length else { return nil }
            let request = String(decoding: pending[..<(headBytes + length)], as: UTF8.self)
            pending.removeFirst(headBytes + length)
            return request
        }
    }
}

struct PlainHTTP1ClientTests {
    static func ok(_ body: String, headers: String = "") -> String {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\(headers)\r\n\(body)"
    }

    func post(
        _ client: PlainHTTP1Client, _ server: ScriptedHTTPServer, body: String = #"{"q":1}"#, timeout: Duration = .seconds(120)
    ) async throws -> HTTPTransport.Response {
        try await client.post(
            #require(PlainHTTP1Client.Target(server.url)), headers: [("authorization", "Bearer k")], body: Data(body.utf8),
            backend: "local", timeout: timeout)
    }

    func backendError(_ body: () async throws -> Void) async -> BackendError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? BackendError
        }
    }

    @Test func targetsArePlainHTTPOnly() throws {
        let target = try #require(PlainHTTP1Client.Target("http://127.0.0.1:8080/v1/chat/completions"))
        #expect(target.host == "127.0.0.1" && target.port == 8080 && target.path == "/v1/chat/completions")
        #expect(target.authority == "127.0.0.1:8080")
        // An IP address is connected to as it is; a name is resolved at each connect.
        #expect(target.address?.ipAddress == "127.0.0.1" && target.address?.port == 8080)
        let bare = try #require(PlainHTTP1Client.Target("HTTP://Example.com"))
        #expect(bare.host == "Example.com" && bare.port == 80 && bare.path == "/")
        #expect(bare.address == nil)
        let six = try #require(PlainHTTP1Client.Target("http://[::1]:9/x?y=1"))
        #expect(six.host == "::1" && six.port == 9 && six.path == "/x?y=1" && six.authority == "[::1]:9")
        #expect(six.address?.ipAddress == "::1" && six.address?.port == 9)
        let query = try #require(PlainHTTP1Client.Target("http://h?k=v"))
        #expect(query.path == "/?k=v")
        for url in [
            "https://api.openai.com/v1", "http://user:pw@h/", "http://h:99999/", "http://h:x/", "http:///x", "http://h/#f", "ftp://h/",
            "http://h/a b", "http://h/a\r\nx-injected: 1", "http://h\t/",
        ] {
            #expect(PlainHTTP1Client.Target(url) == nil, "\(url)")
        }
    }

    /// A streamed answer that never stops growing fails the call once it passes the answer limit — for
    /// good (never retried) — instead of filling memory (879 MB in 15 s before).
    @Test func aStreamedAnswerHasASizeCap() async throws {
        let line = "data: {\"choices\":[{\"delta\":{\"content\":\"" + String(repeating: "x", count: 1000) + "\"}}]}\n\n"
        let body = String(repeating: line, count: (HTTPTransport.maxBodyBytes / line.utf8.count) + 64)
        let server = try await ScriptedHTTPServer { _ in
            .init(bytes: "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: \(body.utf8.count)\r\n\r\n" + body)
        }
        let backend = OpenAICompatibleBackend(
            .init(name: "local", baseURL: "http://127.0.0.1:\(server.port)/v1", model: "m", structuredOutput: .none))
        let request = ChatRequest(messages: [.user("hi")], stream: true)
        let error = await backendError { _ = try await backend.respond(to: request) }
        #expect(error?.permanent == true && error?.detail.contains("grew past") == true, "\(String(describing: error))")
        #expect(error.map(RetryPolicy.isRetryable) == false)
        await server.close()
    }

    /// A streamed request is never re-posted where a 307/308 points (the prompt and its key headers would
    /// go to another origin): the redirect is reported with its status.
    @Test func streamedRequestsFollowNoRedirects() async throws {
        let elsewhere = try await ScriptedHTTPServer { _ in .init(bytes: Self.ok("{}")) }
        let server = try await ScriptedHTTPServer { _ in
            .init(bytes: "HTTP/1.1 307 Temporary Redirect\r\nlocation: \(elsewhere.url)\r\ncontent-length: 0\r\n\r\n")
        }
        let backend = OpenAICompatibleBackend(
            .init(name: "local", baseURL: "http://127.0.0.1:\(server.port)/v1", model: "m", apiKey: "sk-redirect-key-123456"))
        let error = await backendError { _ = try await backend.respond(to: ChatRequest(messages: [.user("hi")], stream: true)) }
        #expect(error?.status == 307, "\(String(describing: error))")
        #expect(elsewhere.requests.withLock { $0.count } == 0)
        await server.close()
        await elsewhere.close()
    }

    /// A 302 is what it is — a redirect panel does not follow, never retried — not "a server error, try
    /// again".
    @Test func aRedirectIsReportedAsSuch() async throws {
        let server = try await ScriptedHTTPServer { _ in
            .init(bytes: "HTTP/1.1 302 Found\r\nlocation: http://elsewhere.example/v1\r\ncontent-length: 0\r\n\r\n")
        }
        let backend = OpenAICompatibleBackend(.init(name: "local", baseURL: "http://127.0.0.1:\(server.port)/v1", model: "m"))
        let error = await backendError { _ = try await backend.complete(ChatRequest(messages: [.user("hi")])) }
        #expect(error?.status == 302 && error?.kind == .badRequest && error?.detail.contains("redirect") == true)
        #expect(error.map(RetryPolicy.isRetryable) == false)
        await server.close()
    }

    /// An https URL pointing at a server that does not speak TLS fails with a sentence saying what to
    /// check — not the TLS library's error stack with its build paths.
    @Test func aTLSFailureIsDescribedWithoutTheLibrarysText() async throws {
        let server = try await ScriptedHTTPServer(greeting: "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n") { _ in
            .init(bytes: Self.ok("{}"))
        }
        let backend = OpenAICompatibleBackend(
            // The handshake fails as soon as the plaintext greeting arrives; the deadline only bounds a hang,
            // so it is long enough that a loaded machine never turns the failure into a timeout.
            .init(name: "tls", baseURL: "https://127.0.0.1:\(server.port)/v1", model: "m", timeout: .seconds(120)))
        let error = await backendError { _ = try await backend.complete(ChatRequest(messages: [.user("hi")])) }
        let text = error?.description ?? ""
        #expect(text.contains("TLS handshake failed") && text.contains("https or http"), "\(text)")
        #expect(!text.contains("/"), "\(text)")  // no build paths (nor any path) from the TLS library
        await server.close()
    }

    /// At most `maxPerServer` connections to one server: further calls wait for a connection to come
    /// back and use it, and every call is answered.
    @Test func connectionsPerServerAreCapped() async throws {
        let server = try await ScriptedHTTPServer { index in .init(bytes: Self.ok(#"{"n":\#(index)}"#), delay: .milliseconds(20)) }
        let client = PlainHTTP1Client(maxPerServer: 2)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 { group.addTask { try await post(client, server).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(server.connections.withLock { $0 } == 2)
        await server.close()
    }

    /// A kept-alive connection the server closes after answering is not used again: the next call goes
    /// out on a new connection and is answered (whether the client saw the close first, or found it
    /// when the write failed and retried once on a new connection).
    @Test func aConnectionTheServerClosedIsReplaced() async throws {
        let server = try await ScriptedHTTPServer { index in .init(bytes: Self.ok(#"{"n":\#(index)}"#), after: .close) }
        let client = PlainHTTP1Client()
        for index in 0..<3 {
            let response = try await post(client, server)
            #expect(response.status == 200 && response.bodyText == #"{"n":\#(index)}"#)
        }
        #expect(server.requests.withLock { $0.count } == 3)  // never sent twice
        await server.close()
    }

    @Test func keepAliveConnectionsAreReused() async throws {
        let server = try await ScriptedHTTPServer { index in .init(bytes: Self.ok(#"{"n":\#(index)}"#)) }
        let client = PlainHTTP1Client()
        for index in 0..<5 {
            let response = try await post(client, server)
            #expect(response.status == 200)
            #expect(response.bodyText == #"{"n":\#(index)}"#)
            #expect(response.header("Content-Type") == "application/json")
        }
        #expect(server.connections.withLock { $0 } == 1)
        let request = try #require(server.requests.withLock { $0.first })
        #expect(request.hasPrefix("POST /v1/chat/completions HTTP/1.1\r\n"))
        #expect(request.lowercased().contains("host: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("authorization: Bearer k\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{\"q\":1}"))
        client.shutdownIdle()
        await server.close()
    }

    /// A server named by its host name (not an IP address) is reached through the resolver.
    @Test func aServerNamedByItsHostNameIsReached() async throws {
        let server = try await ScriptedHTTPServer { _ in .init(bytes: Self.ok("{}")) }
        let client = PlainHTTP1Client()
        let target = try #require(PlainHTTP1Client.Target("http://localhost:\(server.port)/v1/chat/completions"))
        #expect(target.address == nil)
        let response = try await client.post(target, headers: [], body: Data("{}".utf8), backend: "local", timeout: .seconds(120))
        #expect(response.status == 200)
        let request = try #require(server.requests.withLock { $0.first })
        #expect(request.contains("host: localhost:\(server.port)\r\n"))
        client.shutdownIdle()
        await server.close()
    }

    /// The request's bytes, written by the client itself: the request line, the fixed headers, the call's
    /// headers in order, `content-length`, the body — byte for byte.
    @Test func theRequestIsWrittenByteForByte() async throws {
        let server = try await ScriptedHTTPServer { _ in .init(bytes: Self.ok("{}")) }
        let client = PlainHTTP1Client()
        let body = #"{"q":"é\t"}"#
        _ = try await client.post(
            #require(PlainHTTP1Client.Target(server.url + "?api-version=1")),
            headers: [("authorization", "Bearer k"), ("x-title", "a\tb é")], body: Data(body.utf8), backend: "local",
            timeout: .seconds(120))
        let request = try #require(server.requests.withLock { $0.first })
        #expect(
            request == "POST /v1/chat/completions?api-version=1 HTTP/1.1\r\nhost: 127.0.0.1:\(server.port)\r\n"
                + "content-type: application/json\r\nuser-agent: panel/1\r\nauthorization: Bearer k\r\nx-title: a\tb é\r\n"
                + "content-length: \(body.utf8.count)\r\n\r\n" + body)
        client.shutdownIdle()
        await server.close()
    }

    /// A header whose name or value could end the header early (a line break, NUL, another control
    /// character) or is not a token fails the call for good before anything is sent, and the message
    /// names the header but never repeats its value (it may be a key).
    @Test func aHeaderHTTPForbidsIsNeverSent() async throws {
        let server = try await ScriptedHTTPServer { _ in .init(bytes: Self.ok("{}")) }
        let client = PlainHTTP1Client()
        let target = try #require(PlainHTTP1Client.Target(server.url))
        for (name, value) in [
            ("authorization", "Bearer sk-secret\r\nx-injected: 1"), ("authorization", "sk-secret\n"), ("x-key", "sk-secret\u{0}"),
            ("x-key", "sk-secret\u{7F}"), ("bad name", "v"), ("x:y", "v"), ("", "v"),
        ] {
            let error = await backendError {
                _ = try await client.post(target, headers: [(name, value)], body: Data("{}".utf8), backend: "local", timeout: .seconds(120))
            }
            #expect(error?.kind == .badRequest && error?.permanent == true, "\(name)")
            #expect(error?.detail.contains("nothing was sent") == true)
            #expect(error.map { !"\($0)".contains("sk-secret") } == true)
        }
        #expect(server.connections.withLock { $0 } == 0)
        #expect(server.requests.withLock { $0.isEmpty })
        await server.close()
    }

    @Test func chunkedCloseDelimitedAndInformationalAnswers() async throws {
        let server = try await ScriptedHTTPServer { index in
            switch index {
            case 0: .init(bytes: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
            case 1: .init(bytes: "HTTP/1.1 100 Continue\r\n\r\n" + Self.ok("after continue"))
            case 2: .init(bytes: "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil close", after: .close)
            default: .init(bytes: Self.ok("fresh"))
            }
        }
        let client = PlainHTTP1Client()
        #expect(try await post(client, server).bodyText == "hello world")
        #expect(try await post(client, server).bodyText == "after continue")
        #expect(try await post(client, server).bodyText == "until close")
        // The closed connection is not reused.
        #expect(try await post(client, server).bodyText == "fresh")
        #expect(server.connections.withLock { $0 } == 2)
        client.shutdownIdle()
        await server.close()
    }

    @Test func errorStatusesAreAnswersNotFailures() async throws {
        let server = try await ScriptedHTTPServer { _ in
            .init(bytes: "HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\ncontent-length: 2\r\n\r\n{}")
        }
        let client = PlainHTTP1Client()
        let response = try await post(client, server)
        #expect(response.status == 429 && response.header("retry-after") == "2")
        client.shutdownIdle()
        await server.close()
    }

    @Test func aStalledAnswerMeetsTheDeadline() async throws {
        // Headers and the first bytes at once, then nothing: the deadline covers the whole body.
        let server = try await ScriptedHTTPServer { _ in
            .init(bytes: "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"partial\":", after: .stall)
        }
        let client = PlainHTTP1Client()
        let error = await backendError { _ = try await post(client, server, timeout: .milliseconds(300)) }
        #expect(error?.kind == .timeout)
        #expect(error?.backend == "local")
        await server.close()
    }

    @Test func aBodyCutShortIsAConnectionError() async throws {
        let server = try await ScriptedHTTPServer { _ in
            .init(bytes: "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"partial\":", after: .close)
        }
        let client = PlainHTTP1Client()
        let error = await backendError { _ = try await post(client, server) }
        #expect(error?.kind == .connection)
        #expect(error?.detail.contains("closed the connection before the answer was complete") == true)
        await server.close()
    }

    @Test func anOversizedAnswerIsRefused() async throws {
        let server = try await ScriptedHTTPServer { _ in .init(bytes: Self.ok(String(repeating: "x", count: 4096))) }
        let client = PlainHTTP1Client(maxBodyBytes: 1024)
        let error = await backendError { _ = try await post(client, server) }
        #expect(error?.kind == .invalidResponse)
        #expect(error?.detail.contains("larger than 1024 bytes") == true)
        await server.close()
    }

    @Test func garbageIsAnInvalidResponse() async throws {
        let server = try await ScriptedHTTPServer { _ in .init(bytes: "SSH-2.0-OpenSSH_9.6\r\n\r\n", after: .close) }
        let client = PlainHTTP1Client()
        let error = await backendError { _ = try await post(client, server) }
        #expect(error?.kind == .invalidResponse)
        #expect(error?.detail.contains("not a valid HTTP/1.1 answer") == true)
        await server.close()
    }

    @Test func cancellationStopsTheCall() async throws {
        let server = try await ScriptedHTTPServer { _ in .init(bytes: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", after: .stall) }
        let client = PlainHTTP1Client()
        let task = Task { await backendError { _ = try await post(client, server) } }
        while server.requests.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        #expect(await task.value?.kind == .cancelled)
        await server.close()
    }

    @Test func aServerThatIsDownIsAConnectionError() async throws {
        // A port bound but not listening: connecting is refused, and no other test's server can take the
        // port meanwhile (a closed server's port was once handed to another test's listener, which answered).
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                Glibc.bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        try #require(bound)
        let url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/v1/chat/completions"
        let client = PlainHTTP1Client()
        let error = await backendError {
            _ = try await client.post(
                #require(PlainHTTP1Client.Target(url)), headers: [], body: Data(), backend: "local", timeout: .seconds(120))
        }
        #expect(error?.kind == .connection)
        #expect(error?.detail.contains("cannot connect") == true)
    }
}
