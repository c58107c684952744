public import Foundation
import ModelBackends

/// The document templates (Mustache): `review.md.mustache` and `review.html.mustache`, built into the
/// binary from the repository's `templates/`, each overridable by a file of the same name in a
/// `--templates DIR`.
///
/// `{{x}}` escapes in both: HTML metacharacters as entities in HTML, backslash escapes in Markdown where
/// Markdown would read something into the text (``TemplateEscaping/markdown``);
/// `{{{x}}}` writes text unescaped and is for trusted text only.
public struct DocumentTemplates: Sendable {
    public static let markdownFile = "review.md.mustache"
    public static let htmlFile = "review.html.mustache"

    let markdown: Template
    let html: Template
    public let source: String
    /// Template file name → SHA-256 of its text, for provenance.
    public let hashes: [String: String]

    /// The built-in templates, parsed once per process.
    public static func builtIn() -> DocumentTemplates { parsedBuiltIn }

    private static let parsedBuiltIn: DocumentTemplates = {
        do {
            return try DocumentTemplates(files: DefaultTemplates.files, source: "built-in")
        } catch {
            preconditionFailure("the built-in templates do not parse: \(error)")
        }
    }()

    /// Loads a directory; a template it does not hold comes from the built-in set.
    public static func load(directory: URL) throws(TemplateError) -> DocumentTemplates {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TemplateError(file: directory.path, problem: "no such directory of templates")
        }
        var files = DefaultTemplates.files
        for name in [markdownFile, htmlFile] {
            let path = directory.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw TemplateError(file: path, problem: "cannot be read as UTF-8 text")
            }
            files[name] = text
        }
        return try DocumentTemplates(files: files, source: directory.path)
    }

    /// The template files by name, as read: what a queued job carries to the workers that render it.
    public let files: [String: String]

    /// Templates from their files' text (`review.md.mustache`, `review.html.mustache`); `source` names
    /// where they came from in messages.
    public init(files: [String: String], source: String) throws(TemplateError) {
        self.files = files
        func template(_ name: String, escaping: TemplateEscaping) throws(TemplateError) -> Template {
            do {
                return try Template(files[name] ?? "", escaping: escaping)
            } catch {
                throw TemplateError(file: "\(source)/\(name)", problem: "is not a valid Mustache template (\(error))")
            }
        }
        markdown = try template(Self.markdownFile, escaping: .markdown)
        html = try template(Self.htmlFile, escaping: .html)
        self.source = source
        var hashes: [String: String] = [:]
        for name in [Self.markdownFile, Self.htmlFile] { hashes[name] = ContentHash.sha256(files[name] ?? "") }
        self.hashes = hashes
    }

    public func renderMarkdown(_ document: ReviewDocument) -> String {
        Self.tidy(markdown.render(DocumentViewModel.make(document)))
    }

    public func renderHTML(_ document: ReviewDocument) -> String {
        html.render(DocumentViewModel.make(document))
    }

    /// At most one blank line in a row (a line of only spaces and tabs is blank and written empty), no
    /// blank lines at the start or the end, and one newline at the end.
    static func tidy(_ text: String) -> String {
        var text = text
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + 1)
        text.withUTF8 { bytes in
            var previousBlank = true  // no blank line at the start
            var pendingBlank = false
            var start = 0
            guard let base = bytes.baseAddress else { return }
            while start < bytes.count {
                // The line's end found by memchr, and whether it is blank by its first bytes alone (a line of
                // text has a letter first).
                var end = bytes.count
                if let found = memchr(base + start, 0x0A, bytes.count - start) {
                    end = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
                }
                var first = start
                while first < end, bytes[first] == UInt8(ascii: " ") || bytes[first] == UInt8(ascii: "\t") { first += 1 }
                let blank = first == end
                defer { start = end + 1 }
                if blank {
                    if !previousBlank { pendingBlank = true }
                    previousBlank = true
                    continue
                }
                if pendingBlank { output.append(UInt8(ascii: "\n")) }
                pendingBlank = false
                previousBlank = false
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
                output.append(UInt8(ascii: "\n"))
            }
        }
        if output.isEmpty { output.append(UInt8(ascii: "\n")) }
        // Whole lines of a string, cut at newlines.
        return String(validUTF8: output)
    }
}

public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problem: String
    public var description: String { "\(file): \(problem)" }
}
