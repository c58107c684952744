import ArgumentParser
import Foundation
import PanelRuntime

/// `--store PATH|URL` (else `PANEL_STORE`, else the default SQLite file), for every command that takes
/// one; the store is opened by ``Stores``.
struct StoreOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The store: a SQLite file (default \(Stores.defaultPath)) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB (also PANEL_STORE).",
            valueName: "PATH|URL"))
    var store: String?

    /// `--store`, else `PANEL_STORE`, else the default SQLite file.
    var location: String { Stores.location(store) }

    /// Opens the store, with a message that says what to do when it cannot be opened (never a password).
    func open(alternative: String = "", mustExist: Bool = false) async throws -> any ReviewStore {
        do {
            return try await Stores.open(location, alternative: alternative, mustExist: mustExist)
        } catch {
            throw ConfigurationError(error.description)
        }
    }
}
