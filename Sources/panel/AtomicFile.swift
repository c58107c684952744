import Foundation

/// Whole files or nothing: the bytes go to a temporary file next to the destination, which is then
/// renamed over it (atomic on POSIX file systems). A process killed mid-write leaves only a
/// temporary file, named so that ``removeLeftovers(in:)`` recognises it.
enum AtomicFile {
    static let temporarySuffix = ".panel-tmp"

    /// Appends to the temporary file.
    struct Writer {
        let descriptor: Int32
        let destination: String

        func append(_ text: String) throws {
            var text = text
            try text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let result = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if result < 0 {
                        if errno == EINTR { continue }
                        throw AtomicFileError(path: destination, operation: "write", code: errno)
                    }
                    offset += result
                }
            }
        }
    }

    static func write(_ text: String, to path: String) throws {
        try write(to: path) { try $0.append(text) }
    }

    /// Writes what `body` appends (in as many pieces as it likes) as one file at `path`, or leaves the
    /// destination as it was when anything fails. Paths stay strings: a batch writes hundreds of
    /// files, and Foundation's URL arithmetic per file was a measurable share of its CPU.
    static func write(to path: String, _ body: (Writer) throws -> Void) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = "\(directory).\(name).\(getpid())\(temporarySuffix)"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFileError(path: path, operation: "create", code: errno) }
        do {
            defer { close(descriptor) }
            try body(Writer(descriptor: descriptor, destination: path))
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw AtomicFileError(path: path, operation: "rename into place", code: code)
        }
    }

    /// Deletes temporary files a killed run left in `directory`; returns how many.
    @discardableResult
    static func removeLeftovers(in directory: URL) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var removed = 0
        for name in names where name.hasPrefix(".") && name.hasSuffix(temporarySuffix) {
            if unlink(directory.appendingPathComponent(name).path) == 0 { removed += 1 }
        }
        return removed
    }
}

struct AtomicFileError: Error, CustomStringConvertible {
    var path: String
    var operation: String
    var code: Int32
    var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
}
