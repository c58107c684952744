import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection that sends exactly the bytes a test writes — a request target no client library
/// would normalise (`//v1/reviews`, `/./v1/…`), half a request's headers — and reads what comes back.
/// Every read has a deadline (a bound on a hang, never a speed the machine must reach) and blocks a
/// Dispatch thread, never one of Swift concurrency's few (the server under test runs on those).
final class RawConnection: @unchecked Sendable {
    let socket: Int32

    init(port: Int, timeout: TimeInterval = 120) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw RawHTTPError.failed("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(socket)
            throw RawHTTPError.failed("connect to port \(port)")
        }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(socket) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawHTTPError.failed("send") }
            sent += n
        }
    }

    /// Bytes as they come: nil at the end of the stream (the server closed), or when the read deadline passed.
    func readBlocking() -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n), as: UTF8.self)
    }

    /// True when the server closed the connection (end of stream or reset) before the deadline.
    func closedByServerBlocking() -> Bool {
        while true {
            var byte: UInt8 = 0
            let n = Glibc.recv(socket, &byte, 1, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    /// Reads one whole response (headers, and a body of Content-Length bytes, or to the end of the stream).
    func responseBlocking() -> RawResponse? {
        var text = ""
        while true {
            if let end = text.range(of: "\r\n\r\n") {
                let head = String(text[..<end.lowerBound])
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
                if let length, text[end.upperBound...].utf8.count >= length {
                    return RawResponse(head: head, body: String(text[end.upperBound...]))
                }
            }
            guard let more = readBlocking() else {
                guard let end = text.range(of: "\r\n\r\n") else { return nil }
                return RawResponse(head: String(text[..<end.lowerBound]), body: String(text[end.upperBound...]))
            }
            text += more
        }
    }

    /// Runs a blocking read on a Dispatch thread.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in DispatchQueue.global().async { continuation.resume(returning: body()) } }
    }

    func read() async -> String? { await Self.offPool { self.readBlocking() } }
    func closedByServer() async -> Bool { await Self.offPool { self.closedByServerBlocking() } }
    func response() async -> RawResponse? { await Self.offPool { self.responseBlocking() } }

    /// Sends a request and reads its response on a new connection.
    static func exchange(port: Int, _ request: String) async throws -> RawResponse {
        let connection = try RawConnection(port: port)
        try connection.send(request)
        guard let response = await connection.response() else { throw RawHTTPError.failed("no response to \(request.prefix(40))") }
        return response
    }
}

struct RawResponse: Sendable {
    let head: String
    let body: String
    var status: Int { Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0 }
}

enum RawHTTPError: Error { case failed(String) }
