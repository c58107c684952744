public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

/// The one HTTP stack every provider adapter shares, with one connection pool per process: whole
/// answers from plain `http://` servers (local and in-cluster model servers) go through
/// ``PlainHTTP1Client``; `https://` and streamed answers through AsyncHTTPClient. Adapters build bodies
/// and read answers; the transport sends, enforces the whole call's deadline and turns network
/// failures into ``BackendError``s.
public struct HTTPTransport: Sendable {
    let client: HTTPClient
    let plain: PlainHTTP1Client

    /// The process-wide transport: one connection pool for every adapter.
    public static let shared = HTTPTransport(client: makeClient())

    /// A client that reports a refused connection at once, instead of retrying it until the call's
    /// deadline: retries are the retry policy's decision, with the error class in hand.
    public static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        // No redirects: a 3xx is reported with its status, like the plain client does. Following one would
        // re-post the prompt (and for a cross-origin 307/308, the key's headers) to wherever it points.
        configuration.redirectConfiguration = .disallow
        // No distributed tracing: panel has no tracer, and the span bookkeeping cost CPU on every call.
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public init(client: HTTPClient) {
        self.client = client
        self.plain = PlainHTTP1Client(group: client.eventLoopGroup)
    }

    /// A response whose body has been read in full.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: Data

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// The most an answer may weigh, whole or streamed.
    public static let maxBodyBytes = 16 * 1024 * 1024

    static func makeRequest(url: String, headers: [(String, String)], body: Data) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "panel/1")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    /// POSTs a JSON body and reads the whole answer, all within `timeout`.
    public func post(
        url: String,
        headers: [(String, String)],
        body: Data,
        backend: String,
        timeout: Duration
    ) async throws -> Response {
        if let target = plain.target(url) {
            return try await plain.post(target, headers: headers, body: body, backend: backend, timeout: timeout)
        }
        let request = Self.makeRequest(url: url, headers: headers, body: body)
        return try await withDeadline(timeout, backend: backend) {
            let response = try await mapErrors(backend: backend) {
                try await client.execute(request, timeout: TimeAmount(timeout))
            }
            let bytes = try await mapErrors(backend: backend) {
                try await response.body.collect(upTo: Self.maxBodyBytes)
            }
            return Response(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Data(bytes.readableBytesView)
            )
        }
    }

    /// GETs a small resource (a server's model list, for detection) within `timeout`; the body is read
    /// up to 1 MiB.
    public func get(url: String, headers: [(String, String)] = [], backend: String, timeout: Duration) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "user-agent", value: "panel/1")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let prepared = request
        return try await withDeadline(timeout, backend: backend) {
            let response = try await mapErrors(backend: backend) { try await client.execute(prepared, timeout: TimeAmount(timeout)) }
            let bytes = try await mapErrors(backend: backend) { try await response.body.collect(upTo: 1024 * 1024) }
            return Response(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                body: Data(bytes.readableBytesView))
        }
    }

    /// POSTs a JSON body and hands the answer's head and body chunks to `consume` as they arrive,
    /// all within `timeout`. `consume` returns the value of the whole call.
    public func postStreaming<T: Sendable>(
        url: String,
        headers: [(String, String)],
        body: Data,
        backend: String,
        timeout: Duration,
        consume: @escaping @Sendable (_ status: Int, _ headers: [(name: String, value: String)], _ chunks: StreamedBody) async throws -> T
    ) async throws -> T {
        let request = Self.makeRequest(url: url, headers: headers, body: body)
        return try await withDeadline(timeout, backend: backend) {
            let response = try await mapErrors(backend: backend) {
                try await client.execute(request, timeout: TimeAmount(timeout))
            }
            return try await consume(
                Int(response.status.code),
                response.headers.map { ($0.name, $0.value) },
                StreamedBody(body: response.body, backend: backend)
            )
        }
    }

    /// Runs `body`, failing with a timeout when it has not finished within `limit`; cancels it then.
    ///
    /// The deadline is a timer on the client's event loop, cancelled (and freed) the moment the call
    /// ends. A sleeping task would do the same job, but a cancelled `Task.sleep` keeps its timer until
    /// the deadline passes: in a batch that was a few hundred bytes per call, held for the whole
    /// timeout, and memory grew with the batch.
    public func withDeadline<T: Sendable>(
        _ limit: Duration,
        backend: String,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let expired = OnceFlag()
        let task = Task { try await body() }
        let timer = client.eventLoopGroup.any().scheduleTask(in: TimeAmount(limit)) {
            expired.set()
            task.cancel()
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
        } catch {
            if expired.isSet { throw BackendError.timeout(backend: backend, after: limit) }
            throw error
        }
    }
}

