import Foundation
import MockProvider
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Traces: off by default; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `panel batch` sends its spans over
/// OTLP/HTTP — each listing's claim, its personas, every backend attempt with GenAI attributes, the saves
/// and the document — and they reach the receiver before the command exits.
@Suite(.timeLimit(.minutes(3)))
struct TracesCLITests {
    @Test func spansGoToTheOTLPEndpointOnlyWhenAsked() async throws {
        let cli = PanelCLITests()
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await MockProvider.withServer { mock in
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("panel-traces-\(UUID().uuidString)").path
            let args = [
                "batch", PanelCLITests.azure, "--out", out, "--base-url", mock.baseURL, "--model", "m", "--store", out + ".sqlite",
                "--quiet",
            ]
            let quiet = try await cli.panel(args, unset: ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"])
            #expect(quiet.code == 0, "\(quiet.stderr)")
            #expect(receiver.bodies.isEmpty)

            let traced = try await cli.panel(
                args + ["--job", "traced"],
                environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)", "OTEL_SERVICE_NAME": "panel-test"])
            #expect(traced.code == 0, "\(traced.stderr)")
            let received = receiver.bodies
            #expect(!received.isEmpty && received.allSatisfy { $0.path == "/v1/traces" && $0.contentType.contains("protobuf") })
            // Protobuf keeps strings as they are: the spans' names and attributes are in the bodies' bytes.
            let text = String(decoding: received.reduce(into: Data()) { $0.append($1.body) }, as: UTF8.self)
            let expected = [
                "panel-test", "claim traced", "persona builder", "persona futurist", "chat m", "gen_ai.operation.name",
                "gen_ai.request.model", "gen_ai.usage.input_tokens", "save result", "document", "finish item",
            ]
            let missing = expected.filter { !text.contains($0) }
            #expect(missing.isEmpty, "not in the spans received: \(missing)")
        }
    }

    @Test func anExporterSwiftOTelLacksIsSaidAndTracesStayOff() async throws {
        let cli = PanelCLITests()
        let listings = try cli.temporaryFile("in.jsonl", #"{"name": "Ollama", "description": "Run models locally."}"# + "\n")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("panel-traces-\(UUID().uuidString)").path
        let result = try await cli.panel(
            ["batch", listings, "--out", out, "--replay", PanelCLITests.recordings, "--store", out + ".sqlite", "--quiet"],
            environment: ["OTEL_TRACES_EXPORTER": "console"])
        #expect(result.code == 0 || result.code == 3, "\(result.stderr)")
        #expect(result.stderr.contains("OTEL_TRACES_EXPORTER=console") && result.stderr.contains("otlp"), "\(result.stderr)")
    }
}

/// An OTLP/HTTP endpoint on 127.0.0.1 that keeps every request's path, content type and body and
/// answers 200 — enough to see what `panel` sends (a thread of its own, plain sockets).
final class OTLPReceiver: Sendable {
    struct Received: Sendable {
        var path: String
        var contentType: String
        var body: Data
    }

    let port: Int
    let socket: Int32
    let received = Mutex<[Received]>([])

    var bodies: [Received] { received.withLock { $0 } }

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw CocoaError(.fileWriteUnknown) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socket = fd
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }

    func serve() {
        while true {
            let client = accept(socket, nil, nil)
            guard client >= 0 else { return }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            // Requests on one connection, one after another (keep-alive).
            while true {
                while Self.complete(data) == nil {
                    let n = read(client, &buffer, buffer.count)
                    if n <= 0 { break }
                    data.append(contentsOf: buffer[0..<n])
                }
                guard let (request, end) = Self.complete(data) else { break }
                received.withLock { $0.append(request) }
                data = data.subdata(in: end..<data.count)
                let reply = Array("HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n".utf8)
                _ = write(client, reply, reply.count)
            }
            close(client)
        }
    }

    /// A whole request at the start of `data`: what it was, and where it ends.
    static func complete(_ data: Data) -> (Received, Int)? {
        guard let headerEnd = data.range(of: Data("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: data[data.startIndex..<headerEnd.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        var length = 0
        var type = ""
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0].lowercased() == "content-length" { length = Int(parts[1]) ?? 0 }
            if parts[0].lowercased() == "content-type" { type = parts[1] }
        }
        let end = headerEnd.upperBound + length
        guard data.count >= end else { return nil }
        return (Received(path: path, contentType: type, body: data.subdata(in: headerEnd.upperBound..<end)), end)
    }
}
