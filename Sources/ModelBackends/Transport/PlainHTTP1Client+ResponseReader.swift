import Foundation
import NIOCore

extension PlainHTTP1Client {
    /// Reads a connection's answers from its bytes as they arrive (RFC 9112): the status line, the header
    /// fields, and a body framed by `content-length`, by chunks (`transfer-encoding: chunked`) or by the
    /// connection's close. Informational answers (1xx) before the real one are skipped.
    ///
    /// Written here rather than taken from NIO's decoder, which built a head object, a header store and a
    /// message part per answer and went through llhttp's callbacks — about a twentieth of a batch's CPU.
    /// The rules a client relies on hold: a malformed status line, header line or chunk size is refused;
    /// `transfer-encoding` overrides `content-length` (and such an answer's connection is not reused);
    /// a `content-length` must be digits, once; an answer longer than `maxBodyBytes` — declared or read — is refused
    /// before its body is kept; a head longer than ``maxHeadBytes`` is refused; HTTP/1.0 keeps a connection
    /// only on `connection: keep-alive`, HTTP/1.1 unless `connection: close`. A line may end in CRLF or a
    /// bare LF (RFC 9112 §2.2). An obsolete folded header line is joined to the field before it with a space.
    struct ResponseReader {
        /// The most a head (status line and header fields) may weigh; llhttp's limit is 80 KiB too.
        static let maxHeadBytes = 80 * 1024

        enum Framing: Equatable {
            /// 204, 304: nothing follows the head.
            case none
            case length(Int)
            case chunked
            case untilClose
        }

        private struct Head {
            var status: Int
            var headers: [(name: String, value: String)]
            var keepAlive: Bool
            var framing: Framing
        }

        private enum ChunkState {
            case size
            case data(remaining: Int)
            case dataEnd
            case trailers
        }

        let maxBodyBytes: Int
        /// Bytes received and not yet consumed.
        private var pending: ByteBuffer?
        /// How far the search for the head's end has already looked in `pending`.
        private var scanned = 0
        private var head: Head?
        private var chunk = ChunkState.size
        private var body: ByteBuffer?
        private var bodyBytes = 0

        init(maxBodyBytes: Int) {
            self.maxBodyBytes = maxBodyBytes
        }

        /// Forgets anything read (a new exchange starts on a fresh reader state).
        mutating func reset() {
            pending = nil
            scanned = 0
            head = nil
            chunk = .size
            body = nil
            bodyBytes = 0
        }

        /// Takes the next bytes of the connection; returns the answer once it is complete. An answer
        /// followed by more bytes is complete but its connection is not reused (nothing was asked for them).
        mutating func read(_ bytes: ByteBuffer) throws(Failure) -> Answer? {
            if pending == nil || pending!.readableBytes == 0 {
                pending = bytes
            } else {
                var bytes = bytes
                pending!.writeBuffer(&bytes)
            }
            while true {
                if head == nil {
                    guard let parsed = try readHead() else { return nil }
                    if parsed.status < 200 {
                        // 101 would switch protocols, which no request here asks for.
                        if parsed.status == 101 { throw .invalidResponse("an unrequested 101 Switching Protocols") }
                        continue
                    }
                    if case .length(let length) = parsed.framing, length > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
                    head = parsed
                }
                return try readBody()
            }
        }

        /// The connection closed: an answer framed by the close ends here; one begun and not complete was
        /// cut short; nil when no byte of an answer had arrived.
        mutating func readEnd() throws(Failure) -> Answer? {
            guard let head else {
                if (pending?.readableBytes ?? 0) > 0 { throw .closedBeforeAnswer }
                return nil
            }
            guard head.framing == .untilClose else { throw .closedBeforeAnswer }
            return finish(head, reusable: false)
        }

        // MARK: The head

        /// The head, once its empty line has arrived; the bytes it took are consumed.
        private mutating func readHead() throws(Failure) -> Head? {
            guard var buffer = pending else { return nil }
            let found: (headEnd: Int, next: Int)? = buffer.withUnsafeReadableBytes { bytes in
                // The empty line: LF (CR) LF. The scan resumes two bytes back, where a split LF CR LF may start.
                var index = max(0, scanned - 2)
                while let lf = Self.index(of: UInt8(ascii: "\n"), in: bytes, from: index) {
                    var next = lf + 1
                    if next < bytes.count, bytes[next] == UInt8(ascii: "\r") { next += 1 }
                    if next < bytes.count, bytes[next] == UInt8(ascii: "\n") { return (lf + 1, next + 1) }
                    if next >= bytes.count { break }
                    index = lf + 1
                }
                return nil
            }
            // Refused as soon as more than the limit has arrived without the head's end, or the end lies past it.
            if (found?.headEnd ?? buffer.readableBytes) > Self.maxHeadBytes {
                throw .invalidResponse("a head longer than \(Self.maxHeadBytes / 1024) KiB")
            }
            guard let found else {
                scanned = buffer.readableBytes
                return nil
            }
            let head = try buffer.withUnsafeReadableBytes { bytes throws(Failure) in
                try Self.parseHead(UnsafeRawBufferPointer(rebasing: bytes[..<found.headEnd]))
            }
            buffer.moveReaderIndex(forwardBy: found.next)
            pending = buffer
            scanned = 0
            return head
        }

