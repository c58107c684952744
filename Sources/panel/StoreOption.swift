import ArgumentParser
import Foundation
import PanelEngine
import PanelPostgres
import PanelStore

/// `--store PATH|URL` (else `PANEL_STORE`, else the default SQLite file), and the one place a store is
/// opened from it — SQLite or PostgreSQL — for every command that takes one.
struct StoreOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The store: a SQLite file (default \(PanelStore.defaultPath)) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB (also PANEL_STORE).",
            valueName: "PATH|URL"))
    var store: String?

    /// `--store`, else `PANEL_STORE`, else the default SQLite file.
    var location: String {
        store ?? ProcessInfo.processInfo.environment["PANEL_STORE"].flatMap { $0.isEmpty ? nil : $0 } ?? PanelStore.defaultPath
    }

    /// Opens the store, with a message that says what to do when it cannot be opened (never a password);
    /// `alternative` is the command's own way around it (", or use --no-cache"). A command that only
    /// reads (`panel jobs`) passes `mustExist`: it never makes a new SQLite store.
    func open(alternative: String = "", mustExist: Bool = false) async throws -> any ReviewStore {
        let location = location
        if PostgresLocation.isURL(location) {
            do {
                return try await PostgresStore.open(url: location)
            } catch {
                throw ConfigurationError("--store \(error); fix the URL or the server\(alternative)")
            }
        }
        if mustExist, !FileManager.default.fileExists(atPath: location) {
            throw ConfigurationError("--store \(location): no such store (panel batch makes one; PANEL_STORE or --store names another)")
        }
        do {
            return try PanelStore(path: location)
        } catch {
            let reason = (error as? StoreError)?.problem ?? "\(error)"
            throw ConfigurationError("--store \(location): \(reason); fix the path\(alternative)")
        }
    }
}
