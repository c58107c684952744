public import Foundation
import PanelEngine
import PanelPostgres
import PanelStore

/// Where a store is and the one place one is opened from it — a SQLite file or a PostgreSQL URL —
/// for every front end.
public enum Stores {
    /// The SQLite file used when nothing names another.
    public static let defaultPath = PanelStore.defaultPath

    /// `flag` (`--store`), else `PANEL_STORE`, else the default SQLite file.
    public static func location(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        flag ?? environment["PANEL_STORE"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultPath
    }

    /// A `postgres://` or `postgresql://` URL.
    public static func isPostgres(_ location: String) -> Bool { PostgresLocation.isURL(location) }

    /// Opens the store, with a message that says what to do when it cannot be opened (never a password);
    /// `alternative` is the front end's own way around it (", or use --no-cache"). A command that only
    /// reads passes `mustExist`: it never makes a new SQLite store.
    /// `patience`: how long a PostgreSQL server that cannot be reached or is restarting is waited for
    /// (a worker or server started with the database, or during its restart), said once through `onWait`.
    public static func open(
        _ location: String, alternative: String = "", mustExist: Bool = false, patience: Duration = .zero,
        onWait: (String) -> Void = { _ in }
    ) async throws(RuntimeError)
        -> any ReviewStore
    {
        if isPostgres(location) {
            let deadline = ContinuousClock.now + patience
            var attempt = 0
            while true {
                do {
                    return try await PostgresStore.open(url: location)
                } catch let error as PostgresStoreError
                    where error.transient && patience > .zero && (attempt == 0 || ContinuousClock.now < deadline)
                {
                    // At least one more try with any patience, however long the first took (a busy machine).
                    attempt += 1
                    if attempt == 1 { onWait("--store \(error); waiting up to \(Int(patience.seconds)) s for it") }
                    try? await Task.sleep(for: RetryPolicy.storeOutage.backoff(after: attempt))
                } catch {
                    throw RuntimeError("--store \(error); fix the URL or the server\(alternative)")
                }
            }
        }
        if mustExist, !FileManager.default.fileExists(atPath: location) {
            throw RuntimeError("--store \(location): no such store (panel batch makes one; PANEL_STORE or --store names another)")
        }
        do {
            return try PanelStore(path: location)
        } catch {
            let reason = (error as? StoreError)?.problem ?? "\(error)"
            throw RuntimeError("--store \(location): \(reason); fix the path\(alternative)")
        }
    }

    /// Copies a SQLite store into a PostgreSQL one, table by table, rows already there left as they are;
    /// a line per table says what was copied.
    public static func copy(from: String, to: String) async throws(RuntimeError) -> (destination: String, lines: [String]) {
        let source: PanelStore
        let destination: PostgresStore
        do {
            source = try PanelStore(path: from)
            destination = try await PostgresStore.open(url: to)
        } catch {
            throw RuntimeError("\(error)")
        }
        var lines: [String] = []
        do {
            for table in StoreTable.all {
                var read = 0
                var added = 0
                var page = 0
                while true {
                    let rows = try source.rows(of: table, after: page)
                    if rows.isEmpty { break }
                    read += rows.count
                    added += try await destination.insert(rows, into: table)
                    page += 1
                }
                lines.append("\(table.name): \(added) copied, \(read - added) already there")
            }
        } catch {
            await destination.close()
            throw RuntimeError("copying into \(destination.location): \(error)", copying: true)
        }
        await destination.close()
        return (destination.location, lines)
    }
}

/// Why the engine could not be set up, in words a user acts on: the file, field, backend or store, and
/// what to do. Several problems found at once are all said.
public struct RuntimeError: Error, CustomStringConvertible {
    public var problems: [String]
    /// A failure while copying (work started), as opposed to a bad invocation.
    public var copying: Bool

    public init(_ problem: String, copying: Bool = false) {
        self.problems = [problem]
        self.copying = copying
    }

    public init(problems: [String]) {
        self.problems = problems
        self.copying = false
    }

    public var description: String { problems.joined(separator: "\n") }
}