        private static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
            guard start < bytes.count, let base = bytes.baseAddress,
                let found = memchr(base + start, Int32(byte), bytes.count - start)
            else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }

        /// The status line and header lines, each ended by LF (CR stripped), up to the empty line.
        private static func parseHead(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> Head {
            var lines: [UnsafeRawBufferPointer] = []
            var start = 0
            while let lf = index(of: UInt8(ascii: "\n"), in: bytes, from: start) {
                var end = lf
                if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                lines.append(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                start = lf + 1
            }
            guard let statusLine = lines.first else { throw .invalidResponse("no status line") }
            let (minor, status) = try parseStatusLine(statusLine)
            var headers: [(name: String, value: String)] = []
            headers.reserveCapacity(lines.count - 1)
            var length: Int?
            /// The last transfer coding named (only the last frames the body).
            var lastCoding: String?
            var close = false
            var keepAliveToken = false
            for line in lines.dropFirst() {
                guard let first = line.first else { continue }
                if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                    // obs-fold: the line continues the field before it.
                    guard !headers.isEmpty else { throw .invalidResponse("a folded line before any header field") }
                    let more = try fieldValue(line)
                    if !more.isEmpty { headers[headers.count - 1].value += " " + more }
                    continue
                }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
                    throw .invalidResponse("a header line without a field name and ':'")
                }
                let nameBytes = UnsafeRawBufferPointer(rebasing: line[..<colon])
                guard nameBytes.allSatisfy(PlainHTTP1Client.isTokenByte) else {
                    throw .invalidResponse("a header field name with a character HTTP forbids")
                }
                let value = try fieldValue(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
                if equalsLowercase(nameBytes, "content-length") {
                    // Digits only, once (as llhttp: a list or a second field is refused, even of the same value).
                    guard length == nil else { throw .invalidResponse("two content-length fields") }
                    guard !value.isEmpty, value.utf8.count <= 18, value.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
                        let parsed = Int(value)
                    else { throw .invalidResponse("content-length '\(value.prefix(40))' is not a number") }
                    length = parsed
                } else if equalsLowercase(nameBytes, "transfer-encoding") {
                    if let last = value.split(separator: ",").last { lastCoding = last.trimmingCharacters(in: [" ", "\t"]).lowercased() }
                } else if equalsLowercase(nameBytes, "connection") {
                    for token in value.split(separator: ",") {
                        switch token.trimmingCharacters(in: [" ", "\t"]).lowercased() {
                        case "close": close = true
                        case "keep-alive": keepAliveToken = true
                        default: break
                        }
                    }
                }
                headers.append((String(decoding: nameBytes, as: UTF8.self), value))
            }
            var keepAlive = minor >= 1 ? !close : keepAliveToken && !close
            let framing: Framing
            if status < 200 || status == 204 || status == 304 {
                framing = .none
            } else if let lastCoding {
                // RFC 9112 §6.3: chunked last frames the body; any other coding, the close. Either way the
                // length, if any, is ignored and the connection not reused.
                framing = lastCoding == "chunked" ? .chunked : .untilClose
                if length != nil || framing == .untilClose { keepAlive = false }
            } else if let length {
                framing = .length(length)
            } else {
                framing = .untilClose
                keepAlive = false
            }
            return Head(status: status, headers: headers, keepAlive: keepAlive, framing: framing)
        }

        /// `HTTP/1.x SSS[ reason]`: the minor version and the status.
        private static func parseStatusLine(_ line: UnsafeRawBufferPointer) throws(Failure) -> (minor: Int, status: Int) {
            let prefix = "HTTP/1.".utf8
            guard line.count >= 12, line.starts(with: prefix) else {
                throw .invalidResponse("the status line does not start with HTTP/1.x")
            }
            let minor = line[7] &- UInt8(ascii: "0")
            let digits = (line[9] &- UInt8(ascii: "0"), line[10] &- UInt8(ascii: "0"), line[11] &- UInt8(ascii: "0"))
            guard minor < 10, line[8] == UInt8(ascii: " "), digits.0 < 10, digits.1 < 10, digits.2 < 10, digits.0 >= 1,
                line.count == 12 || line[12] == UInt8(ascii: " ")
            else { throw .invalidResponse("a malformed status line") }
            return (Int(minor), Int(digits.0) * 100 + Int(digits.1) * 10 + Int(digits.2))
        }

        /// A field's value without the whitespace around it; a control character but a tab is refused.
        private static func fieldValue(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> String {
            var start = 0
            var end = bytes.count
            while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
            while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            guard value.allSatisfy(PlainHTTP1Client.isFieldValueByte) else {
                throw .invalidResponse("a header field value with a control character")
            }
            return String(decoding: value, as: UTF8.self)
        }

        /// True when `bytes`, in ASCII lower case, are `name` (which is lower case).
        private static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
            guard bytes.count == name.utf8CodeUnitCount else { return false }
            let expected = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] { return false }
            return true
        }

