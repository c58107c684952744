import Foundation
import ModelBackends

/// Splits text that starts with YAML front matter between `---` lines from its body.
enum FrontMatter {
    enum Failure: Error {
        case noOpening
        case noClosing
    }

    /// Returns the front matter's YAML and the body after it. CRLF line ends read as LF; a byte-order
    /// mark before the first line is dropped; the opening line is `---` and the closing one `---` or
    /// `...`, each with any spaces around it.
    ///
    /// Read as bytes, line by line: the four built-in personas are split at every start of panel, and
    /// Foundation's line splitting and joining cost ~1.8M instructions a file.
    static func split(_ text: String) throws(Failure) -> (yaml: String, body: String) {
        var bytes = Array(text.utf8)
        if bytes.contains(UInt8(ascii: "\r")) { bytes = withoutCarriageReturnsBeforeNewlines(bytes) }
        let newline = UInt8(ascii: "\n")
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let firstEnd = bytes[start...].firstIndex(of: newline) ?? bytes.count
        guard isFence(bytes[start..<firstEnd], closing: false) else { throw .noOpening }
        guard firstEnd < bytes.count else { throw .noClosing }
        let yamlStart = firstEnd + 1
        var lineStart = yamlStart
        while true {
            let end = bytes[lineStart...].firstIndex(of: newline) ?? bytes.count
            if isFence(bytes[lineStart..<end], closing: true) {
                // The lines between the fences, and those after the closing one, as they were joined.
                let yaml = lineStart > yamlStart ? Array(bytes[yamlStart..<(lineStart - 1)]) : []
                let body = end < bytes.count ? Array(bytes[(end + 1)...]) : []
                return (String(validUTF8: yaml), String(validUTF8: body))
            }
            guard end < bytes.count else { throw .noClosing }
            lineStart = end + 1
        }
    }

    /// `---` (or, closing, `...`) with only whitespace around it — Foundation's `.whitespaces`, so a
    /// line with a non-ASCII byte around the marker is trimmed by Foundation itself.
    static func isFence(_ line: ArraySlice<UInt8>, closing: Bool) -> Bool {
        guard line.count >= 3 else { return false }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = line.firstIndex(where: { !isBlank($0) }), let last = line.lastIndex(where: { !isBlank($0) }) else {
            return false
        }
        if line[first] >= 0x80 || line[last] >= 0x80 {
            let trimmed = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            return trimmed == "---" || (closing && trimmed == "...")
        }
        let core = line[first...last]
        return core.elementsEqual("---".utf8) || (closing && core.elementsEqual("...".utf8))
    }

    /// The bytes with every `\r` that comes right before a `\n` removed.
    static func withoutCarriageReturnsBeforeNewlines(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated()
        where !(byte == UInt8(ascii: "\r") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n")) {
            out.append(byte)
        }
        return out
    }
}
