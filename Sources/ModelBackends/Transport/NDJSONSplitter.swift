import Foundation

/// Splits a byte stream into lines (newline-delimited JSON), however the bytes are chunked.
public struct NDJSONSplitter: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == 0x0A {
                if let line = take() { lines.append(line) }
            } else {
                buffer.append(byte)
            }
        }
        return lines
    }

    public mutating func finish() -> [String] {
        take().map { [$0] } ?? []
    }

    private mutating func take() -> String? {
        defer { buffer.removeAll(keepingCapacity: true) }
        let line = String(decoding: buffer, as: UTF8.self).trimmingCharacters(in: .whitespaces.union(.init(charactersIn: "\r")))
        return line.isEmpty ? nil : line
    }
}
