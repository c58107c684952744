import Foundation
public import PanelKit

/// One row of a batch: a listing, or why it could not be read.
public struct BatchRow: Sendable {
    /// Stable identity across runs: the file path, or `file:line` for JSON Lines.
    public var key: String
    public var listing: Result<Listing, ListingError>

    public init(key: String, listing: Result<Listing, ListingError>) {
        self.key = key
        self.listing = listing
    }
}

/// Reads batch inputs lazily — a directory of listing files, JSON Lines files (one listing per
/// line), or listing files — so memory stays flat whatever the batch size.
public struct BatchInputs: Sequence, Sendable {
    public var paths: [String]

    public init(paths: [String]) { self.paths = paths }

    public func makeIterator() -> AnyIterator<BatchRow> {
        var pending = paths[...]
        var lines: AnyIterator<(Int, Line)>?
        var jsonlPath = ""
        var directoryFiles: [String] = []
        return AnyIterator {
            while true {
                if let iterator = lines {
                    if let (number, content) = iterator.next() {
                        let key = "\(jsonlPath):\(number)"
                        let line: String
                        switch content {
                        case .text(let text): line = text
                        case .tooLong:
                            return BatchRow(
                                key: key,
                                listing: .failure(
                                    ListingError(
                                        file: key,
                                        problem: "is longer than \(ListingLoader.maxBytes / 1024) KiB; a listing is a page of text")))
                        case .notUTF8:
                            return BatchRow(
                                key: key, listing: .failure(ListingError(file: key, problem: "is not UTF-8 text; save the file as UTF-8")))
                        }
                        if Self.isBlank(line) { continue }
                        return BatchRow(
                            key: key, listing: Result { () throws(ListingError) in try ListingLoader.parseJSON(line, source: key) })
                    }
                    lines = nil
                }
                if !directoryFiles.isEmpty {
                    let file = directoryFiles.removeFirst()
                    if file.hasSuffix(".jsonl") {
                        (jsonlPath, lines) = (file, Self.lines(of: file))
                        continue
                    }
                    return BatchRow(key: file, listing: Result { () throws(ListingError) in try ListingLoader.load(path: file) })
                }
                guard let path = pending.popFirst() else { return nil }
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                    directoryFiles = Self.listingFiles(in: path)
                    continue
                }
                if path.hasSuffix(".jsonl") {
                    guard FileManager.default.isReadableFile(atPath: path) else {
                        return BatchRow(key: path, listing: .failure(ListingError(file: path, problem: "no such file")))
                    }
                    (jsonlPath, lines) = (path, Self.lines(of: path))
                    continue
                }
                return BatchRow(key: path, listing: Result { () throws(ListingError) in try ListingLoader.load(path: path) })
            }
        }
    }

    /// A JSON Lines line with nothing but white space, skipped (and not counted) rather than reported.
    static func isBlank(_ line: String) -> Bool {
        line.unicodeScalars.allSatisfy(\.properties.isWhitespace)
    }

    /// The listing and JSON Lines files of a directory, sorted by name.
    static func listingFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().filter { name in
            let ext = URL(fileURLWithPath: name).pathExtension.lowercased()
            return ListingLoader.fileExtensions.contains(ext) || ext == "jsonl"
        }.map { URL(fileURLWithPath: directory).appendingPathComponent($0).path }
    }

    /// Lines of a file, read in chunks, numbered from 1; a line longer than a listing may be is nil (its
    /// bytes are skipped up to the next line in constant memory; a file with no line end for 64 times
    /// that — `/dev/zero` — is not read further).
    ///
    /// Linear in the file: each byte is looked at once (the reader used to search its whole buffer
    /// again after every read — a 10 MB line took 14 s).
    /// A line of a JSON Lines file as read.
    enum Line {
        case text(String)
        case tooLong
        case notUTF8
    }

    static func lines(of path: String, maxLine: Int = ListingLoader.maxBytes) -> AnyIterator<(Int, Line)> {
        func line(_ bytes: ArraySlice<UInt8>) -> Line {
            // Invalid UTF-8 is reported, not silently replaced.
            String(validating: bytes, as: UTF8.self).map(Line.text) ?? .notUTF8
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { return AnyIterator { nil } }
        var buffer: [UInt8] = []
        var start = 0  // where the current line begins in `buffer`
        var scanned = 0  // bytes of the current line already searched for a newline
        var skipping = false  // inside a line too long to keep
        var skipped = 0  // bytes of that line dropped so far
        var number = 0
        var finished = false
        return AnyIterator {
            while true {
                if let newline = buffer[(start + scanned)...].firstIndex(of: 0x0A) {
                    defer {
                        start = newline + 1
                        scanned = 0
                    }
                    number += 1
                    if skipping {
                        skipping = false
                        skipped = 0
                        return (number, .tooLong)
                    }
                    return (number, line(buffer[start..<newline]))
                }
                scanned = buffer.count - start
                if finished {
                    guard start < buffer.count || skipping else { return nil }
                    number += 1
                    defer {
                        buffer.removeAll()
                        start = 0
                        scanned = 0
                        skipping = false
                    }
                    return skipping ? (number, .tooLong) : (number, line(buffer[start...]))
                }
                if scanned > maxLine {
                    // Too long to be a listing: drop what is held and skip to the next newline — or stop
                    // reading when none comes.
                    skipping = true
                    skipped += scanned
                    if skipped > 64 * maxLine { finished = true }
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                    scanned = 0
                } else if start > 0 {
                    buffer.removeFirst(start)
                    start = 0
                }
                if finished { continue }
                let chunk = handle.readData(ofLength: 64 * 1024)
                if chunk.isEmpty { finished = true } else { buffer.append(contentsOf: chunk) }
            }
        }
    }
}

extension BatchInputs {
    /// How many rows the inputs hold, counted without parsing any listing (for the progress bar).
    public func rowCount() -> Int {
        var count = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                count += 1
                continue
            }
            let files: [String]
            if isDirectory.boolValue {
                files = Self.listingFiles(in: path)
            } else {
                files = [path]
            }
            for file in files {
                if file.hasSuffix(".jsonl") {
                    count += Self.lines(of: file).reduce(0) { count, line in
                        if case .text(let text) = line.1, Self.isBlank(text) { return count }
                        return count + 1
                    }
                } else {
                    count += 1
                }
            }
        }
        return count
    }
}
