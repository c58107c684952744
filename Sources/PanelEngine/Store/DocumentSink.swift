import Foundation
public import ModelBackends
public import PanelKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where finished documents go: a directory of files today, the store for a team server. Addresses
/// are what the sink and the store's item records share (a file path for a directory).
public protocol DocumentSink: Sendable {
    /// Where the documents go, for messages.
    var location: String { get }

    /// Gets ready for a run: creates what is missing and removes what an interrupted run left behind.
    /// Returns how many leftovers were removed. Fails before any call when the sink cannot be written.
    func prepare() throws -> Int

    /// The address of a document of that name (without extension) and format.
    func address(name: String, format: DocumentFormat) -> String

    /// The address of a named file beside the documents (`summary.json`).
    func address(file: String) -> String

    /// True when something already holds the address.
    func exists(_ address: String) -> Bool

    /// Every address something holds now, read at once — nil when the sink cannot list them (then
    /// ``exists(_:)`` answers for each).
    func occupied() -> Set<String>?

    /// Writes a whole document: afterwards the address holds all of it, or what it held before.
    func write(_ text: String, to address: String) throws

    /// Writes what `body` appends, in pieces, as one whole document.
    func write(to address: String, _ body: (AtomicFile.Writer) async throws -> Void) async throws

    /// Removes a document (an earlier run's, about to be replaced).
    func remove(_ address: String)
}

extension DocumentSink {
    public func occupied() -> Set<String>? { nil }
}

/// Documents as files in a directory, each written through ``AtomicFile``.
public struct DirectorySink: DocumentSink {
    /// The directory's path, without a trailing slash.
    public let path: String

    public init(path: String) {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.path = path
    }

    public var location: String { path }

    public func prepare() throws -> Int {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw SinkError(description: "the output directory \(path) is a file, not a directory; choose another --out")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SinkError(description: "cannot create the output directory \(path): \(error.localizedDescription)")
        }
        let removed = AtomicFile.removeLeftovers(in: path)
        // Found now, not after every call was paid for.
        let probe = "\(path)/.panel-write-check.\(getpid())"
        do {
            try AtomicFile.write("", to: probe)
            unlink(probe)
        } catch {
            throw SinkError(description: "the output directory \(path) cannot be written: \(error)")
        }
        return removed
    }

    public func address(name: String, format: DocumentFormat) -> String { "\(path)/\(name).\(format.fileExtension)" }

    public func address(file: String) -> String { "\(path)/\(file)" }

    /// `access(2)`: a batch asks this for every name it reserves, and FileManager's check costs more.
    public func exists(_ address: String) -> Bool { access(address, F_OK) == 0 }

    /// The directory's entries, one `readdir` pass: a batch queuing 500 listings asked `access(2)` 500
    /// times for their names (each a path walk and a negative dentry: 2.7 ms before its first call).
    public func occupied() -> Set<String>? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var addresses = Set<String>()
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { addresses.insert("\(path)/\(name)") }
        }
        return addresses
    }

    public func write(_ text: String, to address: String) throws { try AtomicFile.write(text, to: address) }

    public func write(to address: String, _ body: (AtomicFile.Writer) async throws -> Void) async throws {
        try await AtomicFile.write(to: address, body)
    }

    public func remove(_ address: String) { try? FileManager.default.removeItem(atPath: address) }
}

/// A sink that cannot be used.
public struct SinkError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension DocumentFormat {
    /// The file extension of a document in this format.
    public var fileExtension: String {
        switch self {
        case .markdown: return "md"
        case .html: return "html"
        case .json: return "json"
        }
    }
}

/// The one writer of a listing's documents into a sink — a batch finishing a listing, a batch writing
/// what other processes finished, `panel jobs export`: each format from the text kept for it, else
/// rendered from the kept JSON document with the job's templates.
public enum DocumentWriter {
    /// What writing one listing's documents came to: files written, and each format that failed, why.
    public struct Outcome: Sendable {
        public var written = 0
        public var failures: [(format: DocumentFormat, reason: String)] = []
    }

    /// Writes a listing's documents in `formats` under `name`; `texts` are the kept texts by file
    /// extension. `missingOnly`: a format whose file the sink holds already is left as it is.
    public static func write(
        name: String, texts: [String: String], formats: [DocumentFormat], to sink: any DocumentSink, templates: DocumentTemplates,
        source: String, missingOnly: Bool = false
    ) -> Outcome {
        var outcome = Outcome()
        var decoded: ReviewDocument?
        for format in formats {
            let address = sink.address(name: name, format: format)
            if missingOnly, sink.exists(address) { continue }
            do {
                let text: String
                if let kept = texts[format.fileExtension] {
                    text = kept
                } else if let json = texts[DocumentFormat.json.fileExtension] {
                    if decoded == nil { decoded = try JSONDocumentRenderer.decode(Data(json.utf8), source: source) }
                    guard let document = decoded else { continue }
                    text = format.render(document, templates: templates)
                } else {
                    continue
                }
                try sink.write(text, to: address)
                outcome.written += 1
            } catch {
                outcome.failures.append((format, "\(error)"))
            }
        }
        return outcome
    }
}
