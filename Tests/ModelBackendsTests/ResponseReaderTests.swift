import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import ModelBackends

/// ``PlainHTTP1Client/ResponseReader``: every answer read whole, in every split of its bytes, and — for
/// the valid ones — as NIO's HTTP/1.1 decoder (llhttp), which it replaced, reads them.
struct ResponseReaderTests {
    typealias Reader = PlainHTTP1Client.ResponseReader
    typealias Failure = PlainHTTP1Client.Failure

    struct Read: Equatable {
        var status: Int
        var headers: [String]
        var body: String
        var reusable: Bool
    }

    /// Feeds `text` in pieces of `split` bytes (the whole at once for 0), then the connection's end when
    /// `close`; returns what the reader made of it.
    static func read(_ text: String, split: Int = 0, close: Bool = false, maxBodyBytes: Int = 1 << 20) -> Result<Read?, Failure> {
        var reader = Reader(maxBodyBytes: maxBodyBytes)
        let bytes = Array(text.utf8)
        let pieces =
            split == 0 ? [bytes[...]] : stride(from: 0, to: bytes.count, by: split).map { bytes[$0..<min($0 + split, bytes.count)] }
        do {
            for piece in pieces {
                if let answer = try reader.read(ByteBuffer(bytes: piece)) { return .success(Read(answer)) }
            }
            return .success(try close ? reader.readEnd().map(Read.init) : nil)
        } catch {
            return .failure(error)
        }
    }

