import Foundation
import ModelBackends
import PanelEngine
import Testing

/// What panel writes never destroys what it did not write: a regular file is replaced whole or not at
/// all, anything else — a FIFO, a symbolic link — is written in place, and a planted file cannot
/// redirect the write. (Files made by the test; never a real device: CI runs as root.)
@Suite(.timeLimit(.minutes(5)))
struct AtomicFileTests {
    @Test func aSymbolicLinkIsWrittenThroughNotReplaced() throws {
        let workspace = try Workspace()
        let target = try workspace.write("target.md", "old")
        let link = workspace.file("link.md")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try AtomicFile.write("new document", to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new document")
    }

    @Test func aFIFOIsWrittenInPlace() async throws {
        let workspace = try Workspace()
        let fifo = workspace.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        // A reader on the other end, as `panel review -o pipe` would have one.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [fifo]
        let output = Pipe()
        reader.standardOutput = output
        try reader.run()
        try AtomicFile.write("through the pipe\n", to: fifo)
        reader.waitUntilExit()
        let received = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(received == "through the pipe\n")
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)  // still a FIFO
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.path) == ["pipe"])  // no stray file
    }

    @Test func aPlantedLinkAtATemporaryNameRedirectsNothing() throws {
        let workspace = try Workspace()
        let victim = try workspace.write("victim.txt", "keep me")
        // The name the old writer used: `.NAME.PID.panel-tmp`, predictable.
        let planted = workspace.file(".review.md.\(getpid()).panel-tmp")
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        try AtomicFile.write("the document", to: workspace.file("review.md"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me")
        #expect(try String(contentsOfFile: workspace.file("review.md"), encoding: .utf8) == "the document")
    }

    @Test func aDirectoryIsNeverWrittenOver() throws {
        let workspace = try Workspace()
        let directory = workspace.file("dir")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        #expect(throws: AtomicFileError.self) { try AtomicFile.write("x", to: directory) }
    }

    /// Leftovers of an interrupted run are removed; a live process's temporary file is not (a second
    /// batch writing into the same directory had its write-check file removed under it).
    @Test func onlyADeadWritersTemporaryFilesAreLeftovers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("panel-leftovers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let live = "\(directory)/.a.md.\(getpid()).42.panel-tmp"
        let dead = "\(directory)/.b.md.2147483646.42.panel-tmp"
        for path in [live, dead] { _ = FileManager.default.createFile(atPath: path, contents: Data()) }
        #expect(AtomicFile.removeLeftovers(in: directory) == 1)
        #expect(FileManager.default.fileExists(atPath: live) && !FileManager.default.fileExists(atPath: dead))
    }
}
