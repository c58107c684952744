import Foundation

/// Splits text that starts with YAML front matter between `---` lines from its body.
enum FrontMatter {
    enum Failure: Error {
        case noOpening
        case noClosing
    }

    /// Returns the front matter's YAML and the body after it.
    static func split(_ text: String) throws(Failure) -> (yaml: String, body: String) {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n")
        if lines.first?.hasPrefix("\u{FEFF}") == true { lines[0].removeFirst() }
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---" else { throw .noOpening }
        guard let end = lines.dropFirst().firstIndex(where: { ["---", "..."].contains($0.trimmingCharacters(in: .whitespaces)) })
        else { throw .noClosing }
        return (lines[1..<end].joined(separator: "\n"), lines[(end + 1)...].joined(separator: "\n"))
    }
}
