import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One `panel serve` per SQLite store: its reviews asked over HTTP run in the serving process, so a
/// second server on the same file would run them again. An exclusive `flock` on a file beside the
/// store, held for the life of the process (the kernel drops it when the process ends, however it
/// ends), with the holder's process id in it for the message.
public final class ServeLock: Sendable {
    let descriptor: Int32
    public let path: String

    /// Takes the lock for the store at `storePath`; fails naming the file and the process that holds it.
    public init(storePath: String) throws(ServeLockError) {
        path = storePath + ".serve.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ServeLockError(description: "\(path): cannot open the server lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(descriptor, &buffer, buffer.count)
            let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw ServeLockError(
                description:
                    "\(storePath) is served by another panel serve (process \(holder.isEmpty ? "unknown" : holder)): two servers on one SQLite store would run the same reviews twice; stop that one, or share a PostgreSQL store (--store postgres://…) to run several"
            )
        }
        ftruncate(descriptor, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}

public struct ServeLockError: Error, CustomStringConvertible {
    public let description: String
}
