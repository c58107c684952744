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

    /// Writes a whole document: afterwards the address holds all of it, or what it held before.
    func write(_ text: String, to address: String) throws

    /// Writes what `body` appends, in pieces, as one whole document.
    func write(to address: String, _ body: (AtomicFile.Writer) async throws -> Void) async throws

    /// Removes a document (an earlier run's, about to be replaced).
    func remove(_ address: String)
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