    /// Valid answers, each with what must be read from it.
    static let valid: [(text: String, read: Read, close: Bool)] = [
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
            Read(status: 200, headers: ["Content-Type: application/json", "Content-Length: 7"], body: "{\"a\":1}", reusable: true), false
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\nA\r\n0123456789\r\n0\r\nx-trailer: t\r\n\r\n",
            Read(status: 200, headers: ["transfer-encoding: chunked"], body: "hello world0123456789", reusable: true), false
        ),
        (
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
            Read(status: 201, headers: ["content-length: 2"], body: "{}", reusable: true), false
        ),
        (
            "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil close",
            Read(status: 200, headers: ["connection: close"], body: "until close", reusable: false), true
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc",
            Read(status: 200, headers: ["content-length: 3", "connection: close"], body: "abc", reusable: false), false
        ),
        (
            "HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nabc",
            Read(status: 200, headers: ["content-length: 3"], body: "abc", reusable: false), false
        ),
        (
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 3\r\n\r\nabc",
            Read(status: 200, headers: ["Connection: Keep-Alive", "content-length: 3"], body: "abc", reusable: true), false
        ),
        ("HTTP/1.1 204 No Content\r\n\r\n", Read(status: 204, headers: [], body: "", reusable: true), false),
        ("HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\n\r\n", Read(status: 304, headers: ["etag: \"x\""], body: "", reusable: true), false),
        (
            "HTTP/1.1 429 Too Many Requests\r\nretry-after:2\r\ncontent-length: 0\r\n\r\n",
            Read(status: 429, headers: ["retry-after: 2", "content-length: 0"], body: "", reusable: true), false
        ),
        (
            "HTTP/1.1 200 \r\nx-empty:\r\nx-spaces:  \t v  \r\ncontent-length: 1\r\n\r\nz",
            Read(status: 200, headers: ["x-empty: ", "x-spaces: v", "content-length: 1"], body: "z", reusable: true), false
        ),
        (
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\nerror",
            Read(status: 500, headers: ["content-length: 5"], body: "error", reusable: true), false
        ),
    ]

    @Test func everyValidAnswerIsReadInEverySplit() throws {
        for (text, expected, close) in Self.valid {
            for split in [0, 1, 2, 3, 7, 16] {
                let read = Self.read(text, split: split, close: close)
                #expect(read == .success(expected), "\(text.debugDescription) in pieces of \(split)")
            }
        }
    }

    /// The same answers through NIO's decoder: status, headers, body and keep-alive agree.
    @Test func nioDecoderReadsTheSame() throws {
        for (text, expected, close) in Self.valid {
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
            // The decoder learns the request's method from the request head written past it.
            try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")))
            try channel.writeInbound(ByteBuffer(string: text))
            if close { try? channel.close().wait() }
            var parts: [HTTPClientResponsePart] = []
            while let part = try channel.readInbound(as: HTTPClientResponsePart.self) { parts.append(part) }
            var final: HTTPResponseHead?
            var body = ""
            for part in parts {
                switch part {
                case .head(let head) where head.status.code >= 200: final = head
                case .head: continue
                case .body(let chunk): body += String(buffer: chunk)
                case .end: break
                }
            }
            let head = try #require(final, "\(text.debugDescription)")
            #expect(Int(head.status.code) == expected.status)
            // llhttp keeps the whitespace after a value; RFC 9112 §5 has it stripped, as the reader does.
            let headers = head.headers.map { "\($0.name): \($0.value.trimmingCharacters(in: [" ", "\t"]))" }
            #expect(headers == expected.headers, "\(text.debugDescription)")
            #expect(body == expected.body)
            #expect(head.isKeepAlive == expected.reusable || close, "\(text.debugDescription)")
            _ = try? channel.finish()
        }
    }

    @Test func informationalOnlyIsNotAnAnswer() {
        #expect(Self.read("HTTP/1.1 100 Continue\r\n\r\n") == .success(nil))
        #expect(
            Self.read("HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n")
                == .failure(.invalidResponse("an unrequested 101 Switching Protocols")))
    }

    @Test func bareLineFeedsAndFoldedLinesAreRead() {
        #expect(
            Self.read("HTTP/1.1 200 OK\ncontent-length: 2\nx-folded: a\n  b\n\nok", split: 1)
                == .success(Read(status: 200, headers: ["content-length: 2", "x-folded: a b"], body: "ok", reusable: true)))
    }

    @Test func transferEncodingOverridesContentLengthAndTheConnectionIsNotReused() {
        #expect(
            Self.read("HTTP/1.1 200 OK\r\ncontent-length: 99\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
                == .success(
                    Read(status: 200, headers: ["content-length: 99", "transfer-encoding: chunked"], body: "ok", reusable: false)))
        // A coding other than chunked last: the body runs to the close.
        #expect(
            Self.read("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nzz", close: true)
                == .success(Read(status: 200, headers: ["transfer-encoding: gzip"], body: "zz", reusable: false)))
    }

    @Test func bytesAfterTheAnswerMeanTheConnectionIsNotReused() {
        #expect(
            Self.read("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA")
                == .success(Read(status: 200, headers: ["content-length: 2"], body: "ok", reusable: false)))
    }

    @Test func malformedAnswersAreRefused() {
        let cases: [(String, String)] = [
            ("SSH-2.0-OpenSSH_9.6\r\n\r\n", "the status line does not start with HTTP/1.x"),
            ("HTTP/2 200\r\n\r\n", "the status line does not start with HTTP/1.x"),
            ("HTTP/1.1 2000 OK\r\n\r\n", "a malformed status line"),
            ("HTTP/1.1 OK\r\n\r\n", "the status line does not start with HTTP/1.x"),
            ("HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok", "a header field name with a character HTTP forbids"),
            ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "a header line without a field name and ':'"),
            ("HTTP/1.1 200 OK\r\nx: a\u{1}b\r\ncontent-length: 0\r\n\r\n", "a header field value with a control character"),
            ("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok", "two content-length fields"),
            ("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok", "two content-length fields"),
            ("HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\nok", "content-length '-2' is not a number"),
            ("HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok", "content-length '2, 2' is not a number"),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "a chunk size that is not hexadecimal"),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n;x\r\n", "a chunk without a size"),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokk\r\n0\r\n\r\n", "a chunk longer than its size"),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\n", "a chunk size too large"),
            (" HTTP/1.1 200 OK\r\n\r\n", "the status line does not start with HTTP/1.x"),
            // As llhttp: no whitespace after the size.
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n", "a chunk size that is not hexadecimal"),
        ]
        for (text, detail) in cases {
            for split in [0, 1] {
                #expect(Self.read(text, split: split) == .failure(.invalidResponse(detail)), "\(text.debugDescription)")
            }
        }
    }

    @Test func headsAndBodiesHaveLimits() {
        let longHead = "HTTP/1.1 200 OK\r\n" + String(repeating: "x-pad: \(String(repeating: "p", count: 1000))\r\n", count: 90)
        #expect(Self.read(longHead) == .failure(.invalidResponse("a head longer than 80 KiB")))
        #expect(Self.read(longHead, split: 4096) == .failure(.invalidResponse("a head longer than 80 KiB")))
        // Declared too long: refused at the head, before any of the body.
        #expect(Self.read("HTTP/1.1 200 OK\r\ncontent-length: 2048\r\n\r\n", maxBodyBytes: 1024) == .failure(.tooLarge(limit: 1024)))
        let chunks = String(repeating: "100\r\n\(String(repeating: "c", count: 256))\r\n", count: 5)
        #expect(
            Self.read("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n", maxBodyBytes: 1024)
                == .failure(.tooLarge(limit: 1024)))
        #expect(
            Self.read("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "u", count: 2000), split: 100, close: true, maxBodyBytes: 1024)
                == .failure(.tooLarge(limit: 1024)))
        #expect(
            Self.read("HTTP/1.1 200 OK\r\ncontent-length: 1024\r\n\r\n" + String(repeating: "e", count: 1024), maxBodyBytes: 1024)
                .map { $0?.body.count } == .success(1024))
    }

    @Test func aConnectionThatClosesEarlyCutsTheAnswerShort() {
        #expect(Self.read("", close: true) == .success(nil))
        for text in [
            "HTTP/1.1 200", "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n",
        ] {
            #expect(Self.read(text, close: true) == .failure(.closedBeforeAnswer), "\(text.debugDescription)")
        }
    }

    @Test func aReaderReadsOneAnswerAfterAnother() throws {
        var reader = Reader(maxBodyBytes: 1024)
        for body in ["one", "second", ""] {
            let answer = try reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"))
            #expect(answer.map(Read.init)?.body == body)
        }
        // A reset drops a half-read answer.
        #expect(try reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\npart")) == nil)
        reader.reset()
        #expect(try reader.read(ByteBuffer(string: "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")).map(Read.init)?.status == 202)
    }
}

extension ResponseReaderTests.Read {
    init(_ answer: PlainHTTP1Client.Answer) {
        self.init(
            status: answer.response.status, headers: answer.response.headers.map { "\($0.name): \($0.value)" },
            body: String(decoding: answer.response.body, as: UTF8.self), reusable: answer.reusable)
    }
}
