import Foundation
import NIOCore

extension PlainHTTP1Client {
    /// The request as it goes on the wire: the target's request line and fixed headers (made once per
    /// URL), the call's headers, `content-length` and the body, in one buffer. Written here rather than
    /// by NIO's request encoder and its header validator, which were a third of an exchange's CPU
    /// (a header at a time through `HTTPHeaders`, then each byte checked again); the same rule holds —
    /// a header name must be an RFC 9110 token and a value may hold no control character but a tab
    /// (no line break can start another header) — checked while the bytes are copied. A header that
    /// breaks it fails the call before anything is sent.
    static func requestBytes(_ target: Target, headers: [(String, String)], body: Data) throws(Failure) -> ByteBuffer {
        var length = target.requestPrefix.count + body.count + 40
        for (name, value) in headers { length += name.utf8.count + value.utf8.count + 4 }
        var buffer = ByteBufferAllocator().buffer(capacity: length)
        buffer.writeBytes(target.requestPrefix)
        for (name, value) in headers {
            guard isToken(name), isFieldValue(value) else { throw .invalidHeader(name: isToken(name) ? name : "?") }
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("content-length: ")
        buffer.writeString(String(body.count))
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }

    /// RFC 9110's `token` (a header name): letters, digits and ``!#$%&'*+-.^_`|~``.
    static func isToken(_ text: String) -> Bool { !text.isEmpty && text.utf8.allSatisfy(isTokenByte) }

    /// A byte of a `token`; the one rule for the names the client writes and the names it reads.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A header value with no control character but a tab (no CR, LF or NUL above all).
    static func isFieldValue(_ text: String) -> Bool { text.utf8.allSatisfy(isFieldValueByte) }

    /// A byte a header value may hold, written or read: no control character but a tab.
    static func isFieldValueByte(_ byte: UInt8) -> Bool { byte >= 0x20 && byte != 0x7F || byte == UInt8(ascii: "\t") }

    /// The head's first part for a URL: `POST <path> HTTP/1.1`, `host`, `content-type` and `user-agent`.
    static func requestPrefix(path: String, authority: String) -> [UInt8] {
        Array("POST \(path) HTTP/1.1\r\nhost: \(authority)\r\ncontent-type: application/json\r\nuser-agent: panel/1\r\n".utf8)
    }
}
