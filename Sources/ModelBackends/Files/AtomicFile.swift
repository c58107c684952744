import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole files or nothing: the bytes go to a temporary file next to the destination, which is then
/// renamed over it (atomic on POSIX file systems). A process killed mid-write leaves only a
/// temporary file, named so that ``removeLeftovers(in:)`` recognises it.
///
/// The temporary file is created exclusively under an unpredictable name and never through a
/// symbolic link, so nothing planted beside the destination can redirect the write.
public enum AtomicFile {
    static let temporarySuffix = ".panel-tmp"

    /// Appends to the temporary file.
    public struct Writer {
        let descriptor: Int32
        let destination: String

        public func append(_ text: String) throws {
            var text = text
            try text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let result = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if result < 0 {
                        if errno == EINTR { continue }
                        throw AtomicFileError(path: destination, operation: "write", code: errno)
                    }
                    offset += result
                }
            }
        }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(to: path) { try $0.append(text) }
    }

    /// Writes what `body` appends (in as many pieces as it likes) as one file at `path`, or leaves the
    /// destination as it was when anything fails. Paths stay strings: a batch writes hundreds of
    /// files, and Foundation's URL arithmetic per file was a measurable share of its CPU.
    public static func write(to path: String, _ body: (Writer) throws -> Void) throws {
        if let inPlace = try openInPlace(path) {
            defer { close(inPlace) }
            try body(Writer(descriptor: inPlace, destination: path))
            return
        }
        let (descriptor, temporary) = try createTemporary(for: path)
        do {
            defer { close(descriptor) }
            try body(Writer(descriptor: descriptor, destination: path))
        } catch {
            unlink(temporary)
            throw error
        }
        try moveIntoPlace(temporary, path)
    }

    /// The same, for a body that waits on something (a store streamed into the file).
    public static func write(to path: String, _ body: (Writer) async throws -> Void) async throws {
        if let inPlace = try openInPlace(path) {
            defer { close(inPlace) }
            try await body(Writer(descriptor: inPlace, destination: path))
            return
        }
        let (descriptor, temporary) = try createTemporary(for: path)
        do {
            defer { close(descriptor) }
            try await body(Writer(descriptor: descriptor, destination: path))
        } catch {
            unlink(temporary)
            throw error
        }
        try moveIntoPlace(temporary, path)
    }

    /// A destination that is not a regular file — a FIFO, a device such as `/dev/stdout`, a symbolic
    /// link — is written in place (through the link), never replaced by a regular file: a descriptor for
    /// it, or nil when the destination is a regular file or does not exist (written whole, by rename).
    static func openInPlace(_ path: String) throws -> Int32? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let type = info.st_mode & S_IFMT
        guard type != S_IFREG else { return nil }
        if type == S_IFDIR { throw AtomicFileError(path: path, operation: "write to a directory at", code: EISDIR) }
        let descriptor = open(path, O_WRONLY | O_CLOEXEC | (type == S_IFLNK ? O_TRUNC : 0))
        guard descriptor >= 0 else { throw AtomicFileError(path: path, operation: "open", code: errno) }
        return descriptor
    }

    /// A new temporary file beside `path`, created exclusively under an unpredictable name.
    static func createTemporary(for path: String) throws -> (Int32, String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var descriptor: Int32 = -1
        var temporary = ""
        for _ in 0..<8 {
            temporary = "\(directory).\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max))\(temporarySuffix)"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        guard descriptor >= 0 else { throw AtomicFileError(path: path, operation: "create", code: errno) }
        return (descriptor, temporary)
    }

    static func moveIntoPlace(_ temporary: String, _ path: String) throws {
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw AtomicFileError(path: path, operation: "rename into place", code: code)
        }
    }

    /// Deletes temporary files a killed run left in `directory`; returns how many.
    @discardableResult
    public static func removeLeftovers(in directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed = 0
        for name in names where name.hasPrefix(".") && name.hasSuffix(temporarySuffix) && !isWritersLive(name) {
            if unlink(directory + "/" + name) == 0 { removed += 1 }
        }
        return removed
    }

    /// Whether the process that is writing a temporary file (its name carries the pid:
    /// `.NAME.PID.RANDOM.panel-tmp`) still runs: another batch writing into the same directory is not
    /// an interrupted run, and its file is not removed under it.
    static func isWritersLive(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 3]), pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }
}

/// The C library's `write(2)`, named apart from ``AtomicFile/write(to:_:)``.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// A file panel could not write: which file, what step, and the system's reason.
public struct AtomicFileError: Error, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32
    public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
}