/// The body of a streamed answer: byte chunks as they arrive, with network errors classified.
public struct StreamedBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let body: HTTPClientResponse.Body
    let backend: String

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: HTTPClientResponse.Body.AsyncIterator
        let backend: String
        let limit: Int
        var received = 0

        /// The next chunk; an answer that grows past the limit (an endless stream, one endless line) fails
        /// the call — for good: asking again would stream as much again.
        public mutating func next() async throws -> [UInt8]? {
            var inner = self.inner
            defer { self.inner = inner }
            let backend = self.backend
            do {
                guard let buffer = try await inner.next() else { return nil }
                received += buffer.readableBytes
                if received > limit {
                    var error = BackendError(
                        kind: .invalidResponse, backend: backend,
                        detail: "the streamed answer grew past \(limit >> 20) MiB; it was not read further")
                    error.permanent = true
                    throw error
                }
                return Array(buffer.readableBytesView)
            } catch let error as BackendError {
                throw error
            } catch {
                throw classify(error, backend: backend)
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: body.makeAsyncIterator(), backend: backend, limit: limit)
    }

    /// The most the stream may carry in all.
    var limit: Int = HTTPTransport.maxBodyBytes

    /// Reads the rest of the body as text (for error responses), up to a limit.
    public func collectText(limit: Int = 64 * 1024) async throws -> String {
        var bytes: [UInt8] = []
        for try await chunk in self {
            bytes.append(contentsOf: chunk)
            if bytes.count >= limit { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

func mapErrors<T>(backend: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw classify(error, backend: backend)
    }
}

/// Turns whatever the HTTP stack threw into a ``BackendError``.
func classify(_ error: any Error, backend: String) -> any Error {
    if let error = error as? BackendError { return error }
    if error is CancellationError { return BackendError.cancelled(backend: backend) }
    if let error = error as? HTTPClientError {
        switch error {
        case .cancelled: return BackendError.cancelled(backend: backend)
        case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
            return BackendError(kind: .timeout, backend: backend, detail: "\(error)")
        case .remoteConnectionClosed:
            return BackendError.connection(backend: backend, detail: "the server closed the connection before the answer was complete")
        case .invalidURL, .emptyHost, .emptyScheme:
            return BackendError(kind: .badRequest, backend: backend, detail: "the base URL is not a valid http(s) URL (\(error))")
        default:
            return BackendError.connection(backend: backend, detail: "\(error)")
        }
    }
    if error is ChannelError || error is IOError {
        return BackendError.unreachable(backend: backend, detail: "cannot connect (\(error))")
    }
    // A TLS failure's own text is the TLS library's error stack (with its build paths): say what failed and
    // what to check instead, with the error's case name only.
    let type = String(reflecting: Swift.type(of: error))
    if type.contains("SSL") || type.contains("TLS") {
        let name = String("\(error)".prefix { $0.isLetter || $0.isNumber || $0 == "." })
        return BackendError.connection(
            backend: backend,
            detail:
                "the TLS handshake failed (\(name.isEmpty ? "TLS error" : name)); check that the base URL's scheme matches the server (https or http) and that its certificate is valid"
        )
    }
    return BackendError.connection(backend: backend, detail: String(describing: error))
}