        // MARK: The body

        private mutating func readBody() throws(Failure) -> Answer? {
            guard let head else { return nil }
            switch head.framing {
            case .none:
                return finish(head, reusable: head.keepAlive)
            case .length(let length):
                let wanted = length - bodyBytes
                let available = pending?.readableBytes ?? 0
                guard available >= wanted else {
                    take(available)
                    return nil
                }
                take(wanted)
                return finish(head, reusable: head.keepAlive)
            case .untilClose:
                let available = pending?.readableBytes ?? 0
                try keep(available)
                take(available)
                return nil
            case .chunked:
                return try readChunks(head)
            }
        }

        private mutating func readChunks(_ head: Head) throws(Failure) -> Answer? {
            while true {
                switch chunk {
                case .size:
                    guard let line = try takeLine() else { return nil }
                    let size = try Self.chunkSize(line)
                    if size == 0 {
                        chunk = .trailers
                    } else {
                        try keep(size)
                        chunk = .data(remaining: size)
                    }
                case .data(let remaining):
                    let available = pending?.readableBytes ?? 0
                    guard available > 0 else { return nil }
                    let count = min(available, remaining)
                    take(count)
                    chunk = remaining == count ? .dataEnd : .data(remaining: remaining - count)
                case .dataEnd:
                    guard let line = try takeLine() else { return nil }
                    guard line.isEmpty else { throw .invalidResponse("a chunk longer than its size") }
                    chunk = .size
                case .trailers:
                    // Trailer fields are read past and not kept; the empty line ends the answer.
                    guard let line = try takeLine() else { return nil }
                    if line.isEmpty { return finish(head, reusable: head.keepAlive) }
                }
            }
        }

        /// `hex-size[;extensions]` (no whitespace after the size: llhttp refuses it too).
        private static func chunkSize(_ line: [UInt8]) throws(Failure) -> Int {
            var size = 0
            var digits = 0
            for byte in line {
                let value: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte - UInt8(ascii: "A") + 10
                case UInt8(ascii: ";"):
                    guard digits > 0 else { throw .invalidResponse("a chunk without a size") }
                    return size
                default: throw .invalidResponse("a chunk size that is not hexadecimal")
                }
                digits += 1
                guard digits <= 15 else { throw .invalidResponse("a chunk size too large") }
                size = size << 4 | Int(value)
            }
            guard digits > 0 else { throw .invalidResponse("a chunk without a size") }
            return size
        }

        /// The next line of `pending` without its LF (and CR), consumed; nil until its LF has arrived.
        private mutating func takeLine() throws(Failure) -> [UInt8]? {
            guard var buffer = pending else { return nil }
            let found: (line: [UInt8], consumed: Int)? = buffer.withUnsafeReadableBytes { bytes in
                guard let lf = Self.index(of: UInt8(ascii: "\n"), in: bytes, from: 0) else { return nil }
                let end = lf > 0 && bytes[lf - 1] == UInt8(ascii: "\r") ? lf - 1 : lf
                return (Array(bytes[..<end]), lf + 1)
            }
            guard let found else {
                if buffer.readableBytes > 4096 { throw .invalidResponse("a chunk line longer than 4 KiB") }
                return nil
            }
            buffer.moveReaderIndex(forwardBy: found.consumed)
            pending = buffer
            return found.line
        }

        /// Fails when `count` more body bytes would pass the limit.
        private func keep(_ count: Int) throws(Failure) {
            guard bodyBytes + count <= maxBodyBytes else { throw .tooLarge(limit: maxBodyBytes) }
        }

        /// Moves `count` bytes of `pending` to the body.
        private mutating func take(_ count: Int) {
            guard count > 0, var slice = pending?.readSlice(length: count) else { return }
            bodyBytes += count
            if body == nil {
                body = slice
            } else {
                body!.writeBuffer(&slice)
            }
        }

        /// The answer; the reader is ready for the next one. Bytes left over mean the connection is out of
        /// step with its requests: it is not reused.
        private mutating func finish(_ head: Head, reusable: Bool) -> Answer {
            let bytes = body.map { body in body.withUnsafeReadableBytes { Data($0) } } ?? Data()
            let leftOver = (pending?.readableBytes ?? 0) > 0
            reset()
            return Answer(
                response: HTTPTransport.Response(status: head.status, headers: head.headers, body: bytes), reusable: reusable && !leftOver)
        }
    }
}
